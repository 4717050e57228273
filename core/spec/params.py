"""The interface every matrix parameter kind implements.

Search algorithms only talk to parameters through this interface, so a new matrix kind needs no
change in any searcher. Concrete kinds live in :mod:`hpo.spec.matrix`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np


@dataclass(frozen=True)
class Categorical:
    """An unordered finite domain (``values`` of strings/bools/mixed, ``pvalues``)."""

    choices: tuple[Any, ...]
    weights: tuple[float, ...] | None = None  # pvalues probabilities, None = uniform


@dataclass(frozen=True)
class Numeric:
    """An ordered numeric domain, as a model-based searcher sees it.

    ``low``/``high`` are the bounds in the *value* space; ``log`` says the searcher should work on
    ``log(value)``; ``q`` is the quantisation step (values are ``round(x / q) * q``); ``grid`` is
    the finite sorted list of reachable values for discrete kinds (snap targets), else None.
    ``bounded`` is False for the normal family (unbounded support).
    """

    low: float
    high: float
    log: bool = False
    q: float | None = None
    integer: bool = False
    grid: tuple[float, ...] | None = None
    bounded: bool = True


class Param(ABC):
    """One entry of the matrix.

    ``kind`` is the YAML key (``values``, ``range``, ``linspace``, ``logspace``, ``geomspace``,
    ``pvalues``, ``uniform``, ``quniform``, ``loguniform``, ``qloguniform``, ``normal``,
    ``qnormal``, ``lognormal``, ``qlognormal``). ``discrete`` is True for the five kinds that
    expand to a finite list of values (the only kinds a grid accepts).
    """

    kind: ClassVar[str]
    discrete: ClassVar[bool]

    def __init__(self, name: str, path: str):
        self.name = name
        self.path = path  # YAML path of the kind's key, e.g. "settings.matrix.lr.uniform"

    @abstractmethod
    def values(self) -> list[Any]:
        """Expanded values of a discrete kind, in order. Distributions raise SpecError."""

    @abstractmethod
    def sample(self, rng: np.random.Generator) -> Any:
        """Draw one value (discrete kinds: uniformly among ``values()``; pvalues: weighted)."""

    @abstractmethod
    def cardinality(self) -> int | None:
        """Number of distinct reachable values, or None when it is infinite."""

    @abstractmethod
    def domain(self) -> Categorical | Numeric:
        """The domain as a model-based searcher (BO) sees it."""

    @abstractmethod
    def to_json(self) -> dict[str, Any]:
        """Normalised form: ``{"kind": ..., "args": {...}}`` plus ``"values": [...]`` when discrete."""

    @abstractmethod
    def check_value(self, value: Any) -> str | None:
        """Why ``value`` is not one this param can take (None when it is).

        The engine asks this of every suggested value before a trial is launched, so a searcher
        can never run a trial outside the matrix: a listed value (within float noise), a number
        inside the bounds and on the ``q`` grid, an integer where the kind has only integers.
        """

    def contains(self, value: Any) -> bool:
        """Whether ``value`` is one this param can take."""
        return self.check_value(value) is None
