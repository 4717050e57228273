"""The metric a group optimises."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict


class MetricSpec(BaseModel):
    """``{name, optimization}`` as in the seed's hyperband and bo blocks."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    optimization: Literal["maximize", "minimize"] = "maximize"

    def better(self, a: float, b: float) -> bool:
        """True when value ``a`` is strictly better than ``b``."""
        return a > b if self.optimization == "maximize" else a < b

    def sign(self) -> float:
        """+1 for maximize, -1 for minimize: ``sign * value`` is always 'higher is better'."""
        return 1.0 if self.optimization == "maximize" else -1.0
