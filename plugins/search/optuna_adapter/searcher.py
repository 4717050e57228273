"""The Optuna searcher: ask an Optuna sampler, through a study rebuilt from the history.

``suggest`` stays a pure function of (spec, seed, history): each call builds a fresh in-memory
study, tells it every trial of the history (finished ones with their value, failed ones as
failed, stopped ones as pruned, pending and running ones as running, which TPE's constant liar
and the other samplers account for), and asks the sampler once. The sampler is seeded with the
per-suggestion seed (group seed and trial id), and what a sampler stores on a trial when it is
asked (NSGA-II's generation...) travels in the suggestion's meta and is given back when the
study is rebuilt, so replaying the log asks exactly the same questions.

Opaque sampler state is not carried: CMA-ES pickles its optimizer into the trial, with bytes
that differ from run to run, so it cannot be replayed; the cmaes sampler therefore starts each
suggestion from the distribution the completed trials' first generation gives it.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import math
import warnings
from collections.abc import Iterator
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from hpo.errors import SpecError
from hpo.contracts.searcher import (
    PENDING,
    RUNNING,
    STOPPED,
    SUCCEEDED,
    Exhausted,
    SearchHistory,
    Searcher,
    Suggestion,
    TrialRecord,
)

from .space import Dimension, NotInSpace, dimensions

SAMPLERS = {
    "tpe": "TPESampler",
    "gp": "GPSampler",
    "cmaes": "CmaEsSampler",
    "random": "RandomSampler",
    "nsga2": "NSGAIISampler",
}
NEEDS = {"gp": ("torch", "the gp sampler needs PyTorch: pip install torch"),
         "cmaes": ("cmaes", "the cmaes sampler needs the cmaes package: pip install cmaes")}
ATTRS = "optuna_system_attrs"  # the meta key of what the sampler stored on the asked trial
MAX_ATTR = 1000  # longer attributes are opaque state (CMA-ES pickles its optimizer): not kept


class OptunaConfig(BaseModel):
    """Options of ``search: {algorithm: optuna, ...}``."""

    model_config = ConfigDict(extra="forbid")

    sampler: Literal["tpe", "gp", "cmaes", "random", "nsga2"] = "tpe"
    n_trials: int = Field(ge=1, description="how many trials to suggest in all")
    sampler_kwargs: dict[str, Any] = Field(
        default_factory=dict, description="keyword arguments of the Optuna sampler (not seed)"
    )


class OptunaSearcher(Searcher):
    name = "optuna"
    version = "1"
    Config = OptunaConfig
    needs_metric = True

    def check_spec(self, spec: Any) -> None:
        super().check_spec(spec)
        path = spec.search.path
        optuna = _import_optuna(path)
        cfg: OptunaConfig = self.config  # type: ignore[assignment]
        if "seed" in cfg.sampler_kwargs:
            raise SpecError("the seed is the group's: remove it from sampler_kwargs",
                            f"{path}.sampler_kwargs.seed")
        if cfg.sampler in NEEDS and importlib.util.find_spec(NEEDS[cfg.sampler][0]) is None:
            raise SpecError(NEEDS[cfg.sampler][1], f"{path}.sampler")
        self.dimensions: list[Dimension] = dimensions(spec.matrix)
        self.distributions = {d.name: d.distribution for d in self.dimensions}
        try:
            with _quiet(optuna):
                self._sampler(0)
        except TypeError as exc:
            raise SpecError(f"the {cfg.sampler} sampler does not take these options: {exc}",
                            f"{path}.sampler_kwargs") from None

    def planned_trials(self) -> int:
        return self.config.n_trials  # type: ignore[attr-defined]

    def suggest(self, history: SearchHistory) -> Suggestion | Exhausted:
        cfg: OptunaConfig = self.config  # type: ignore[assignment]
        if len(history) >= cfg.n_trials:
            return Exhausted(f"ran the {cfg.n_trials} trials of the optuna {cfg.sampler} sampler")
        import optuna

        with _quiet(optuna):
            study = optuna.create_study(
                direction="maximize" if self.metric.optimization == "maximize" else "minimize",
                sampler=self._sampler(self.derived_seed(history.next_trial_id)),
            )
            for t in history.trials:
                frozen = self._frozen(optuna, t)
                if frozen is not None:
                    study.add_trial(frozen)
            asked = study.ask(self.distributions)
            attrs = study.get_trials(deepcopy=False)[-1].system_attrs
        params = {d.name: d.from_optuna(asked.params[d.name]) for d in self.dimensions}
        meta: dict[str, Any] = {"sampler": cfg.sampler}
        kept = {k: v for k, v in attrs.items() if len(json.dumps(v, default=str)) <= MAX_ATTR}
        if kept:
            meta[ATTRS] = kept
        return Suggestion(params, meta)

    def _sampler(self, seed: int) -> Any:
        import optuna

        cfg: OptunaConfig = self.config  # type: ignore[assignment]
        kwargs = dict(cfg.sampler_kwargs)
        if cfg.sampler == "tpe":
            kwargs.setdefault("constant_liar", True)  # pending trials count as "lies"
        return getattr(optuna.samplers, SAMPLERS[cfg.sampler])(seed=seed, **kwargs)

    def _frozen(self, optuna: Any, t: TrialRecord) -> Any:
        """The trial as Optuna records it, or None when the matrix cannot represent it."""
        try:
            params = {d.name: d.to_optuna(t.params[d.name]) for d in self.dimensions}
        except (KeyError, NotInSpace):
            return None  # a trial of another matrix (a fork...): it cannot inform this study
        State = optuna.trial.TrialState
        value = None
        if t.status == SUCCEEDED and t.value is not None and math.isfinite(t.value):
            state, value = State.COMPLETE, float(t.value)
        elif t.status in (PENDING, RUNNING):
            state = State.RUNNING
        elif t.status == STOPPED:
            state = State.PRUNED
        else:  # failed, or succeeded without a usable value
            state = State.FAIL
        return optuna.trial.create_trial(
            params=params, distributions=self.distributions, value=value, state=state,
            system_attrs=dict(t.meta.get(ATTRS) or {}),
        )


def _import_optuna(path: str) -> Any:
    try:
        import optuna
    except ImportError:
        raise SpecError(
            "the optuna algorithm needs Optuna: pip install 'hpo-groups[optuna]'", path
        ) from None
    return optuna


@contextlib.contextmanager
def _quiet(optuna: Any) -> Iterator[None]:
    """No "A new study created in memory" line per suggestion, no experimental warnings."""
    level = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            yield
    finally:
        optuna.logging.set_verbosity(level)
