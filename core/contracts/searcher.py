"""The contract between the engine and a search algorithm.

A searcher is a plain class that a plugin registers through ``hpo_register_searchers``. The
engine builds one per group from the spec and the group seed, then calls :meth:`Searcher.suggest`
with the history it has folded from the event log. ``suggest`` must be a pure function of
``(spec, seed, history)``: it keeps no memory between calls and changes no state, which is what
makes ``hpo replay --check`` and crash-proof resume possible.

The core knows an algorithm only through the members declared here: the spec keys that select
it (``spec_keys``), the names its suggestions add to the matrix params (``extra_params``, e.g. a
multi-fidelity resource, which the command template may use), the trial whose checkpoint a trial
continues (``continues``), what it plans (``plan``, shown by ``hpo plan`` and the progress views)
and the option that makes it run a list of configs (``configs_option``, for
``hpo restart --failed-only``).
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from collections.abc import Set as AbstractSet
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, ConfigDict

from hpo.errors import SpecError
from hpo.contracts.options import parse_options

if TYPE_CHECKING:
    import numpy as np

    from hpo.spec import GroupSpec

PENDING = "pending"  # suggested, not yet launched
RUNNING = "running"
SUCCEEDED = "succeeded"
FAILED = "failed"
STOPPED = "stopped"
FINISHED_STATUSES = frozenset({SUCCEEDED, FAILED, STOPPED})


@dataclass(frozen=True)
class TrialRecord:
    """What a searcher may know of one trial."""

    trial_id: int  # 1-based, in suggestion order, never reused
    params: dict[str, Any]
    status: str  # pending | running | succeeded | failed | stopped
    value: float | None = None  # last reported value of the group's metric, if any
    meta: dict[str, Any] = field(default_factory=dict)  # what the searcher put in its Suggestion

    @property
    def finished(self) -> bool:
        return self.status in FINISHED_STATUSES

    @property
    def active(self) -> bool:
        return self.status in (PENDING, RUNNING)


def params_key(params: dict[str, Any]) -> str:
    """A canonical text form of a params dict: equal params, equal keys."""
    return json.dumps(params, sort_keys=True, default=str)


@dataclass(frozen=True)
class SearchHistory:
    """Every trial of the group so far, in ``trial_id`` order (pending ones included).

    ``keys`` (optional, read-only) is the set of :func:`params_key` of every trial's params; the
    engine keeps it up to date so that searchers avoiding duplicates need not rebuild it.
    """

    trials: tuple[TrialRecord, ...] = ()
    keys: AbstractSet[str] | None = field(default=None, compare=False, repr=False)

    def param_keys(self) -> AbstractSet[str]:
        """:func:`params_key` of every trial so far."""
        if self.keys is None:
            object.__setattr__(self, "keys", frozenset(params_key(t.params) for t in self.trials))
        return self.keys  # type: ignore[return-value]

    def __len__(self) -> int:
        return len(self.trials)

    @property
    def next_trial_id(self) -> int:
        return len(self.trials) + 1

    def completed(self) -> list[TrialRecord]:
        """Succeeded trials that reported a value for the metric."""
        return [t for t in self.trials if t.status == SUCCEEDED and t.value is not None]

    def active(self) -> list[TrialRecord]:
        return [t for t in self.trials if t.active]


@dataclass(frozen=True)
class Suggestion:
    """Run a trial with these params. ``meta`` is recorded in the ``Suggested`` event."""

    params: dict[str, Any]
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Wait:
    """Nothing to suggest until some active trial finishes (e.g. a hyperband rung is incomplete)."""

    reason: str = ""


@dataclass(frozen=True)
class Exhausted:
    """The algorithm will never suggest again; ``reason`` is shown to the user."""

    reason: str


Decision = Suggestion | Wait | Exhausted


@dataclass(frozen=True)
class Plan:
    """What a searcher plans for a group: shown by ``hpo plan``, drawn by the progress views, and
    recorded in ``EngineStarted`` so that views need not load the plugin.

    ``brackets`` is for multi-fidelity algorithms: ``[{"bracket": s, "rungs": [{"n": trials,
    "resource": r}, ...]}, ...]`` in run order; the views match trials to rungs by the
    ``bracket`` and ``rung`` keys of their meta. ``resource`` names the param that carries the
    resource; ``note`` is one line on the settings behind the plan (``max_iter=81, eta=3``).
    ``continued``: a promoted trial continues its parent's checkpoint (``resume: true``), so it
    trains, and costs, only the resource its rung adds to the one below.
    """

    planned: int | None = None  # trials the algorithm plans in total, when it knows
    brackets: list[dict[str, Any]] = field(default_factory=list)
    resource: str | None = None
    note: str = ""
    continued: bool = False

    def rung_cost(self, rungs: list[dict[str, Any]], i: int) -> int | float:
        """The resource rung ``i`` of a bracket uses: each of its trials trains its rung's
        resource, or with ``continued`` only what it adds to the rung below."""
        r = rungs[i]["resource"]
        if self.continued and i > 0:
            r = r - rungs[i - 1]["resource"]
        return rungs[i]["n"] * r

    def total_resource(self) -> int | float | None:
        """The resource every planned rung execution uses, summed (None without brackets)."""
        if not self.brackets:
            return None
        return sum(self.rung_cost(b["rungs"], i) for b in self.brackets for i in range(len(b["rungs"])))

    def to_json(self) -> dict[str, Any]:
        return {"planned": self.planned, "brackets": self.brackets, "resource": self.resource,
                "note": self.note, "continued": self.continued}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Plan":
        return cls(data.get("planned"), list(data.get("brackets") or []), data.get("resource"),
                   data.get("note") or "", bool(data.get("continued")))


class EmptyConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)


class Searcher(ABC):
    """Base class of search algorithms.

    Subclasses set ``name`` (``search: {algorithm: NAME}`` selects it), ``version`` and
    ``Config`` (a pydantic model of the options in the algorithm's block), and implement
    :meth:`suggest`. The engine calls ``suggest`` once per free slot, each time with the history
    including the trials it just suggested, so a searcher sees its own pending suggestions.
    The other members have defaults that suit a plain algorithm.
    """

    name: ClassVar[str]
    version: ClassVar[str] = "1"
    Config: ClassVar[type[BaseModel]] = EmptyConfig
    needs_metric: ClassVar[bool] = False
    # the keys of a settings block that select it (the seed's ``random_search``); empty: its name
    spec_keys: ClassVar[tuple[str, ...]] = ()
    # the option that takes a list of param dicts to run in order (``hpo restart --failed-only``
    # and ``--trials`` run chosen trials' params again with a searcher that has one; it then also
    # takes ``origin_trials``, the trial each config restarts, to put in its suggestions' meta
    # as ``origin_trial``); None: it has none
    configs_option: ClassVar[str | None] = None
    # options added after groups began recording their resolved options, each with the value
    # that keeps the behaviour from before it (nested blocks as nested dicts). A group's
    # recorded options that lack one are read with this value when the searcher is rebuilt
    # from the log, so a new option with a new default never changes an existing group.
    recorded_defaults: ClassVar[dict[str, Any]] = {}

    @classmethod
    def options_from_log(cls, options: dict[str, Any]) -> dict[str, Any]:
        """``options`` as recorded in a group's log, with :attr:`recorded_defaults` filled in
        where a key is missing."""
        return _fill(dict(options), cls.recorded_defaults)

    @classmethod
    def extra_params(cls, config: BaseModel) -> tuple[str, ...]:
        """Names besides the matrix params that suggestions carry, given the block's options.

        A multi-fidelity algorithm adds its resource (``num_steps``). These reach the trial like
        matrix params, and the command template may use them (``{{ num_steps }}``); the engine
        refuses a suggestion with any other name that is not a matrix param. Called before the
        searcher is built (the spec is checked first), so it sees only the options.
        """
        return ()

    def __init__(self, spec: "GroupSpec", seed: int):
        self.spec = spec
        self.seed = int(seed)
        self.space = spec.matrix
        self.metric = spec.metric
        self.config = self.parse_config(spec.search.options, spec.search.path)
        self.check_spec(spec)

    @classmethod
    def parse_config(cls, options: dict[str, Any], path: str) -> BaseModel:
        """Validate the block's options; errors name the YAML path."""
        return parse_options(cls.Config, options, path)

    def check_spec(self, spec: "GroupSpec") -> None:
        """Reject specs this algorithm cannot run (override; raise SpecError naming the path)."""
        if self.needs_metric and spec.metric is None:
            raise SpecError(
                f"the {self.name} algorithm needs a metric: add `metric: {{name: ..., "
                "optimization: maximize|minimize}}` to its block",
                spec.search.path,
            )

    def rng(self, trial_id: int) -> "np.random.Generator":
        """The generator for one suggestion: derived from the group seed and the trial id only."""
        import numpy as np

        return np.random.default_rng([self.seed, int(trial_id)])

    def derived_seed(self, trial_id: int) -> int:
        """A printable form of the per-suggestion seed, recorded in ``Suggested``."""
        import numpy as np

        return int(np.random.SeedSequence([self.seed, int(trial_id)]).generate_state(1)[0])

    def planned_trials(self) -> int | None:
        """How many trials the algorithm plans in total, when it knows (for progress views)."""
        return None

    def plan(self) -> Plan:
        """What the algorithm plans (``hpo plan``, the progress views); by default the number of
        trials alone. A multi-fidelity algorithm adds its brackets and resource."""
        return Plan(planned=self.planned_trials())

    def continues(self, meta: dict[str, Any]) -> int | None:
        """The trial whose checkpoint folder a trial with this ``meta`` continues, or None.

        A trial that continues another (a promotion that resumes training) is given that
        trial's ``checkpoint_dir`` instead of its own, following the chain back. Must depend on
        the meta alone (the engine asks it again for every attempt, and after a resume).
        """
        return None

    @abstractmethod
    def suggest(self, history: SearchHistory) -> Decision:
        """Return the next decision for the trial ``history.next_trial_id``. Must not mutate self."""


def _fill(options: dict[str, Any], defaults: dict[str, Any]) -> dict[str, Any]:
    for key, value in defaults.items():
        if key not in options:
            options[key] = value
        elif isinstance(value, dict) and isinstance(options[key], dict):
            options[key] = _fill(dict(options[key]), value)
    return options
