"""``load_spec`` / ``parse_spec``: from YAML (Polyaxon v1 group files included) to a GroupSpec.

The layouts accepted: the seed's ``settings:`` block and Polyaxon's later ``hptuning:`` block
(one of them), with ``matrix`` inside it or at the top level, and ``concurrency`` at the top
level, in the block, or inside the algorithm's own block. The order of checks puts the most
specific problem first: the matrix is parsed before the run command is required.
"""

from __future__ import annotations

import difflib
from collections.abc import Collection
from pathlib import Path
from typing import Any

from hpo.errors import SpecError
from hpo.spec.algorithms import Catalog
from hpo.spec.matrix import parse_matrix
from hpo.spec.metric import MetricSpec, direction_warning
from hpo.spec.models import GroupSpec, SearchSpec
from hpo.spec.sections import (
    BUILTIN_NAMES,
    as_mapping,
    build_model,
    check_json_value,
    check_keys,
    join,
    parse_declarations,
    parse_early_stopping,
    parse_metric,
    parse_run,
    parse_runner,
    parse_stoppers,
)
from hpo.spec.template import TemplateError, check_contexts, check_expression, is_name, sample_values, template_names
from hpo.spec.yamlload import load_yaml, read_spec_text

DEFAULT_ALGORITHM = "grid"  # a spec without an algorithm block runs a grid, as Polyaxon's do
TOP_KEYS = (
    "version", "kind", "name", "description", "matrix", "declarations", "params", "settings",
    "hptuning", "search", "concurrency", "metric", "seed", "run", "exec", "runner",
    "early_stopping", "stopping",
)  # fmt: skip
PLATFORM = "a Polyaxon platform section hpo does not use"
TOP_IGNORED = {
    "build": PLATFORM,
    "environment": PLATFORM,
    "logging": PLATFORM,
    "tags": PLATFORM,
    "project": PLATFORM,
    "framework": PLATFORM,
    "backend": PLATFORM,
    "model": "a polyaxon-lib section hpo does not use",
    "train": "a polyaxon-lib section hpo does not use",
}
SECTION_KEYS = (
    "matrix", "concurrency", "concurrent_experiments", "n_experiments", "seed", "metric",
    "early_stopping", "stopping", "search",
)  # fmt: skip
SECTION_IGNORED = {"run_type": PLATFORM, "logging": PLATFORM}


def load_spec(path: str | Path, algorithms: Collection[Any] = ()) -> GroupSpec:
    """Read and parse a spec file; every SpecError carries ``file=str(path)``."""
    return parse_spec(read_spec_text(path), source=str(path), algorithms=algorithms)


def parse_spec(
    data: dict[str, Any] | str, source: str = "<spec>", algorithms: Collection[Any] = ()
) -> GroupSpec:
    """Parse a spec given as YAML text or as already-loaded data.

    The installed searchers say which keys select them; ``algorithms`` adds searcher classes
    (or bare names) that are not installed, such as the one a conformance test checks.
    """
    try:
        if isinstance(data, str):
            data = load_yaml(data, source)
        return _build(data, Catalog.installed(algorithms))
    except SpecError as exc:
        raise (exc if exc.file else exc.with_file(source)) from None


def _pick(candidates: list[tuple[Any, str]], what: str) -> tuple[Any, str] | None:
    """The one value given for ``what``; two different values are an error naming both."""
    if not candidates:
        return None
    first_value, first_path = candidates[0]
    for value, path in candidates[1:]:
        if value != first_value:
            raise SpecError(
                f"conflicting {what}: {first_value!r} at {first_path} and {value!r} at {path}; "
                "keep one",
                path,
            )
    return candidates[0]


def _one_of(data: dict[str, Any], keys: tuple[str, str], path: str = "") -> str | None:
    present = [k for k in keys if k in data]
    if len(present) > 1:
        raise SpecError(
            f"both {keys[0]!r} and {keys[1]!r} are given; keep one", join(path, keys[1])
        )
    return present[0] if present else None


