"""The Python API's group handle: read a group, drive it with ask/tell, or optimize it.

Ask/tell, when your code runs the trials::

    import hpo

    group = hpo.create_group("sweep.yaml", db="runs.db")
    while (trial := group.ask()) is not None:
        group.tell(trial, train(**trial.params))
    print(group.best)

Or let hpo call a Python objective, with everything a command gets (concurrency, stopping rules,
``hpo stop``, resume, every view)::

    def objective(trial):
        return train(**trial.params)          # or trial.report(step=..., loss=...) as it goes

    group = hpo.optimize(objective, "sweep.yaml", n_trials=50, concurrency=4)

Both write the same event log as ``hpo run``, through the engine and its lease, so ``hpo status``,
``hpo resume`` and ``hpo replay --check`` work on these groups too. See ``docs/api.md``.
``hpo.create_group``, ``hpo.load_group`` and ``hpo.optimize`` live in :mod:`hpo.api.entry`.
"""

from __future__ import annotations

import atexit
import getpass
import json
import numbers
import socket
import sys
from dataclasses import dataclass
from typing import Any, Callable

from hpo.api.ask_tell import ApiRunner, Heartbeat
from hpo.api.objective import Trial, bind, check_objective, result_metrics, unbind
from hpo.contracts.registry import Registry, default_registry
from hpo.engine.loop import Engine, LeaseLost
from hpo.errors import HpoError
from hpo.eventlog.state import GroupState
from hpo.eventlog.store import EventStore
from hpo.spec import GroupSpec
from hpo.trial import PARAMS_ENV
from hpo.api.frame import trials_frame

STATUSES = ("succeeded", "failed", "stopped")
LEASE_SECONDS = 15.0  # an ask/tell engine's lease, renewed every third of it by a heartbeat
_OPEN: dict[tuple[str, str], "Group"] = {}  # groups this process drives with ask/tell


class WaitForResults(HpoError):
    """``ask()`` while the searcher needs results first (e.g. a hyperband rung is incomplete)."""


@dataclass(frozen=True)
class TrialResult:
    """A trial as the log records it."""

    id: int
    params: dict[str, Any]
    status: str  # pending | running | succeeded | failed | stopped
    value: float | None  # the last reported value of the group's metric
    metrics: dict[str, float | None]  # the last reported value of every metric


