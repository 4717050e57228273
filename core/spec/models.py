"""The pydantic models of a parsed spec. :func:`hpo.spec.parse_spec` builds them."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_serializer, field_validator

from hpo.spec.matrix import param_from_json
from hpo.spec.metric import MetricSpec
from hpo.spec.params import Param
from hpo.spec.secrets import EnvRef

FROZEN = ConfigDict(extra="forbid", frozen=True)


class SearchSpec(BaseModel):
    """The selected algorithm and its block's options (minus ``concurrency`` and ``metric``).

    ``path`` is where the block is in the YAML (``settings.hyperband``); the options are
    validated by the search plugin, which names errors under that path.
    """

    model_config = FROZEN

    algorithm: str
    options: dict[str, Any] = Field(default_factory=dict)
    path: str = "settings"


class RunSpec(BaseModel):
    """The trial command and how to run it."""

    model_config = FROZEN

    cmd: str
    timeout: float | None = Field(default=None, gt=0)
    env: dict[str, str | EnvRef] = Field(default_factory=dict)  # EnvRef: resolved at launch
    workdir: str | None = None
    gpus: int = Field(default=0, ge=0)
    # attempts lost to the infrastructure (a worker or host lost, a start that failed) run again
    # up to this many times per trial; with ``retry_on: [exit]`` a non-zero exit too
    max_retries: int = Field(default=2, ge=0, le=100)
    retry_on: list[Literal["exit"]] = Field(default_factory=list)
    # how long trials wait for a runner that cannot reach its backend before the group pauses
    backend_wait: float = Field(default=300.0, gt=0)

    @field_validator("env", mode="before")
    @classmethod
    def _env_as_text(cls, env: Any) -> Any:
        """YAML numbers/booleans in env values become their text (``true``/``false``)."""
        if not isinstance(env, dict):
            return env
        out = {}
        for key, value in env.items():
            if isinstance(value, bool):
                value = "true" if value else "false"
            elif isinstance(value, (int, float)):
                value = str(value)
            out[key] = value
        return out


class RunnerSpec(BaseModel):
    """``runner: {kind: local, ...options}``; the runner plugin validates the options."""

    model_config = FROZEN

    kind: str = "local"
    options: dict[str, Any] = Field(default_factory=dict)
    path: str = "runner"


class StopperSpec(BaseModel):
    """One entry of ``stopping:``; the stopper plugin validates the options."""

    model_config = FROZEN

    kind: str
    options: dict[str, Any] = Field(default_factory=dict)
    path: str = "stopping[0]"


class EarlyStoppingEntry(BaseModel):
    """The seed's early stopping: stop the group once ``metric`` reaches ``value`` (inclusive)."""

    model_config = FROZEN

    metric: str
    value: float
    optimization: Literal["maximize", "minimize"]


class GroupSpec(BaseModel):
    """A parsed, validated group spec. ``to_json``/``from_json`` round-trip it exactly."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    version: int | None = None
    kind: Literal["group"] | None = None
    name: str | None = None
    description: str | None = None
    matrix: dict[str, Param]
    declarations: dict[str, Any] = Field(default_factory=dict)
    search: SearchSpec = Field(default_factory=lambda: SearchSpec(algorithm="grid"))
    concurrency: int = Field(default=1, ge=1)
    metric: MetricSpec | None = None
    seed: int | None = None
    run: RunSpec
    runner: RunnerSpec = Field(default_factory=RunnerSpec)
    early_stopping: list[EarlyStoppingEntry] = Field(default_factory=list)
    stoppers: list[StopperSpec] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)

    @field_serializer("matrix")
    def _matrix_json(self, matrix: dict[str, Param]) -> dict[str, Any]:
        return {name: param.to_json() for name, param in matrix.items()}

    def to_json(self) -> dict[str, Any]:
        """The normalised spec as plain JSON data (what ``GroupCreated`` stores)."""
        return self.model_dump(mode="json")

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "GroupSpec":
        """Rebuild the spec that :meth:`to_json` produced (the matrix is re-validated)."""
        data = dict(data)
        data["matrix"] = {
            name: param_from_json(name, entry) for name, entry in data.get("matrix", {}).items()
        }
        return cls.model_validate(data)

    def param_names(self) -> list[str]:
        return list(self.matrix)

    def space_size(self) -> int | None:
        """Product of the params' cardinalities, or None when some param is continuous."""
        size = 1
        for param in self.matrix.values():
            n = param.cardinality()
            if n is None:
                return None
            size *= n
        return size
