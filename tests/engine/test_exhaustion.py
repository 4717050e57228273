"""An exhausted searcher is a fact in the log (SearchExhausted), folded into the group state."""

import textwrap

from hpo.engine.loop import Engine
from hpo.eventlog.state import GroupState

from .test_engine import make

GRID = textwrap.dedent("""
settings:
  concurrency: {concurrency}
  matrix:
    x: {{values: [1, 2, 3, 4]}}
run:
  cmd: "{cmd}"
""")


def test_exhaustion_is_recorded_once_and_becomes_the_finish_reason(store, workdir):
    gid = make(store, workdir, GRID.format(concurrency=2, cmd="true"))
    state = Engine(store, gid, poll_interval=0.01).run()
    events = store.read(gid)
    exhausted = [s.event for s in events if s.type == "SearchExhausted"]
    assert len(exhausted) == 1 and exhausted[0].reason == "visited all 4 grid combinations"
    assert state.status == "succeeded" and state.exhausted == exhausted[0].reason == state.reason
    by_rows = GroupState()
    by_rows.apply_rows(store.iter_rows(gid))
    assert by_rows.exhausted == GroupState.fold(events).exhausted == state.exhausted


def test_a_resumed_exhausted_group_runs_what_is_left_without_asking_the_searcher(store, workdir):
    """Exhausted in the first round (4 points, 5 slots); paused with two trials interrupted and
    two never started; the next engine runs those four and finishes, never asking again."""
    gid = make(store, workdir, GRID.format(concurrency=5, cmd="test -e go || sleep 30"))
    first = Engine(store, gid, poll_interval=0.01)
    first.start("run")
    can_start, started = first.runner.can_start, []

    def two_only(launch):
        started.append(launch.trial_id)
        return len(started) <= 2 and can_start(launch)

    first.runner.can_start = two_only
    first.tick()
    assert first.state.exhausted and len(first.state.running()) == 2 and len(first.state.pending()) == 2
    first.pause("paused by the test", requested_by="test")
    assert first.state.status == "stopped"

    second = Engine(store, gid, poll_interval=0.01)
    asked = []
    second.searcher.suggest = lambda history: asked.append(history)
    (workdir / "go").touch()  # the trials left now end at once
    state = second.run("resume")
    assert asked == []
    assert state.status == "succeeded" and state.reason == "visited all 4 grid combinations"
    assert sorted(t.status for t in state.trials.values()) == ["succeeded"] * 4
    assert [s.type for s in store.read(gid)].count("SearchExhausted") == 1


def test_the_engine_runs_trials_with_the_runner_it_is_given(store, workdir):
    from hpo.api.ask_tell import ApiRunner

    gid = make(store, workdir, GRID.format(concurrency=2, cmd="true"))
    runner = ApiRunner()
    engine = Engine(store, gid, runner=runner)
    assert engine.runner is runner and engine.plugins.runner is runner
    assert engine.spec.runner.kind == "local"  # the log still names the spec's runner
