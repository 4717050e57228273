"""Options of the ``bo`` block, with a default for every GP and utility field.

The seed's shape is kept: ``n_initial_trials``, ``n_iterations`` and a ``utility_function`` with
``acquisition_function`` (ucb | ei | poi), ``kappa`` (ucb) or ``eps`` (ei, poi), ``n_warmup`` and
``n_iter`` (as real Polyaxon files write them) and a ``gaussian_process`` block.

Without ``utility_function`` the acquisition is ei with eps 0. Inside a ``utility_function``
block without ``acquisition_function``, a ``kappa`` means ucb (Polyaxon's default, so Polyaxon
files that only set ``kappa`` keep their meaning); without ``kappa`` it is ei, with eps 0 unless
``eps`` is given. An explicit ``ucb`` still needs ``kappa``, an explicit ``ei``/``poi`` ``eps``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

DEFAULT_EPS = 0.0  # ei when no acquisition function is named


class GaussianProcessConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kernel: Literal["rbf", "matern"] = "matern"
    length_scale: float = Field(1.0, gt=0)  # initial length scale of every input column
    nu: float = Field(2.5, gt=0)  # Matern smoothness; 0.5, 1.5, 2.5 are fastest (closed form)
    n_restarts_optimizer: int = Field(0, ge=0)
    # a second kernel term with one length scale shared by every input: a two-scale model that
    # refines much further on some problems, at about twice the fit time (docs/search/bo.md)
    isotropic_term: bool = False
    # the targets as the GP sees them: "power" fits a power transform first, so a metric whose
    # values span orders of magnitude (a few huge losses) does not flatten the rest; "none" is
    # the model before this release (docs/search/bo.md, "Output warping")
    output_warping: Literal["none", "power"] = "power"


class UtilityFunctionConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # None: ucb when `kappa` is given (Polyaxon's default), else ei (see the module doc)
    acquisition_function: Literal["ucb", "ei", "poi"] | None = None
    kappa: float | None = Field(None, ge=0)  # ucb: mean + kappa * std (standardised units)
    eps: float | None = Field(None, ge=0)  # ei/poi: required improvement (standardised units)
    n_warmup: int = Field(1000, ge=1)  # Sobol configurations scored before local search
    n_iter: int = Field(5, ge=0)  # L-BFGS-B starts (the best warm-up points)
    gaussian_process: GaussianProcessConfig = Field(default_factory=GaussianProcessConfig)

    @model_validator(mode="after")
    def _default_acquisition(self) -> "UtilityFunctionConfig":
        if self.acquisition_function is None:
            if self.kappa is not None:
                self.acquisition_function = "ucb"
            else:
                self.acquisition_function = "ei"
                if self.eps is None:
                    self.eps = DEFAULT_EPS
        return self


class BOConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    n_initial_trials: int = Field(5, ge=0)  # random suggestions before the model takes over
    n_iterations: int = Field(20, ge=0)  # model-based suggestions after them
    utility_function: UtilityFunctionConfig = Field(default_factory=UtilityFunctionConfig)

    @property
    def budget(self) -> int:
        return self.n_initial_trials + self.n_iterations
