"""A runner that raises in any method the engine calls (``capacity``, ``stop``, ``close``), not
only ``poll``, fails the group with one PluginFailed naming it; the engine never crashes with a
bare exception, and the log stays whole."""

from __future__ import annotations

import logging

from hpo.contracts.runner import Exited, Reported, Runner
from hpo.engine.composition import create_group
from hpo.engine.loop import Engine
from hpo.eventlog.state import GroupState
from hpo.eventlog.store import EventStore
from hpo.spec import parse_spec
from hpo.testing import plugin_of, registered


class Slow(Runner):
    """Attempts report once and run until stopped (then exit at the next poll)."""

    name = "slow"

    def __init__(self, config):
        super().__init__(config)
        self.started, self.stopping, self.reported = [], [], set()

    def start(self, launch):
        self.started.append(launch.key)
        return {}

    def poll(self):
        out = [Reported(t, a, 1, {"loss": float(t)}, 10) for t, a in self.started if (t, a) not in self.reported]
        self.reported.update(self.started)
        out += [Exited(t, a, "stopped", reason=r) for t, a, r in self.stopping]
        self.started = [k for k in self.started if k not in {(t, a) for t, a, _ in self.stopping}]
        self.stopping = []
        return out

    def running(self):
        return list(self.started)

    def stop(self, trial_id, attempt, reason):
        self.stopping.append((trial_id, attempt, reason))


def _run(tmp_path, cls, extra: dict | None = None) -> tuple[GroupState, EventStore, str]:
    store = EventStore(tmp_path / ".hpo" / "hpo.db")
    spec = parse_spec({"matrix": {"x": {"values": [1, 2, 3, 4]}}, "runner": {"kind": cls.name},
                       "metric": {"name": "loss", "optimization": "minimize"}, "run": {"cmd": "true"},
                       "concurrency": 2, **(extra or {})})
    with registered(plugin_of(cls)):
        group_id = create_group(store, spec, seed=0, source_path=str(tmp_path / "spec.yaml"))
        state = Engine(store, group_id, poll_interval=0.01).run()
    return state, store, group_id


def _failed_naming(state: GroupState, store: EventStore, group_id: str, name: str, what: str) -> None:
    (failure,) = state.plugin_failures
    assert state.status == "failed" and failure.plugin == f"runner {name}" and what in failure.error
    folded = GroupState.fold(store.read(group_id))
    assert folded.status == "failed" and not folded.running()


def test_a_runner_whose_capacity_raises_fails_the_group(tmp_path):
    class Broken(Slow):
        name = "capacity-breaks"

        def capacity(self):
            raise RuntimeError("capacity broke")

    _failed_naming(*_run(tmp_path, Broken), "capacity-breaks", "capacity broke")


def test_a_runner_whose_stop_raises_fails_the_group(tmp_path):
    class Broken(Slow):
        name = "stop-breaks"

        def stop(self, trial_id, attempt, reason):
            raise RuntimeError("stop broke")

    # the median rule stops trial 2 (loss 2 behind trial 1's 1) once it has reported
    stopping = {"stopping": [{"kind": "median", "min_trials": 1}]}
    state, store, group_id = _run(tmp_path, Broken, stopping)
    _failed_naming(state, store, group_id, "stop-breaks", "stop broke")


def test_a_runner_whose_close_raises_is_named_and_the_group_still_ends(tmp_path, caplog):
    class Broken(Slow):
        name = "close-breaks"

        def poll(self):  # every attempt ends at once
            out = super().poll()
            out += [Exited(t, a, "succeeded") for t, a in self.started]
            self.started = []
            return out

        def close(self, stop_running: bool = True):
            raise RuntimeError("close broke")

    with caplog.at_level(logging.WARNING):
        state, store, group_id = _run(tmp_path, Broken)
    assert state.status == "succeeded" and not state.plugin_failures
    assert "runner close-breaks failed to close" in caplog.text and "close broke" in caplog.text
