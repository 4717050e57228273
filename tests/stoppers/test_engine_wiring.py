"""The built-in stoppers through the real spec parser, engine and event log (no fakes)."""

import sys
import textwrap

import pytest

from hpo.engine.loop import Engine
from hpo.engine.composition import build_stoppers, create_group
from hpo.contracts.registry import Registry
from hpo.spec import parse_spec
from hpo.eventlog.store import EventStore

SCRIPT = textwrap.dedent(
    """
    import sys
    import hpo
    p = hpo.params()
    for step in range(1, 4):
        hpo.report(step=step, score=p["x"] * step / 3)
    sys.exit(1 if p.get("fail") else 0)
    """
)


@pytest.fixture
def store(tmp_path):
    (tmp_path / "train.py").write_text(SCRIPT)
    s = EventStore(tmp_path / ".hpo" / "hpo.db")
    yield s
    s.close()


def run_group(store, tmp_path, body):
    text = textwrap.dedent(body).format(cmd=f"{sys.executable} train.py")
    spec = parse_spec(text, source=str(tmp_path / "spec.yaml"))
    gid = create_group(store, spec, seed=0, source=text, source_path=str(tmp_path / "spec.yaml"))
    return gid, Engine(store, gid, poll_interval=0.01).run()


def test_spec_entries_build_every_builtin():
    spec = parse_spec(textwrap.dedent("""
        matrix: {lr: {values: [0.1]}}
        metric: {name: loss, optimization: minimize}
        run: {cmd: train}
        early_stopping:
          - {metric: accuracy, value: 0.9, optimization: maximize}
        stopping:
          - {kind: failures, max_failed: 3}
          - {kind: budget, max_duration: 2h}
          - {kind: median, min_steps: 5}
          - {kind: truncation, percent: 25, every: 10}
          - {kind: threshold, margin: 0.1, relative: true}
          - {kind: asha, min_resource: 1, max_resource: 81, reduction_factor: 3}
    """))
    built = build_stoppers(spec, Registry())
    assert [s.name for s in built] == ["early_stopping", "failures", "budget", "median",
                                       "truncation", "threshold", "asha"]
    assert built[3].target.name == "loss" and built[2].config.max_duration == 7200.0


def test_seed_early_stopping_ends_the_group_as_succeeded(store, tmp_path):
    gid, state = run_group(store, tmp_path, """
        settings:
          concurrency: 1
          matrix:
            x: {{values: [1, 3, 5]}}
          early_stopping:
            - metric: score
              value: 2
              optimization: maximize
        run:
          cmd: {cmd}
    """)
    assert state.status == "succeeded"
    # which report is named depends on how the engine batched them: 2 or 3, both reach 2
    assert "early_stopping[0]: score >= 2 reached by trial 2" in state.reason
    [stopped] = [e for e in store.read(gid) if e.type == "Stopped"]
    assert stopped.event.scope == "group"
    assert stopped.event.evidence["trial_id"] == 2 and stopped.event.policy == "early_stopping"
    assert 3 not in {t for t in state.trials if state.trials[t].status == "succeeded"}


def test_failures_end_the_group_as_failed(store, tmp_path):
    gid, state = run_group(store, tmp_path, """
        settings:
          concurrency: 1
          matrix:
            x: {{values: [1, 2, 3, 4]}}
            fail: {{values: [1]}}
        stopping:
          - kind: failures
            max_failed: 2
        run:
          cmd: {cmd}
    """)
    assert state.status == "failed"
    assert "2 trials failed (max_failed=2)" in state.reason
    assert sorted(t for t in state.trials if state.trials[t].status == "failed") == [1, 2]
