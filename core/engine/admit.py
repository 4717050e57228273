"""What the engine admits of a searcher's decisions, before anything is recorded or launched.

The guards (:mod:`hpo.contracts.guard`) check a decision's form; the engine checks its sense
against the group, whatever class made it: every matrix param has a value the matrix holds
(:meth:`hpo.spec.params.Param.check_value`: a listed value, inside the bounds, on the ``q`` grid,
an integer where the kind has only integers), and no other name appears but those the searcher
declares (:meth:`~hpo.contracts.searcher.Searcher.extra_params`); a ``Wait`` needs a running or
pending trial whose end can change the answer, or the group would hang; and ``Exhausted`` is
forever. A breach is a :class:`~hpo.errors.PluginError` naming the plugin, the trial and the param, which the
engine records as ``PluginFailed`` instead of the suggestion: nothing outside the matrix runs.
"""

from __future__ import annotations

import json
from typing import Any

from hpo.contracts.searcher import Decision, Exhausted, SearchHistory, Searcher, Suggestion, Wait
from hpo.errors import PluginError


class Admission:
    """Checks one group's searcher's decisions against its matrix."""

    def __init__(self, searcher: Searcher):
        self.searcher = searcher
        self.matrix = searcher.spec.matrix
        origin = getattr(type(searcher), "hpo_origin", None)
        self.distribution = origin.distribution if origin is not None else ""
        self._extra: frozenset[str] | None = None

    @property
    def extra(self) -> frozenset[str]:
        """The names the searcher declares besides the matrix params (asked once)."""
        if self._extra is None:
            self._extra = frozenset(type(self.searcher).extra_params(self.searcher.config))
        return self._extra

    def refuse(self, trial_id: int | None, message: str) -> PluginError:
        """The error that refuses a decision; ``trial_id`` names the trial it was for."""
        error = PluginError(f"the searcher's {message}", self.searcher.name, self.distribution)
        error.trial_id = trial_id  # type: ignore[attr-defined]
        return error

    def suggestion(self, suggestion: Suggestion, trial_id: int) -> tuple[dict[str, Any], dict[str, Any]]:
        """The suggestion's params and meta as the log will hold them; refused if the matrix
        does not hold the params."""
        params = self._data(suggestion.params, "params", trial_id)
        meta = self._data(suggestion.meta, "meta", trial_id)
        return self.params(params, trial_id), meta

    def _data(self, value: Any, what: str, trial_id: int) -> dict[str, Any]:
        try:
            data = json.loads(json.dumps(value, default=_jsonable))
        except (TypeError, ValueError) as exc:
            raise self.refuse(trial_id, f"suggest() for trial {trial_id} gave {what} that are "
                                        f"not JSON data: {exc}") from None
        if not isinstance(data, dict) or not all(isinstance(k, str) for k in value):
            raise self.refuse(trial_id, f"suggest() for trial {trial_id} gave {what} {value!r}; "
                                        "expected a dict with text keys")
        return data

    def params(self, params: dict[str, Any], trial_id: int) -> dict[str, Any]:
        """``params`` (JSON data) if the matrix holds them, else refused."""
        for name, param in self.matrix.items():
            if name not in params:
                raise self.refuse(trial_id, f"suggest() for trial {trial_id} gave no value for "
                                            f"the matrix param {name!r}")
            why = param.check_value(params[name])
            if why is not None:
                raise self.refuse(trial_id, f"suggest() for trial {trial_id} gave {name}="
                                            f"{params[name]!r}, outside the matrix: {why} "
                                            f"({param.path})")
        for name in params:
            if name not in self.matrix and name not in self.extra:
                declared = ", ".join(sorted(self.extra)) or "none"
                raise self.refuse(trial_id, f"suggest() for trial {trial_id} gave {name}="
                                            f"{params[name]!r}, which is no matrix param (matrix: "
                                            f"{', '.join(self.matrix)}) and not one the searcher "
                                            f"declares in extra_params() ({declared})")
        return params

    def wait(self, decision: Wait, history: SearchHistory) -> None:
        """Refused unless some trial is running or pending to end the wait."""
        if not history.active():
            raise self.refuse(history.next_trial_id, (
                f"suggest() answered {decision!r} for trial {history.next_trial_id} while no "
                "trial is running or pending: nothing can end the wait, so the group would hang"))

    def still_exhausted(self, decision: Decision, reason: str, trial_id: int) -> None:
        """Refused unless ``decision`` is ``Exhausted`` again."""
        if not isinstance(decision, Exhausted):
            raise self.refuse(trial_id, (
                f"suggest() returned {_short(decision)} for trial {trial_id} after it said "
                f"Exhausted({reason!r}): Exhausted is forever"))


def _short(decision: Any) -> str:
    text = repr(decision)
    return text if len(text) <= 200 else text[:197] + "..."


def _jsonable(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"{value!r} is not JSON-serialisable")
