"""Python objectives: the :class:`Trial` a Python function receives, and what it may return.

``hpo.optimize(objective, spec)`` and the ``python`` runner call ``objective(trial)`` with one
argument, like Optuna: ``trial.params`` holds the suggested values, ``trial.report(step=...,
**metrics)`` reports intermediate metrics (stoppers see them as they come), and the return value
is the trial's result:

- a number: the value of the group's metric (``value`` when the group has no metric);
- a mapping of metric names to numbers;
- ``None``: the metrics already reported are the result.

An objective that raises fails its trial (the traceback becomes the trial's output); one that
raises :class:`TrialStopped` ends it as ``stopped``. The same :class:`Trial` class is what
``group.ask()`` hands out in the ask/tell API.
"""

from __future__ import annotations

import importlib
import inspect
import math
import numbers
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from hpo.errors import HpoError
from hpo.trial.protocol import format_report, report_step

Sink = Callable[[int | None, dict[str, float | None]], None]
DEFAULT_METRIC = "value"  # what a returned number is called when the group has no metric


class TrialStopped(Exception):
    """The trial was stopped (a stopping rule, ``hpo stop``, a timeout) or stops itself.

    Inside ``hpo.optimize`` a :meth:`Trial.report` made after the trial was stopped raises it, so
    the objective unwinds (``finally`` blocks run); let it propagate. An objective may also raise
    it on purpose to end its trial as ``stopped`` — Optuna's ``TrialPruned``.
    """


class ObjectiveError(HpoError):
    """An objective cannot be found, or returned something that is not a result."""


class Trial:
    """One trial as Python code sees it.

    ``id`` (1, 2, 3… in suggestion order), ``params`` (the suggested values, declarations
    included), ``attempt`` (2, 3… when a crash made the trial run again), ``dir`` (the attempt's
    folder) and ``checkpoint_dir``.
    """

    def __init__(
        self,
        trial_id: int,
        params: dict[str, Any],
        *,
        attempt: int = 1,
        group_id: str = "",
        dir: Path | None = None,
        checkpoint_dir: Path | None = None,
        sink: Sink | None = None,
        stopped: Callable[[], str | None] | None = None,
        raise_when_stopped: bool = True,
    ):
        self.id = int(trial_id)
        self.params = dict(params)
        self.attempt = attempt
        self.group_id = group_id
        self.dir = dir
        self._checkpoint_dir = checkpoint_dir
        self._sink = sink
        self._stopped = stopped
        self._raise = raise_when_stopped

    @property
    def should_stop(self) -> bool:
        """True once the trial was stopped; its further reports are ignored."""
        return self.stop_reason is not None

    @property
    def stop_reason(self) -> str | None:
        return self._stopped() if self._stopped is not None else None

    def report(self, step: int | None = None, **metrics: float) -> None:
        """Report metrics at a step, e.g. ``trial.report(step=3, loss=0.25)``.

        The group's metric value is the last one reported (or returned). Inside ``hpo.optimize``
        a report after the trial was stopped raises :class:`TrialStopped`; in the ask/tell API it
        is ignored (check :attr:`should_stop`).
        """
        step = report_step(step)
        format_report(step, metrics)  # validates: numbers only, `step` reserved
        reason = self.stop_reason
        if reason is not None:
            if self._raise:
                raise TrialStopped(reason)
            return
        if self._sink is not None:
            self._sink(step, {k: _number(v) for k, v in metrics.items()})

    @property
    def checkpoint_dir(self) -> Path | None:
        """Where this trial should keep checkpoints (created on first use)."""
        if self._checkpoint_dir is not None:
            self._checkpoint_dir.mkdir(parents=True, exist_ok=True)
        return self._checkpoint_dir

    def __repr__(self) -> str:
        return f"Trial(id={self.id}, params={self.params!r})"


def _number(value: Any) -> float | None:
    return None if value is None else float(value)


def result_metrics(result: Any, metric: str | None) -> dict[str, float | None]:
    """The metrics an objective's return value stands for (empty for ``None``)."""
    if result is None:
        return {}
    if isinstance(result, bool) or not isinstance(result, (numbers.Real, Mapping)):
        if hasattr(result, "item") and not isinstance(result, bool):
            return result_metrics(result.item(), metric)  # a numpy scalar or a 1-element array
        raise ObjectiveError(
            f"the objective returned {result!r} ({type(result).__name__}); return a number "
            "(the metric's value), a dict of metrics, or None"
        )
    if isinstance(result, numbers.Real):
        return {metric or DEFAULT_METRIC: float(result)}
    out: dict[str, float | None] = {}
    for key, value in result.items():
        if not isinstance(key, str) or key == "step":
            raise ObjectiveError(f"the objective returned a dict with the key {key!r}; use metric names")
        try:
            out[key] = None if value is None else float(value)
        except (TypeError, ValueError):
            raise ObjectiveError(
                f"the objective returned {key}={value!r}; metric values must be numbers"
            ) from None
        if out[key] is not None and math.isnan(out[key]):  # NaN is a value ("no result")
            out[key] = math.nan
    return out


