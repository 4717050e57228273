"""The human summary ``hpo validate`` prints for a valid spec.

Discrete params show their expanded values exactly as trials will receive them (so
``logspace: 0.01:0.1:5`` visibly means 1.023..1.259, not 0.01..0.1); distributions show their
arguments; the warnings come last.
"""

from __future__ import annotations

from typing import Any

from hpo.spec.models import GroupSpec
from hpo.spec.params import Param
from hpo.spec.template import format_value

MAX_SHOWN = 25  # longer value lists show their first and last values only


def _values_text(values: list[Any]) -> str:
    shown = [format_value(v) if not isinstance(v, str) else v for v in values]
    if len(shown) > MAX_SHOWN:
        shown = shown[:20] + ["..."] + shown[-4:]
    return "[" + ", ".join(shown) + "]"


def describe_param(param: Param) -> str:
    args = getattr(param, "describe_args", lambda: "")()
    if param.discrete:
        values = param.values()
        head = "" if param.kind == "values" else f"{param.kind}({args}) -> "
        return f"{head}{_values_text(values)} ({len(values)} values)"
    if param.kind == "pvalues":
        choices = ", ".join(f"{v} p={p:g}" for v, p in param.args["pairs"])  # type: ignore[attr-defined]
        return f"pvalues: {choices}"
    size = param.cardinality()
    reach = f" ({size} reachable values)" if size is not None else ""
    return f"{param.kind}({args}){reach}"


def describe(spec: GroupSpec) -> str:
    """Algorithm, concurrency, metric, space size, every param, run command, warnings."""
    lines = []
    if spec.name:
        lines.append(f"name:        {spec.name}")
    options = ", ".join(f"{k}={v!r}" for k, v in spec.search.options.items())
    lines.append(
        f"algorithm:   {spec.search.algorithm} (from {spec.search.path})"
        + (f" with {options}" if options else "")
    )
    lines.append(f"concurrency: {spec.concurrency}")
    metric = f"{spec.metric.name} ({spec.metric.optimization})" if spec.metric else "none"
    lines.append(f"metric:      {metric}")
    if spec.seed is not None:
        lines.append(f"seed:        {spec.seed}")
    size = spec.space_size()
    lines.append(
        f"space:       {size} combinations"
        if size is not None
        else "space:       infinite (continuous)"
    )
    lines.append("matrix:")
    width = max(len(n) for n in spec.matrix)
    for name, param in spec.matrix.items():
        lines.append(f"  {name:<{width}}  {describe_param(param)}")
    if spec.declarations:
        lines.append("declarations:")
        for name, value in spec.declarations.items():
            lines.append(f"  {name} = {format_value(value)}")
    lines.append(f"run:         {spec.run.cmd}")
    if spec.runner.kind != "local" or spec.runner.options:
        lines.append(f"runner:      {spec.runner.kind} {spec.runner.options or ''}".rstrip())
    for entry in spec.early_stopping:
        op = ">=" if entry.optimization == "maximize" else "<="
        lines.append(f"early stop:  when {entry.metric} {op} {entry.value:g}")
    for stopper in spec.stoppers:
        lines.append(f"stopper:     {stopper.kind} {stopper.options or ''}".rstrip())
    if spec.warnings:
        lines.append("warnings:")
        lines.extend(f"  - {w}" for w in spec.warnings)
    return "\n".join(lines)
