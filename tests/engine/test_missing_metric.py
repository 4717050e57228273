"""A trial that exits 0 without reporting the group's metric is failed, with a reason that names
what it reported and the closest name; the views warn at the first one."""

import sys
import textwrap

from rich.console import Console

from hpo.engine.loop import Engine
from hpo.engine.composition import create_group
from hpo.spec import parse_spec
from hpo.trial.outcome import missing_metric_reason, protocol_errors
from hpo.views.leaderboard import rank, ranking_records
from hpo.views.lines import LineProgress
from hpo.views.tables import leaderboard_table

WRONG_NAME = textwrap.dedent("""
    name: wrong-name
    settings:
      concurrency: 2
      metric: {{name: val_accuracy, optimization: maximize}}
      matrix:
        n: {{values: [1, 2, 3]}}
    run:
      cmd: {cmd}
""")


def make(store, workdir, text):
    spec = parse_spec(text, source=str(workdir / "spec.yaml"))
    return create_group(store, spec, seed=0, source=text, source_path=str(workdir / "spec.yaml"))


def _recorder() -> Console:
    return Console(record=True, width=200, force_terminal=False, color_system=None, highlight=False)


def test_a_wrong_metric_name_fails_every_trial_with_a_did_you_mean_reason(store, workdir):
    (workdir / "wrong.py").write_text(
        "import hpo\nfor s in (1, 2):\n    hpo.report(step=s, val_acc=0.5 + s / 10, n_trees=10)\n")
    gid = make(store, workdir, WRONG_NAME.format(cmd=f"{sys.executable} wrong.py"))
    console = _recorder()
    view = LineProgress(console)
    state = Engine(store, gid, poll_interval=0.01, listeners=[view]).run()
    assert [t.status for t in state.trials.values()] == ["failed"] * 3
    for t in state.trials.values():
        assert t.exit_code == 0
        assert t.reason == ("exited 0 without reporting the metric val_accuracy: reported n_trees, "
                            "val_acc; did you mean val_accuracy (not val_acc)?")
        assert t.metrics["val_acc"] == 0.7  # what it did report stays on record
    assert state.best() is None
    out = console.export_text()
    assert out.count("warning: trial") == 1  # the first such trial warns, once
    assert "did not report the group's metric val_accuracy" in out
    assert f"hpo logs {gid} " in out


def test_malformed_report_lines_fail_the_trial_and_are_counted(store, workdir):
    # what a busybox awk printing an empty value produces: the line does not parse
    cmd = "echo '@hpo loss= '; echo '@hpo step=x loss=1'"
    text = WRONG_NAME.format(cmd=f'"{cmd}"').replace("val_accuracy", "loss").replace("maximize", "minimize")
    gid = make(store, workdir, text)
    state = Engine(store, gid, poll_interval=0.01).run()
    t = state.trials[1]
    assert t.status == "failed" and t.exit_code == 0
    assert t.reason.startswith("exited 0 without reporting the metric loss: reported no metric; "
                               "2 report lines did not parse: metric 'loss' must be a number, got ''")
    assert len(protocol_errors(t.output_tail)) == 2
    ranking = rank(state)
    assert ranking_records(ranking)[0]["protocol_errors"][1].startswith("step must be a non-negative integer")
    console = _recorder()
    console.print(leaderboard_table(state, ranking))
    header = console.export_text().splitlines()[0]
    assert "bad lines" in header


def test_a_trial_that_reports_the_metric_in_an_earlier_poll_still_succeeds(store, workdir):
    (workdir / "slow.py").write_text(
        "import time, hpo\nhpo.report(step=1, val_accuracy=0.9)\ntime.sleep(0.5)\n")
    gid = make(store, workdir, WRONG_NAME.format(cmd=f"{sys.executable} slow.py"))
    state = Engine(store, gid, poll_interval=0.01).run()
    assert all(t.status == "succeeded" for t in state.trials.values())
    assert state.best() is not None


def test_the_reason_names_what_was_reported_and_the_closest_name():
    assert missing_metric_reason("loss", []) == "exited 0 without reporting the metric loss: reported no metric"
    assert missing_metric_reason("loss", ["acc"]) == "exited 0 without reporting the metric loss: reported acc"
    assert missing_metric_reason("val_loss", ["val_los", "acc"]).endswith("did you mean val_loss (not val_los)?")
    assert protocol_errors("--- stdout.log ---\nprotocol errors:\nx") == []  # only the runner's header counts


def test_the_live_view_warns_at_the_first_trial_without_the_metric(store, workdir):
    from hpo.views.live import LiveView

    (workdir / "wrong.py").write_text("import hpo\nhpo.report(val_acc=0.5)\n")
    gid = make(store, workdir, WRONG_NAME.format(cmd=f"{sys.executable} wrong.py"))
    console = Console(record=True, width=120, force_terminal=True, color_system=None, highlight=False)
    with LiveView(console) as view:
        Engine(store, gid, poll_interval=0.01, listeners=[view]).run()
    out = console.export_text()
    assert out.count("warning: trial") == 1
    assert "✗ trial 1 failed (exited 0 without reporting the metric val_accuracy: reported val_acc" in out
