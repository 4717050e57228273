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


LOSS_LIKE = ("loss", "error", "err", "mse", "rmse", "mae")


def looks_like_a_loss(name: str) -> bool:
    """``val_loss``, ``test-error``, ``rmse``: names people minimise."""
    words = name.lower().replace("-", "_").replace(".", "_").replace("/", "_").split("_")
    return any(w in LOSS_LIKE for w in words) or name.lower().endswith("loss")


def direction_warning(raw: object, metric: MetricSpec, path: str) -> str | None:
    """A warning for a metric written without ``optimization``: the default (maximize) is
    assumed silently otherwise, and ``metric: {name: val_loss}`` would climb the loss."""
    if isinstance(raw, dict) and raw.get("optimization") is not None:
        return None
    if looks_like_a_loss(metric.name):
        return (f"{path}: no optimization given, so {metric.name} will be MAXIMIZED; a name like "
                f"{metric.name!r} is usually minimized: add `optimization: minimize` (or "
                "`optimization: maximize` if that is really meant)")
    return (f"{path}: no optimization given; {metric.name} is maximized (the default): add "
            "`optimization: maximize` to say so, or `optimization: minimize`")