def check_objective(objective: Any) -> None:
    """Fail before a group is created (or run) if ``objective`` cannot take the trial."""
    if not callable(objective):
        raise TypeError(f"the objective must be a function taking the trial, got {objective!r}")
    for test, kind in ((inspect.iscoroutinefunction, "a coroutine function"),
                       (inspect.isasyncgenfunction, "an async generator function"),
                       (inspect.isgeneratorfunction, "a generator function")):
        if test(objective):
            raise TypeError(
                f"the objective {getattr(objective, '__qualname__', objective)!r} is {kind}; hpo calls "
                "it and takes what it returns: def objective(trial): return score(trial.params)"
            )
    try:
        inspect.signature(objective).bind(None)
    except TypeError:
        raise TypeError(
            f"the objective {getattr(objective, '__qualname__', objective)!r} must take one "
            "argument, the trial: def objective(trial): return score(trial.params)"
        ) from None
    except ValueError:  # no signature to inspect (a builtin): let the call decide
        pass


# -- finding the objective ---------------------------------------------------------------------

_BOUND: dict[str, Callable[..., Any]] = {}  # group id -> the objective this process runs for it


def objective_ref(fn: Callable[..., Any]) -> str:
    """``module:qualname``: how a spec names an objective (``runner: {kind: python, objective}``)."""
    module = getattr(fn, "__module__", None) or "?"
    qualname = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", repr(fn))
    return f"{module}:{qualname}"


def bind(group_id: str, fn: Callable[..., Any]) -> None:
    """Run ``fn`` for the trials of ``group_id`` in this process (``hpo.optimize`` does this)."""
    _BOUND[group_id] = fn


def unbind(group_id: str) -> None:
    _BOUND.pop(group_id, None)


def bound(group_id: str) -> Callable[..., Any] | None:
    return _BOUND.get(group_id)


def resolve(ref: str) -> Callable[..., Any]:
    """Import ``module:qualname``; the error says how to continue when that is impossible."""
    module_name, sep, qualname = ref.partition(":")
    hint = (
        "; a function defined in a script's __main__, inside another function, or a lambda can "
        "only run in the process that bound it: continue the group from Python with "
        "hpo.load_group(GROUP).optimize(objective)"
    )
    if not sep or not module_name or not qualname or "<" in qualname or module_name == "__main__":
        raise ObjectiveError(f"cannot import the objective {ref!r}{hint}")
    try:
        target: Any = importlib.import_module(module_name)
        for part in qualname.split("."):
            target = getattr(target, part)
    except (ImportError, AttributeError) as exc:
        raise ObjectiveError(f"cannot import the objective {ref!r}: {exc}{hint}") from None
    if not callable(target):
        raise ObjectiveError(f"the objective {ref!r} is not callable")
    return target


def attempt_paths(trial_dir: Path) -> dict[str, Path]:
    return {
        "stdout": trial_dir / "stdout.log",
        "stderr": trial_dir / "stderr.log",
        "result": trial_dir / "result.json",
        "exit": trial_dir / "exit_code",
        "pid": trial_dir / "pid",
    }


def trial_from_env(env: Mapping[str, str], params: dict[str, Any], **kw: Any) -> Trial:
    """A :class:`Trial` for a launch, from the variables the engine gives every trial."""
    from hpo.trial import CHECKPOINT_DIR_ENV, GROUP_ID_ENV, TRIAL_DIR_ENV, TRIAL_ID_ENV

    ckpt = env.get(CHECKPOINT_DIR_ENV)
    trial_dir = env.get(TRIAL_DIR_ENV)
    return Trial(
        int(env.get(TRIAL_ID_ENV, "0") or 0),
        params,
        attempt=int(env.get("HPO_ATTEMPT", "1") or 1),
        group_id=env.get(GROUP_ID_ENV, ""),
        dir=Path(trial_dir) if trial_dir else None,
        checkpoint_dir=Path(ckpt) if ckpt else None,
        **kw,
    )
