"""The engine end to end: real spec, real processes, real SQLite file."""

import textwrap

from hpo.engine.loop import Engine
from hpo.engine.composition import create_group
from hpo.spec import parse_spec
from hpo.eventlog.state import GroupState

from .conftest import python_cmd

SEED_GRID = """
settings:
  grid_search:
    n_experiments: 10
  concurrency: 2
  matrix:
    learning_rate:
      linspace: 0.001:0.1:5
    dropout:
      values: [0.25, 0.3]
    activation:
      values: [relu, sigmoid]
run:
  cmd: {cmd}
"""


def make(store, workdir, yaml_text, seed=0):
    spec = parse_spec(yaml_text, source=str(workdir / "spec.yaml"))
    return create_group(store, spec, seed=seed, source=yaml_text, source_path=str(workdir / "spec.yaml"))


def test_seed_grid_example_runs_first_ten_in_order(store, workdir):
    gid = make(store, workdir, SEED_GRID.format(cmd=python_cmd()))
    state = Engine(store, gid, poll_interval=0.01).run()
    assert state.status == "succeeded"
    trials = [state.trials[i] for i in sorted(state.trials)]
    assert len(trials) == 10 and all(t.status == "succeeded" for t in trials)
    lrs = [0.001, 0.02575, 0.0505, 0.07525, 0.1]
    expected = [
        {"learning_rate": lr, "dropout": d, "activation": a}
        for lr in lrs for d in (0.25, 0.3) for a in ("relu", "sigmoid")
    ][:10]
    got = [t.params for t in trials]
    assert [p["dropout"] for p in got] == [p["dropout"] for p in expected]
    assert [p["activation"] for p in got] == [p["activation"] for p in expected]
    assert [round(p["learning_rate"], 6) for p in got] == [round(p["learning_rate"], 6) for p in expected]
    for t in trials:
        assert t.metrics["score"] is not None and t.exit_code == 0
    types = [s.type for s in store.read(gid)]
    assert types.count("GroupCreated") == 1
    assert types.count("Suggested") == 10
    assert types.count("MetricReported") == 20
    assert types[-1] == "GroupFinished"


def test_concurrency_is_never_exceeded(store, workdir):
    yaml_text = textwrap.dedent(f"""
    settings:
      concurrency: 3
      matrix:
        x: {{values: [1, 2, 3, 4, 5, 6, 7]}}
        sleep: {{values: [0.2]}}
    run:
      cmd: {python_cmd()}
    """)
    gid = make(store, workdir, yaml_text)
    Engine(store, gid, poll_interval=0.01).run()
    running, peak = 0, 0
    for s in store.read(gid):
        if s.type == "TrialLaunched":
            running += 1
        elif s.type == "TrialFinished":
            running -= 1
        peak = max(peak, running)
    assert peak == 3


def test_a_failing_trial_does_not_stop_the_group(store, workdir):
    yaml_text = textwrap.dedent(f"""
    settings:
      concurrency: 2
      matrix:
        fail: {{values: [0, 1, 2]}}
    run:
      cmd: {python_cmd()}
    """)
    gid = make(store, workdir, yaml_text)
    state = Engine(store, gid, poll_interval=0.01).run()
    assert state.status == "succeeded"
    assert [state.trials[i].status for i in (1, 2, 3)] == ["succeeded", "failed", "succeeded"]
    assert state.trials[2].exit_code == 3 and "code 3" in state.trials[2].reason


def test_all_trials_failing_fails_the_group(store, workdir):
    yaml_text = "settings:\n  matrix:\n    x: {values: [1, 2]}\nrun:\n  cmd: exit 1\n"
    gid = make(store, workdir, yaml_text)
    state = Engine(store, gid, poll_interval=0.01).run()
    assert state.status == "failed" and "all 2 trials failed" in state.reason


def test_random_search_is_deterministic_per_seed(store, workdir):
    yaml_text = textwrap.dedent(f"""
    settings:
      random_search: {{n_experiments: 4, concurrency: 2}}
      matrix:
        learning_rate: {{uniform: 0.001:0.01}}
        activation: {{pvalues: [(relu, 0.2), (sigmoid, 0.8)]}}
    run:
      cmd: {python_cmd()}
    """)
    a = Engine(store, make(store, workdir, yaml_text, seed=0), poll_interval=0.01).run()
    b = Engine(store, make(store, workdir, yaml_text, seed=0), poll_interval=0.01).run()
    c = Engine(store, make(store, workdir, yaml_text, seed=1), poll_interval=0.01).run()
    params = lambda s: [s.trials[i].params for i in sorted(s.trials)]  # noqa: E731
    assert params(a) == params(b) != params(c)
    assert len({str(p) for p in params(a)}) == 4


