"""The ``configs`` searcher: run an explicit list of configs, in order.

``hpo restart --failed-only`` uses it to run again exactly the configs that failed; users can use
it to enqueue configs they want tried (``search: {algorithm: configs, configs: [{...}, ...]}``).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from hpo.errors import SpecError
from hpo.contracts.hookspecs import hookimpl
from hpo.contracts.searcher import Decision, Exhausted, SearchHistory, Searcher, Suggestion


class ConfigsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    configs: list[dict[str, Any]] = Field(min_length=1)


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
        return Suggestion(dict(self.config.configs[n]), {"index": n})


@hookimpl
def hpo_register_searchers(register):
    register(ConfigsSearcher)
