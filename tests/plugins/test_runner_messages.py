"""A runner's messages about an attempt it does not follow (an unknown trial, an attempt that
already exited) fail the group with a PluginFailed event; nothing of them reaches the log."""

from __future__ import annotations

import pytest

from hpo.contracts.runner import Exited, Reported, Runner
from hpo.engine.composition import create_group
from hpo.engine.loop import Engine
from hpo.eventlog.state import GroupState
from hpo.eventlog.store import EventStore
from hpo.spec import parse_spec
from hpo.testing import plugin_of, registered


class Instant(Runner):
    """Each attempt reports once and exits at the next poll; ``extra`` adds what a subclass's
    runner wrongly says after the first attempt's exit."""

    name = "instant"

    def __init__(self, config):
        super().__init__(config)
        self.started, self.done = [], False

    def start(self, launch):
        self.started.append(launch.key)
        return {}

    def poll(self):
        out = []
        for t, a in self.started:
            out += [Reported(t, a, 1, {"loss": float(t)}, 10), Exited(t, a, "succeeded")]
        self.started = []
        if out and not self.done:
            self.done = True
            out += self.extra()
        return out

    def extra(self):
        return []

    def stop(self, trial_id, attempt, reason):
        pass


WRONG = {
    "a report for a trial the group does not have": lambda: [Reported(99, 1, 1, {"loss": 1.0}, 10)],
    "a stepless report for a trial the group does not have": lambda: [Reported(99, 1, None, {"loss": 1.0}, 10)],
    "an exit for a trial the group does not have": lambda: [Exited(77, 1, "succeeded")],
    "an exit for an attempt not started": lambda: [Exited(1, 2, "succeeded")],
    "a second exit of the same attempt": lambda: [Exited(1, 1, "failed", exit_code=3)],
    "a report after the attempt's exit": lambda: [Reported(1, 1, 5, {"loss": -100.0}, 20)],
}


@pytest.mark.parametrize("what", list(WRONG))
def test_a_message_about_an_attempt_the_runner_does_not_follow_fails_the_group(tmp_path, what):
    class Wrong(Instant):
        name = "wrong"

        def extra(self):
            return WRONG[what]()

    store = EventStore(tmp_path / ".hpo" / "hpo.db")
    spec = parse_spec({"matrix": {"x": {"values": [1, 2, 3]}}, "runner": {"kind": "wrong"},
                       "metric": {"name": "loss", "optimization": "minimize"}, "run": {"cmd": "true"}})
    with registered(plugin_of(Wrong)):
        group_id = create_group(store, spec, seed=0, source_path=str(tmp_path / "spec.yaml"))
        state = Engine(store, group_id, poll_interval=0.01).run()
    (failure,) = state.plugin_failures
    assert state.status == "failed" and state.group_stop.policy == "engine"
    assert failure.plugin == "runner wrong" and "plugin 'wrong'" in failure.error
    assert "does not follow" in failure.error
    events = [s.event for s in store.read(group_id, trusted=False)]  # every event is well-formed
    folded = GroupState.fold(store.read(group_id))  # and the log folds
    assert folded.version == len(events) and folded.status == "failed"
    assert folded.trials[1].status == "succeeded" and folded.trials[1].metrics == {"loss": 1.0}
    assert set(folded.trials) == {1}
    assert [e.type for e in events].count("TrialFinished") == 1
    store.close()