def test_state_fold_from_log_equals_engine_state(store, workdir):
    gid = make(store, workdir, SEED_GRID.format(cmd=python_cmd()))
    live = Engine(store, gid, poll_interval=0.01).run()
    folded = GroupState.fold(store.read(gid))
    assert folded.trials == live.trials and folded.status == live.status


def test_params_reach_the_command_env_and_api(store, workdir):
    (workdir / "show.py").write_text(
        "import os, sys, json, hpo\n"
        "assert json.loads(os.environ['HPO_PARAMS']) == hpo.params()\n"
        "hpo.report(cli=float(sys.argv[1]), api=hpo.params()['lr'], const=hpo.params()['batch'])\n"
    )
    import sys

    yaml_text = textwrap.dedent(f"""
    declarations:
      batch: 32
    settings:
      matrix:
        lr: {{values: [0.5]}}
    run:
      cmd: {sys.executable} show.py {{{{ lr }}}}
    """)
    gid = make(store, workdir, yaml_text)
    state = Engine(store, gid, poll_interval=0.01).run()
    assert state.trials[1].metrics == {"cli": 0.5, "api": 0.5, "const": 32.0}


def test_a_launch_round_is_two_transactions_and_each_suggestion_saw_the_ones_before(store, workdir):
    """Suggestions of a round: one append, each recording the version it saw (replay rebuilds
    that history); their launches: one append after the starts; never a launch before its
    suggestion is in the log."""
    from hpo.engine.lifecycle import replay_check

    yaml_text = textwrap.dedent("""
    settings:
      concurrency: 4
      random_search: {n_experiments: 8}
      matrix:
        x: {uniform: [0, 1]}
    run:
      cmd: sleep 0.3
    """)
    gid = make(store, workdir, yaml_text)
    state = Engine(store, gid, poll_interval=0.01).run()
    assert state.status == "succeeded" and len(state.trials) == 8
    events = store.read(gid)
    first = [s for s in events if s.type == "Suggested"][:4]
    assert len({s.seq - s.version for s in first}) == 1 and len({s.ts for s in first}) == 1
    assert [s.event.seen_version for s in first] == [s.version - 1 for s in first]
    launched = [s for s in events if s.type == "TrialLaunched"][:4]
    assert len({s.ts for s in launched}) == 1 and launched[0].version == first[-1].version + 1
    suggested_at = {s.event.trial_id: s.seq for s in events if s.type == "Suggested"}
    assert all(suggested_at[s.event.trial_id] < s.seq for s in events if s.type == "TrialLaunched")
    checked, mismatches = replay_check(store, gid)
    assert checked == 8 and mismatches == []
    for tr in state.trials.values():  # the wrapper wrote each attempt's files
        assert {p.name for p in (workdir / tr.trial_dir).iterdir()} == {"stdout.log", "stderr.log", "exit_code"}


def test_history_stays_in_trial_order_when_a_round_suggests_several_trials():
    """The engine folds a round's suggestions together; the history must still list trials in
    id order (a set of dirty ids iterates 8 before 7)."""
    from hpo.eventlog import events as ev
    from hpo.eventlog.store import Stored

    state, version = GroupState(), 0

    def fold(*trial_ids):
        nonlocal version
        for tid in trial_ids:
            version += 1
            e = ev.Suggested(trial_id=tid, params={"x": tid}, searcher="grid", searcher_version="1",
                             seed=0, seen_version=version - 1)
            state.apply(Stored(version, "g", version, "2026-11-27T00:00:00+00:00", "w", e))

    fold(1, 2, 3, 4, 5, 6)
    state.history()
    fold(7, 8)
    state.history()
    fold(9)
    assert [t.trial_id for t in state.history().trials] == list(range(1, 10))


def test_runner_notices_are_recorded_when_they_change(store, workdir):
    """A runner's word on the group (a host down...) reaches the log once per change, not per poll."""
    from hpo.contracts.runner import RunnerNotice

    gid = make(store, workdir, SEED_GRID.format(cmd=python_cmd()).replace("n_experiments: 10", "n_experiments: 4"))
    engine = Engine(store, gid, poll_interval=0.01)
    real_poll, polls = engine.runner.poll, []

    def poll():
        messages = list(real_poll())
        polls.append(1)
        if len(polls) <= 3:
            messages.append(RunnerNotice("host h1 is down", {"host": "h1", "tries": 3, "error": OSError(113)}))
        elif len(polls) == 4:
            messages.append(RunnerNotice("host h1 is back"))
        return messages

    engine.runner.poll = poll
    state = engine.run()
    assert state.status == "succeeded" and len(polls) > 4
    notices = [s.event for s in store.read(gid) if s.type == "RunnerNoticed"]
    assert [(n.runner, n.message) for n in notices] == [("local", "host h1 is down"), ("local", "host h1 is back")]
    assert notices[0].details == {"host": "h1", "tries": 3, "error": "113"}
    assert GroupState.fold(store.read(gid)).notices[-1]["message"] == "host h1 is back"
