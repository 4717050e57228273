"""``n_experiments``: the budget option shared by grid and random search."""

from __future__ import annotations

import math

from pydantic import BaseModel, ConfigDict, Field


class NExperimentsConfig(BaseModel):
    """``n_experiments``: a count, or (as old Polyaxon files write it) a fraction in (0, 1)."""

    model_config = ConfigDict(extra="forbid")

    n_experiments: int | float | None = Field(None, gt=0)

    def limit(self, space_size: int | None) -> int | None:
        """The number of trials to run, given the reachable space size (None = infinite)."""
        n = self.n_experiments
        if n is None:
            return space_size
        if isinstance(n, float) and not n.is_integer():
            if n >= 1:
                raise ValueError("n_experiments must be a whole number or a fraction below 1")
            if space_size is None:
                return None
            return max(1, math.floor(n * space_size))
        return int(n) if space_size is None else min(int(n), space_size)
