"""The live view as an engine listener, and the choice between it and plain lines."""

import re
import sys

from hpo.eventlog import events as ev
from hpo.engine.loop import Engine
from hpo.eventlog.store import EventStore
from hpo.views.follow import follow
from hpo.views.lines import LineProgress
from hpo.views.live import LiveView, progress_view
from hpo.engine.plans import plan_of

from .conftest import GRID, make_group, recorder


def test_live_view_follows_an_engine_to_the_end(workdir):
    console = recorder(width=100, terminal=True)
    with EventStore(workdir / "hpo.db") as store:
        gid = make_group(store, workdir, GRID.format(name="live", python=sys.executable))
        engine = Engine(store, gid, poll_interval=0.01)
        from hpo.engine.plans import plan_from

        with progress_view(console, plan_from(engine.searcher)) as view:
            assert isinstance(view, LiveView)
            engine.listeners.append(view)
            state = engine.run()
    assert state.status == "succeeded"
    text = console.export_text()
    for trial in (1, 2, 3):
        assert f"✓ trial {trial} succeeded in " in text
    assert "✗ trial 4 failed (exited with code 3)" in text
    final = text[text.rindex("╭─ live"):]  # the last frame stays on screen
    assert "4/4 trials  100%" in final and "3 succeeded · 1 failed" in final
    assert "best    trial 2  loss 0.333333" in final


def test_off_a_terminal_it_prints_plain_lines(workdir):
    console = recorder(width=60, terminal=False)
    with EventStore(workdir / "hpo.db") as store:
        gid = make_group(store, workdir, GRID.format(name="plain", python=sys.executable))
        engine = Engine(store, gid, poll_interval=0.01)
        with progress_view(console, plan_of(engine.state)) as view:
            assert isinstance(view, LineProgress)
            engine.listeners.append(view)
            engine.run()
    lines = console.export_text().splitlines()
    assert "trial 1 started: lr=0.1 opt=sgd" in lines
    done = [line for line in lines if line.startswith("trial 2 succeeded")]
    assert done and "loss=0.3333" in done[0] and "done, best " in done[0]
    assert any(re.match(r"trial 4 failed \(exited with code 3\): loss=.*  \[\d/4 done", line) for line in lines)
    assert sum("[4/4 done, best 0.3333 (trial 2)]" in line for line in lines) == 1  # whichever ended last
    assert all("╭" not in line for line in lines)
    assert max(len(line) for line in lines) > 60  # soft-wrapped: one event, one line, whatever the width


def test_follow_gives_up_when_the_engine_is_gone(workdir):
    with EventStore(workdir / "hpo.db") as store:
        gid = make_group(store, workdir, GRID.format(name="orphan", python=sys.executable))
        # an engine that died at once: its pid cannot be alive and its lease is a second long
        store.append(gid, [ev.EngineStarted(engine_id="dead", host="elsewhere", pid=1, lease_seconds=0.01)], 1)
        seen = []
        result = follow(store, gid, lambda s, st: seen.append(s), interval=0.01, grace=0.05)
    assert result.ended == "engine gone" and result.state.status == "running" and seen == []


def test_both_views_print_a_runner_notice_as_it_happens():
    from hpo.engine.plans import Plan
    from hpo.eventlog.state import GroupState
    from hpo.eventlog.store import Stored

    notice = Stored(7, "g", 7, "2026-01-01T00:00:00+00:00", "test",
                    ev.RunnerNoticed(runner="ssh", message="SSH host gpu1: connection refused"))
    state = GroupState(group_id="g", name="g", status="running")
    plain = recorder(width=100, terminal=False)
    LineProgress(plain)(notice, state)
    assert plain.export_text().strip() == "runner ssh: SSH host gpu1: connection refused"
    live = recorder(width=100, terminal=True)
    with LiveView(live, Plan()) as view:
        view(notice, state)
    assert "runner ssh: SSH host gpu1: connection refused" in live.export_text()
