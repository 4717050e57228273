"""One definition of "best" and one ranking, used by every view and the Python API."""

import json
import sys
import textwrap

from click.testing import CliRunner

import hpo
from hpo.cli import cli
from hpo.eventlog.ranking import best, ranked
from hpo.eventlog.state import GroupState, TrialState
from hpo.eventlog.store import EventStore

from .conftest import run_group

# trial 3 reports the best value, then fails: it must never be called best
SCRIPT = textwrap.dedent("""
    import sys, hpo
    acc = [0.9, 0.9583, 0.9722, 0.95, 0.9583][hpo.params()["i"] - 1]
    hpo.report(step=1, acc=acc / 2)
    hpo.report(step=2, acc=acc)
    if acc == 0.9722:
        sys.exit(2)
""")

SPEC = """
name: {name}
settings:
  concurrency: 1
  metric: {{name: acc, optimization: maximize}}
  matrix:
    i: {{values: [1, 2, 3, 4, 5]}}
run:
  cmd: {python} rank.py
"""


def _state(metric, trials):
    state = GroupState(spec={"metric": metric} if metric else {})
    for t in trials:
        state.trials[t.trial_id] = t
    return state


def _trial(i, status, value, **kw):
    t = TrialState(i, {}, dict(kw.pop("meta", {})), status=status, **kw)
    if value is not None:
        t.metrics["loss"] = value
    return t


def test_failed_paused_and_user_stopped_trials_are_never_ranked():
    state = _state({"name": "loss", "optimization": "minimize"}, [
        _trial(1, "succeeded", 0.5),
        _trial(2, "failed", 0.1),
        _trial(3, "stopped", 0.2, resumable=True),  # a pause: it runs again
        _trial(4, "stopped", 0.3, stop_decision={"policy": "user"}),
        _trial(5, "stopped", 0.4, stop_decision={"policy": "median"}),
        _trial(6, "succeeded", float("nan")),
        _trial(7, "running", 0.0),
    ])
    assert [t.trial_id for t in ranked(state)] == [5, 1]
    assert best(state).trial_id == 5 and state.best().trial_id == 5


def test_ties_go_to_the_lowest_trial_id_and_larger_resources_rank_first():
    state = _state({"name": "loss", "optimization": "minimize"}, [
        _trial(1, "succeeded", 0.2, meta={"resource": 1}),
        _trial(2, "succeeded", 0.5, meta={"resource": 9}),
        _trial(3, "succeeded", 0.4, meta={"resource": 9}),
        _trial(4, "succeeded", 0.4, meta={"resource": 9}),
        _trial(5, "succeeded", 0.3, meta={"resource": 3}),
    ])
    assert [t.trial_id for t in ranked(state)] == [3, 4, 2, 5, 1]
    assert best(state).trial_id == 3


def test_every_view_and_the_api_name_the_same_best_trial(workdir):
    (workdir / "rank.py").write_text(SCRIPT)
    db = workdir / ".hpo" / "hpo.db"
    with EventStore(db) as store:
        run_group(store, workdir, SPEC.format(name="ranked", python=sys.executable))
    runner = CliRunner()

    def cli_json(*args):
        result = runner.invoke(cli, [*args, "--db", str(db)])
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)

    trials = cli_json("trials", "ranked", "--top", "4", "--json")
    # the failed trial 3 (0.9722) comes after every ranked trial; 2 and 5 tie, 2 first
    assert [(r["trial"], r["rank"]) for r in trials] == [(2, 1), (5, 2), (4, 3), (1, 4)]
    everything = cli_json("trials", "ranked", "--json")
    assert everything[-1]["trial"] == 3 and everything[-1]["rank"] is None
    assert cli_json("status", "ranked", "--json")["best"]["trial"] == 2
    assert cli_json("list", "--json")[0]["best"]["trial"] == 2
    assert [r["best"]["trial"] for r in cli_json("compare", "ranked", "ranked", "--json")] == [2, 2]
    export = runner.invoke(cli, ["export", "ranked", "--db", str(db)])
    ranks = {r["trial"]: r["rank"] for r in json.loads(export.stdout)}
    assert ranks == {1: 4, 2: 1, 3: None, 4: 3, 5: 2}
    out = workdir / "r.html"
    assert runner.invoke(cli, ["report", "ranked", "--db", str(db), "-o", str(out)]).exit_code == 0
    html = out.read_text()
    board = html[html.index('class="leaderboard"'):]
    first_row = board[board.index("<tr><td>"):]
    assert first_row.startswith("<tr><td>1</td><td>2</td>")
    assert "trial 2: <b>0.9583</b>" in html
    group = hpo.load_group("ranked", db=db)
    assert group.best.id == 2
    frame = group.trials_dataframe()
    rank_of = dict(zip(frame["trial"], frame["rank"]))
    assert rank_of[2] == 1 and (rank_of[3] is None or rank_of[3] != rank_of[3])  # None or NaN