def _check_version(data: dict[str, Any]) -> int | None:
    version = data.get("version")
    if version is None:
        return None
    if isinstance(version, bool) or version != 1:
        raise SpecError(
            f"unsupported version {version!r}: hpo reads Polyaxon v1 group files "
            "(`version: 1`) or files with no version",
            "version",
        )
    return 1


def _check_kind(data: dict[str, Any]) -> str | None:
    kind = data.get("kind")
    if kind is not None and kind != "group":
        raise SpecError(f"kind must be 'group' (hpo runs experiment groups), got {kind!r}", "kind")
    return kind


def _check_text(data: dict[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is not None and not isinstance(value, str):
        raise SpecError(f"expected a string, got {value!r}", key)
    return value


class _Search:
    """Finds the algorithm block and splits ``concurrency``/``metric`` out of its options."""

    def __init__(self, data: dict, section: dict, section_path: str, catalog: Catalog):
        self.catalog = catalog
        selects = catalog.block_keys()
        blocks = [k for k in section if k in selects]
        found = [(k, join(section_path, k)) for k in blocks if k != "search"]
        generic = _one_of_sources(data, section, section_path, "search")
        if generic is not None:
            found.append(("search", generic[1]))
        if len(found) > 1:
            raise SpecError(
                f"two search algorithms are given, {found[0][1]} and {found[1][1]}; keep one",
                found[1][1],
            )
        if not found:
            self.spec = SearchSpec(algorithm=DEFAULT_ALGORITHM, options={}, path=section_path or "settings")
        elif found[0][0] == "search":
            self.spec = self._generic(*generic)  # type: ignore[misc]
        else:
            key, path = found[0]
            options = dict(as_mapping(section[key], path, "a mapping of the algorithm's options"))
            check_json_value(options, path)
            self.spec = SearchSpec(algorithm=selects[key], options=options, path=path)

    def _generic(self, raw: Any, path: str) -> SearchSpec:
        options = dict(as_mapping(raw, path, "a mapping {algorithm: NAME, ...options}"))
        name = options.pop("algorithm", None)
        if name is None:
            raise SpecError("the search block needs `algorithm: NAME`", join(path, "algorithm"))
        known = self.catalog.names()
        algorithm = self.catalog.algorithm(name)
        if algorithm is None:
            close = difflib.get_close_matches(str(name), known + list(self.catalog.block_keys()), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise SpecError(
                f"unknown algorithm {name!r}{hint}; known: {', '.join(known)}",
                join(path, "algorithm"),
            )
        check_json_value(options, path)
        return SearchSpec(algorithm=algorithm, options=options, path=path)


def _one_of_sources(
    data: dict[str, Any], section: dict[str, Any], section_path: str, key: str
) -> tuple[Any, str] | None:
    """``key`` at the top level or in the settings/hptuning block, not both."""
    here = [
        (src[key], join(p, key)) for src, p in ((data, ""), (section, section_path)) if key in src
    ]
    if len(here) > 1:
        raise SpecError(f"{key!r} is given both at the top level and in {section_path}", here[1][1])
    return here[0] if here else None


def _concurrency(candidates: list[tuple[Any, str]]) -> int:
    for value, path in candidates:
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise SpecError(f"concurrency must be an integer >= 1, got {value!r}", path)
    picked = _pick(candidates, "concurrency")
    return picked[0] if picked else 1


def _check_templates(cmd: str, allowed: dict[str, str], path: str, sample: dict[str, Any]) -> None:
    try:
        check_contexts(cmd)
    except TemplateError as exc:
        raise SpecError(str(exc), path) from None
    for expr in template_names(cmd):
        if is_name(expr) and expr in allowed:
            continue
        names = ", ".join(allowed)
        if not is_name(expr):  # an expression, as Polyaxon's Jinja rendering allowed
            try:
                check_expression(expr, list(allowed), sample)
            except TemplateError as exc:
                raise SpecError(str(exc), path) from None
            continue
        close = difflib.get_close_matches(expr, list(allowed), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise SpecError(
            f"template {{{{ {expr} }}}} names no matrix param, declaration, param the search "
            f"algorithm adds (such as a resource) or builtin{hint}; allowed: {names}",
            path,
        )


class _Layout:
    """The top-level mapping and its ``settings``/``hptuning`` block (``section``), if any."""

    def __init__(self, data: dict[str, Any], catalog: Catalog, warnings: list[str]):
        check_keys(data, "", TOP_KEYS, warnings, TOP_IGNORED)
        self.data = data
        key = _one_of(data, ("settings", "hptuning"))
        self.section_path = key or ""
        self.section = as_mapping(data.get(key), self.section_path) if key else {}
        known = SECTION_KEYS + tuple(catalog.block_keys())
        check_keys(self.section, self.section_path, known, warnings, SECTION_IGNORED)

    def given(self, key: str) -> list[tuple[Any, str]]:
        """``(value, path)`` of ``key`` at the top level and in the block, where not null."""
        places = ((self.data, ""), (self.section, self.section_path))
        return [(src[key], join(p, key)) for src, p in places if src.get(key) is not None]

    def one(self, key: str) -> tuple[Any, str] | None:
        """``key`` at the top level or in the block, not both."""
        return _one_of_sources(self.data, self.section, self.section_path, key)


def _declarations(
    data: dict[str, Any], matrix: dict[str, Any], warnings: list[str]
) -> dict[str, Any]:
    key = _one_of(data, ("declarations", "params"))
    declarations = parse_declarations(data.get(key), key) if key else {}
    for name in [n for n in declarations if n in matrix]:
        del declarations[name]
        warnings.append(
            f"{key}.{name}: also a matrix param; the matrix wins and the declaration is dropped"
        )
    for name in list(matrix) + list(declarations):
        if name in BUILTIN_NAMES:
            raise SpecError(f"{name!r} is a builtin template name; rename the parameter", name)
    return declarations


def _take_concurrency(layout: _Layout, search: SearchSpec) -> int:
    """From the top level, the block (also as ``concurrent_experiments``) or the algorithm."""
    candidates = layout.given("concurrency")
    old = layout.section.get("concurrent_experiments")
    if old is not None:
        candidates.append((old, join(layout.section_path, "concurrent_experiments")))
    in_block = search.options.pop("concurrency", None)
    if in_block is not None:
        candidates.append((in_block, join(search.path, "concurrency")))
    return _concurrency(candidates)


def _take_metric(layout: _Layout, search: SearchSpec, warnings: list[str]) -> MetricSpec | None:
    """From the algorithm's block, the settings/hptuning block or the top level."""
    candidates, raws = [], {}
    if "metric" in search.options:
        path = join(search.path, "metric")
        raws[path] = search.options.pop("metric")
        candidates.append((parse_metric(raws[path], path), path))
    for raw, path in reversed(layout.given("metric")):
        raws[path] = raw
        candidates.append((parse_metric(raw, path), path))
    picked = _pick(candidates, "metric")
    if picked and (warning := direction_warning(raws[picked[1]], picked[0], picked[1])):
        warnings.append(warning)
    return picked[0] if picked else None


def _move_n_experiments(layout: _Layout, search: SearchSpec) -> None:
    """The oldest layout's ``settings.n_experiments`` belongs to the algorithm's options."""
    if "n_experiments" not in layout.section:
        return
    value = layout.section["n_experiments"]
    candidates = [(value, join(layout.section_path, "n_experiments"))]
    if "n_experiments" in search.options:
        candidates.append((search.options["n_experiments"], join(search.path, "n_experiments")))
    _pick(candidates, "n_experiments")
    search.options["n_experiments"] = value


def _seed(layout: _Layout, search: SearchSpec) -> int | None:
    """The group seed: at the top level, in the block, or in the algorithm's block
    (``random_search: {n_experiments: 10, seed: 4}``, as Polyaxon's later format writes it)."""
    candidates = layout.given("seed")
    in_block = search.options.pop("seed", None)
    if in_block is not None:
        candidates.append((in_block, join(search.path, "seed")))
    picked = _pick(candidates, "seed")
    if picked is None:
        return None
    seed, path = picked
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise SpecError(f"seed must be an integer >= 0, got {seed!r}", path)
    return seed


def _template_names_allowed(
    cmd: str, matrix: dict, declarations: dict, search: SearchSpec, catalog: Catalog
) -> dict[str, str]:
    """The names ``cmd`` may use; the algorithm's own (a resource) are asked for only when the
    command names something else, since that validates the algorithm's options."""
    allowed = {n: "matrix" for n in matrix}
    allowed.update({n: "declaration" for n in declarations})
    allowed.update({n: "builtin" for n in BUILTIN_NAMES})
    if all(name in allowed for name in template_names(cmd)):
        return allowed
    for name in catalog.extra_params(search.algorithm, search.options, search.path):
        allowed.setdefault(name, f"{search.algorithm} param")
    return allowed


def _check_no_nul(value: Any, path: str) -> None:
    """No text of the spec holds a NUL character (YAML writes one as ``"\\0"``): none can reach a
    command line, an environment or a file name, so it would fail every trial at launch."""
    if isinstance(value, str):
        if "\0" in value:
            raise SpecError(f"a NUL character (\\0) cannot be in a command, an environment or a "
                            f"value, got {value!r}", path)
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_no_nul(key, path)
            _check_no_nul(item, join(path, str(key).replace("\0", "\\0")))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _check_no_nul(item, f"{path}[{i}]")


def _build(data: Any, catalog: Catalog) -> GroupSpec:
    if data is None:
        raise SpecError("the spec is empty")
    if not isinstance(data, dict):
        raise SpecError(f"expected a mapping at the top level, got {type(data).__name__}")
    _check_no_nul(data, "")
    warnings: list[str] = []
    version, kind = _check_version(data), _check_kind(data)
    layout = _Layout(data, catalog, warnings)

    matrix_src = layout.one("matrix")
    if matrix_src is None:
        where = join(layout.section_path, "matrix")
        raise SpecError("no matrix: declare the search space under `matrix:`", where)
    matrix = parse_matrix(*matrix_src)
    declarations = _declarations(data, matrix, warnings)

    search = _Search(data, layout.section, layout.section_path, catalog).spec
    concurrency = _take_concurrency(layout, search)
    metric = _take_metric(layout, search, warnings)
    _move_n_experiments(layout, search)
    seed = _seed(layout, search)
    es_src, stop_src = layout.one("early_stopping"), layout.one("stopping")

    fields: dict[str, Any] = {
        "version": version,
        "kind": kind,
        "name": _check_text(data, "name"),
        "description": _check_text(data, "description"),
        "matrix": matrix,
        "declarations": declarations,
        "search": search,
        "concurrency": concurrency,
        "metric": metric,
        "seed": seed,
        "early_stopping": parse_early_stopping(*es_src) if es_src else [],
        "stoppers": parse_stoppers(*stop_src) if stop_src else [],
        "warnings": warnings,
    }
    if "runner" in data:
        fields["runner"] = parse_runner(data["runner"], "runner")

    run_key = _one_of(data, ("run", "exec"))
    if run_key is None:
        raise SpecError("missing run command: every group needs `run: {cmd: ...}`", "run.cmd")
    fields["run"] = run = parse_run(data[run_key], run_key, warnings)
    allowed = _template_names_allowed(run.cmd, matrix, declarations, search, catalog)
    _check_templates(run.cmd, allowed, join(run_key, "cmd"),
                     sample_values(matrix, declarations, allowed))
    return build_model(GroupSpec, fields, "")
