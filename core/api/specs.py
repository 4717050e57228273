"""Specs given to the Python API: a file path, YAML text, a dict or a :class:`GroupSpec`.

A spec for the API may leave out ``run:``: its trials are then run by Python code (ask/tell or
``hpo.optimize``), and a placeholder command is recorded, since every stored spec has one.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from hpo.errors import SpecError
from hpo.api.objective import objective_ref
from hpo.contracts.registry import Registry
from hpo.spec import GroupSpec, RunnerSpec, StopperSpec, parse_spec
from hpo.spec.yamlload import load_yaml, read_spec_text

ASK_TELL_CMD = "(ask/tell: the trials are run by the Python code that asks for them)"
OBJECTIVE_CMD = "(a Python objective: see runner.objective)"
SpecLike = str | Path | dict | GroupSpec


@dataclass(frozen=True)
class SpecSource:
    spec: GroupSpec
    text: str = ""  # the YAML as written, when the spec came as text or a file
    path: str | None = None
    has_command: bool = True  # the spec gave `run: {cmd: ...}`
    has_runner: bool = True  # the spec gave `runner:`


def read_spec(spec: SpecLike, registry: Registry) -> SpecSource:
    """Parse whatever form the caller gave; errors name the file (or ``<python>``) and path."""
    if isinstance(spec, GroupSpec):
        return SpecSource(spec, has_runner=spec.runner != RunnerSpec())
    text, path, source = "", None, "<python>"
    if isinstance(spec, Path) or (isinstance(spec, str) and _looks_like_path(spec)):
        file = Path(spec)
        if not file.is_file():
            raise SpecError(f"no such spec file: {file}", "", str(file))
        text, path, source = read_spec_text(file), str(file.resolve()), str(file)
        data: Any = load_yaml(text, source)
    elif isinstance(spec, str):
        text = spec
        data = load_yaml(text, source)
    elif isinstance(spec, dict):
        data = copy.deepcopy(spec)
    else:
        raise SpecError(
            f"expected a spec file path, YAML text, a dict or a GroupSpec, got {type(spec).__name__}"
        )
    has_command = isinstance(data, dict) and ("run" in data or "exec" in data)
    has_runner = isinstance(data, dict) and "runner" in data
    if isinstance(data, dict) and not has_command:
        data["run"] = {"cmd": ASK_TELL_CMD}
    searchers = [r.cls for r in registry.all() if r.kind == "searcher"]  # the caller's registry
    parsed = parse_spec(data, source=source, algorithms=searchers)
    return SpecSource(parsed, text, path, has_command, has_runner)


def _looks_like_path(text: str) -> bool:
    if "\n" in text:
        return False
    if text.endswith((".yaml", ".yml", ".json")):
        return True
    try:
        return Path(text).is_file()
    except OSError:  # e.g. a one-line YAML spec longer than a file name may be
        return False


def for_ask_tell(src: SpecSource) -> GroupSpec:
    """Without a command or a runner, the group's trials can only run from Python."""
    if src.has_command or src.has_runner:
        return src.spec
    return src.spec.model_copy(update={"runner": _python_runner(src.spec, {})})


def for_objective(
    src: SpecSource,
    objective: Callable[..., Any],
    backend: str,
    n_trials: int | None,
    concurrency: int | None,
) -> GroupSpec:
    """The spec ``hpo.optimize`` records: the python runner, the budget, the concurrency."""
    spec = src.spec
    runner = spec.runner
    if src.has_runner and runner.kind != "python":
        raise SpecError(
            f"hpo.optimize runs a Python objective, but the spec selects the {runner.kind!r} "
            "runner; remove `runner:` (commands run with `hpo run`)",
            runner.path,
        )
    options = dict(runner.options) if runner.kind == "python" else {}
    options.update(objective=objective_ref(objective), backend=backend)
    update: dict[str, Any] = {"runner": _python_runner(spec, options)}
    if src.has_command is False:
        update["run"] = spec.run.model_copy(update={"cmd": OBJECTIVE_CMD})
    if n_trials is not None:
        budget = StopperSpec(kind="budget", options={"max_trials": n_trials}, path="n_trials")
        update["stoppers"] = [*spec.stoppers, budget]
    if concurrency is not None:
        update["concurrency"] = concurrency
    return spec.model_copy(update=update)


def _python_runner(spec: GroupSpec, options: dict[str, Any]) -> RunnerSpec:
    options = dict(options)
    if spec.metric is not None:
        options.setdefault("metric", spec.metric.name)
    return RunnerSpec(kind="python", options=options, path="runner")
