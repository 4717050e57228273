"""The ``configs`` searcher: run an explicit list of configs, in order.

``hpo restart --failed-only`` and ``hpo restart --trials 3,5`` use it to run again exactly the
configs of those trials, each suggestion's meta naming the trial it restarts (``origin_trial``,
from ``origin_trials``); users can use it to enqueue configs they want tried
(``search: {algorithm: configs, configs: [{...}, ...]}``).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from hpo.errors import SpecError
from hpo.contracts.hookspecs import hookimpl
from hpo.contracts.searcher import Decision, Exhausted, SearchHistory, Searcher, Suggestion


class ConfigsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    configs: list[dict[str, Any]] = Field(min_length=1)
    origin_trials: list[int] | None = None  # the trial each config restarts, one per config

    @model_validator(mode="after")
    def _one_origin_each(self) -> "ConfigsConfig":
        if self.origin_trials is not None and len(self.origin_trials) != len(self.configs):
            raise ValueError(f"origin_trials has {len(self.origin_trials)} entries for "
                             f"{len(self.configs)} configs: give one trial id per config")
        return self


class ConfigsSearcher(Searcher):
    name = "configs"
    version = "1"
    Config = ConfigsConfig
    configs_option = "configs"

    @classmethod
    def extra_params(cls, config: ConfigsConfig) -> tuple[str, ...]:
        """Every name the listed configs give: a config may carry more than the matrix (the
        failed trials of a hyperband group carry its resource)."""
        return tuple(dict.fromkeys(name for c in config.configs for name in c))

    def check_spec(self, spec) -> None:
        super().check_spec(spec)
        names = set(spec.matrix)
        for i, config in enumerate(self.config.configs):
            missing = names - set(config)
            if missing:
                raise SpecError(
                    f"config {i} lacks {', '.join(sorted(missing))} (every matrix param needs a value)",
                    f"{spec.search.path}.configs[{i}]",
                )
            for name, param in spec.matrix.items():  # the engine would refuse it mid-run
                why = param.check_value(config[name])
                if why is not None:
                    raise SpecError(f"config {i} sets {name}={config[name]!r}, outside the matrix: "
                                    f"{why} ({param.path})", f"{spec.search.path}.configs[{i}].{name}")

    def planned_trials(self) -> int:
        return len(self.config.configs)

    def suggest(self, history: SearchHistory) -> Decision:
        n = len(history)
        if n >= len(self.config.configs):
            return Exhausted(f"ran all {len(self.config.configs)} listed configs")
        meta: dict[str, Any] = {"index": n}
        if self.config.origin_trials is not None:
            meta["origin_trial"] = self.config.origin_trials[n]
        return Suggestion(dict(self.config.configs[n]), meta)


@hookimpl
def hpo_register_searchers(register):
    register(ConfigsSearcher)
