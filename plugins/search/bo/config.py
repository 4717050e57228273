"""Options of the ``bo`` block, with a default for every GP and utility field.

The seed's shape is kept: ``n_initial_trials``, ``n_iterations`` and a ``utility_function`` with
``acquisition_function`` (ucb | ei | poi), ``kappa`` (ucb) or ``eps`` (ei, poi), ``n_warmup`` and
``n_iter`` (as real Polyaxon files write them) and a ``gaussian_process`` block.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

DEFAULT_KAPPA = 2.576


class GaussianProcessConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kernel: Literal["rbf", "matern"] = "matern"
    length_scale: float = Field(1.0, gt=0)  # initial length scale of every input column
    nu: float = Field(2.5, gt=0)  # Matern smoothness; 0.5, 1.5, 2.5 are fastest (closed form)
    n_restarts_optimizer: int = Field(0, ge=0)


class UtilityFunctionConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    acquisition_function: Literal["ucb", "ei", "poi"] = "ucb"
    kappa: float | None = Field(None, ge=0)  # ucb: mean + kappa * std (standardised units)
    eps: float | None = Field(None, ge=0)  # ei/poi: required improvement (standardised units)
    n_warmup: int = Field(1000, ge=1)  # random configurations scored before local search
    n_iter: int = Field(5, ge=0)  # L-BFGS-B starts (the best warm-up points)
    gaussian_process: GaussianProcessConfig = Field(default_factory=GaussianProcessConfig)


class BOConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    n_initial_trials: int = Field(5, ge=0)  # random suggestions before the model takes over
    n_iterations: int = Field(20, ge=0)  # model-based suggestions after them
    utility_function: UtilityFunctionConfig = Field(
        default_factory=lambda: UtilityFunctionConfig(kappa=DEFAULT_KAPPA)
    )

    @property
    def budget(self) -> int:
        return self.n_initial_trials + self.n_iterations
