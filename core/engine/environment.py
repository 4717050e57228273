"""The versions that shape a group's suggestions, recorded in ``EngineStarted.environment``.

A searcher's suggestions are a pure function of the spec, the seed and the history, computed
with floating point: another numpy, scipy or scikit-learn (or Python) may round the last digit
differently. Recording what each engine ran with lets ``hpo replay --check`` tell such float
noise, and the upgrade that explains it, from a real divergence.
"""

from __future__ import annotations

import platform
from importlib import metadata

from hpo.contracts.registry import Registry
from hpo.spec import GroupSpec

NUMERIC = ("numpy", "scipy", "scikit-learn")


def environment(spec: GroupSpec, registry: Registry) -> dict[str, str]:
    """``{"python": ..., "numpy": ..., ...}`` and the distribution and version of each plugin the
    group uses (its searcher, runner and stoppers); a package that is not installed is left out."""
    out = {"python": platform.python_version()}
    for name in NUMERIC:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    kinds = [("searcher", spec.search.algorithm), ("runner", spec.runner.kind)]
    kinds += [("stopper", "early_stopping")] if spec.early_stopping else []
    kinds += [("stopper", s.kind) for s in spec.stoppers]
    for kind, name in kinds:
        reg = registry.origin(kind, name)
        if reg is not None and reg.distribution not in ("", "?"):
            out[reg.distribution] = reg.version
    return out


def changes(then: dict[str, str] | None, now: dict[str, str]) -> list[str]:
    """``["numpy 2.4.6 → 2.5.5", ...]``: what differs between two environments."""
    if not then:
        return []
    out = []
    for name in sorted(set(then) | set(now)):
        old, new = then.get(name), now.get(name)
        if old != new:
            out.append(f"{name} {old or '(none)'} → {new or '(none)'}")
    return out