class Group:
    """One experiment group in an event log: read it, ``ask``/``tell`` it, or ``optimize`` it."""

    def __init__(self, store: EventStore, group_id: str, registry: Registry | None = None):
        self.store, self.id = store, group_id
        self.registry = registry or default_registry()
        self._state = GroupState.fold(store.read(group_id))
        self._engine: Engine | None = None
        self._api: ApiRunner | None = None
        self._heartbeat: Heartbeat | None = None
        self._ended = False  # the group ended while this handle drove it: ask() gives None

    # -- reading ---------------------------------------------------------------------------

    @property
    def state(self) -> GroupState:
        """The group folded from its log, as of now."""
        if self._engine is not None:
            return self._engine.state
        for s in self.store.read(self.id, after_version=self._state.version):
            self._state.apply(s)
        return self._state

    @property
    def name(self) -> str:
        return self.state.name

    @property
    def status(self) -> str:
        """created | running | succeeded | failed | stopped (paused: it can continue)."""
        return self.state.status

    @property
    def best(self) -> TrialResult | None:
        """The best trial, as every view names it (``docs/views.md``, "best"): the best last value
        of the group's metric among succeeded trials and trials a stopping rule stopped."""
        best = self.state.best()
        return None if best is None else self._result(best)

    def trials(self) -> list[TrialResult]:
        return [self._result(t) for t in sorted(self.state.trials.values(), key=lambda t: t.trial_id)]

    def trials_dataframe(self) -> Any:
        """One row per trial: the columns of ``hpo export`` (``param.X``/``metric.Y``...) and
        Optuna's (``number``, ``value``, ``datetime_start``, ``datetime_complete``, ``duration``,
        ``params_X``, ``state``); times are datetimes and durations timedeltas. A pandas DataFrame
        if pandas is installed, else a list of dicts (see :mod:`hpo.api.frame`)."""
        return trials_frame(self.state)

    def param_importances(self, metric: str | None = None) -> dict[str, float]:
        """Each param's share (summing to 1) of what explains ``metric`` (default: the group's)
        across the succeeded trials, most important first: a random forest's mean decrease in
        impurity, what ``hpo importance`` shows. Raises :class:`~hpo.errors.HpoError` with fewer
        than 8 such trials."""
        from hpo.views.importance import importances

        return {p.name: p.share for p in importances(self.state, metric).params}

    def _result(self, t: Any) -> TrialResult:
        return TrialResult(t.trial_id, dict(t.params), t.status, t.value(self.state.metric_name),
                           dict(t.metrics))

    def __repr__(self) -> str:
        return f"<hpo.Group {self.name!r} ({self.id}) {self.status}, {len(self.state.trials)} trials>"

    # -- ask/tell --------------------------------------------------------------------------

    def ask(self) -> Trial | None:
        """The next trial to run, or ``None`` once the group has no more work.

        ``None`` means the searcher is exhausted, a stopping rule ended the search, or the group
        was stopped (``hpo stop``) while this handle drove it. Trials asked and not told are
        running: ``ask()`` again hands out another (the spec's ``concurrency`` does not limit
        ask/tell). Raises :class:`WaitForResults` when the searcher needs results of those first.
        A paused group (closed, stopped, or its process gone) continues when a handle that did
        not see it end asks: first the trials the pause interrupted, as new attempts.
        """
        if not self._drive() or self._api is None:
            return None
        if not self._api.handed:
            self._api.asking = 1
            try:
                self._tick()
            finally:
                if self._api is not None:
                    self._api.asking = 0
        if self._api is not None and self._api.handed:
            return self._trial(self._api.handed.popleft())
        eng = self._engine
        if eng is None or eng.stopping():
            return None
        running = sorted(t for t, _ in self._api.live)
        raise WaitForResults(
            f"the {eng.searcher.name} searcher waits for the results of trials {running}: "
            "tell them before asking again"
        )

    def tell(
        self, trial: Trial | int, result: Any = None, *, status: str = "succeeded", reason: str = ""
    ) -> None:
        """Record a trial's result: a number (the metric's value), a dict of metrics, or None.

        ``status`` is ``succeeded`` (default), ``failed`` or ``stopped``; ``reason`` says why.
        Telling a trial that a stopping rule already stopped is ignored.
        """
        if status not in STATUSES:
            raise ValueError(f"status must be one of {', '.join(STATUSES)}, got {status!r}")
        key = self._key(trial)
        if not self._drive() or self._api is None:
            raise HpoError(f"group {self.name} ({self.id}) has ended ({self.status}); it takes no results")
        if key in self._api.stopped:
            return
        if key not in self._api.live:
            tr = self.state.trials.get(key[0])
            if tr is not None and tr.attempts > key[1]:
                raise HpoError(f"attempt {key[1]} of trial {key[0]} of group {self.name} was interrupted; "
                               f"tell attempt {tr.attempts}, the one ask() handed out since")
            raise HpoError(
                f"trial {key[0]} of group {self.name} is not running "
                f"(status: {tr.status if tr else 'never suggested'})"
            )
        metrics = result_metrics(result, self.state.metric_name)
        if metrics:
            self._api.report(key, None, metrics)
        self._api.finish(key, status, reason or ("" if status == "succeeded" else f"told {status}"))
        self._tick()

    def close(self) -> None:
        """Stop driving the group. Trials asked and not told stop and run again when it goes on.

        The group is then ``stopped`` (paused); ``hpo.load_group(...).ask()`` or
        ``hpo resume`` continue it. A group whose search ended is left as it is.
        """
        eng = self._engine
        if eng is not None:
            try:
                eng.pause("the Python process closed the group", requested_by=_who())
            except LeaseLost:
                pass
            self._release()

    def __enter__(self) -> "Group":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- optimize --------------------------------------------------------------------------

    def optimize(self, objective: Callable[[Trial], Any], *, concurrency: int | None = None) -> "Group":
        """Run (or continue) this group with ``objective(trial)`` as its trials; see :func:`optimize`."""
        check_objective(objective)
        self.close()
        runner = GroupSpec.from_json(self.state.spec).runner.kind
        if runner != "python":
            raise HpoError(
                f"group {self.name} ({self.id}) runs its trials with the {runner!r} runner, not a "
                "Python objective; continue it with `hpo resume`"
            )
        bind(self.id, objective)
        try:
            engine = Engine(self.store, self.id, registry=self.registry, concurrency=concurrency)
            engine.run("resume" if engine.state.engines else "run")
        finally:
            unbind(self.id)
        return self

    # -- the engine behind ask/tell ----------------------------------------------------------

    def _drive(self) -> bool:
        """Hold the group's lease with an engine whose runner is the caller; False once ended."""
        if self._engine is not None:
            return True
        if self._ended or self.state.status in ("succeeded", "failed"):
            return False
        self._api = ApiRunner()  # the spec's runner stays in the log for `hpo resume`
        engine = Engine(self.store, self.id, registry=self.registry, runner=self._api,
                        poll_interval=0.0, lease_seconds=LEASE_SECONDS)
        engine.start("resume" if engine.state.engines else "run")
        engine.concurrency = sys.maxsize  # ask/tell: the caller's asks are the only limit
        self._engine = engine
        _OPEN[(str(self.store.path.resolve()), self.id)] = self
        self._heartbeat = Heartbeat(str(self.store.path), self.id, engine.engine_id,
                                    engine.lease_seconds / 3)
        self._heartbeat.start()
        return True

    def _tick(self) -> None:
        if self._engine is None:
            return
        try:
            finished = self._engine.tick()
        except LeaseLost as exc:
            self._release()
            raise HpoError(f"{exc}: this Python process no longer drives the group") from None
        if finished:
            self._ended = True  # finished, or paused by `hpo stop`: resuming is an explicit act
            self._release()

    def _release(self) -> None:
        if self._engine is not None:
            self._state = self._engine.state
        self._engine, self._api = None, None
        if self._heartbeat is not None:
            self._heartbeat.done.set()
            self._heartbeat = None
        _OPEN.pop((str(self.store.path.resolve()), self.id), None)

    def _key(self, trial: Trial | int) -> tuple[int, int]:
        if isinstance(trial, Trial):
            if trial.group_id and trial.group_id != self.id:
                raise HpoError(f"trial {trial.id} belongs to group {_name_of(self.store, trial.group_id)}, "
                               f"not to group {self.name} ({self.id}): tell the group that asked for it")
            return (trial.id, trial.attempt)
        if isinstance(trial, bool) or not isinstance(trial, (numbers.Integral, str)) or not str(trial).isdigit():
            raise TypeError(f"tell() takes an hpo.Trial or a trial id, got {trial!r}")
        tr = self.state.trials.get(int(trial))
        return (int(trial), tr.attempts if tr else 0)

    def _trial(self, launch: Any) -> Trial:
        engine, key = self._engine, launch.key
        tr = engine.state.trials[launch.trial_id]
        return Trial(
            launch.trial_id, json.loads(launch.env[PARAMS_ENV]), attempt=launch.attempt,
            group_id=self.id, dir=launch.trial_dir, checkpoint_dir=engine.checkpoint_dir(tr),
            sink=lambda step, metrics: self._report(key, step, metrics),
            stopped=lambda: self._stop_reason(key), raise_when_stopped=False,
        )

    def _report(self, key: tuple[int, int], step: int | None, metrics: dict) -> None:
        if self._api is None or key not in self._api.live:
            return
        self._api.report(key, step, metrics)
        self._tick()

    def _stop_reason(self, key: tuple[int, int]) -> str | None:
        """Why the attempt no longer takes reports (None while it does)."""
        api = self._api
        if api is not None and key in api.stopped:
            return api.stopped[key]
        if api is not None and key in api.live:
            return None
        tr = self.state.trials.get(key[0])
        if tr is None or tr.attempts != key[1]:
            return "a newer attempt of the trial replaced this one"
        if tr.status == "running":
            return "the group is no longer driven from this process"
        return tr.reason or f"the trial {tr.status}"


def open_group(store: EventStore, group_id: str) -> Group:
    """The handle this process already drives for the group (ask/tell), else a new one."""
    return _OPEN.get((str(store.path.resolve()), group_id)) or Group(store, group_id)


def _name_of(store: EventStore, group_id: str) -> str:
    handle = _OPEN.get((str(store.path.resolve()), group_id))
    return f"{handle.name} ({group_id})" if handle is not None else group_id


def _who() -> str:
    try:
        user = getpass.getuser()
    except Exception:  # noqa: BLE001 - no user name in some containers
        user = "?"
    return f"{user}@{socket.gethostname()} (Python)"


@atexit.register
def _close_open_groups() -> None:
    """A process that ends pauses the groups it drives, so they read as stopped, not crashed."""
    for group in list(_OPEN.values()):
        try:
            group.close()
        except Exception:  # noqa: BLE001 - never fail an exiting interpreter
            pass
