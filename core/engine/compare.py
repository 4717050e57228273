"""Comparing a logged suggestion with the one replay re-derives: float noise apart from real
differences, each named by its key.

Two numbers are equal up to noise when ``math.isclose(a, b, rel_tol=REL_TOL, abs_tol=ABS_TOL)``:
relative 1e-9 (a float carries about 16 significant digits; a numpy or BLAS upgrade that
reorders a sum changes the last one or two), absolute 1e-12 for values near zero. Anything
else that differs (a different category, a value beyond the tolerance, a key added or missing)
is a real divergence.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

REL_TOL = 1e-9
ABS_TOL = 1e-12


@dataclass
class Differences:
    real: list[str] = field(default_factory=list)  # "params.lr: logged 0.1, replayed 0.2"
    noise: list[str] = field(default_factory=list)


def _number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def differences(logged: Any, replayed: Any, path: str = "") -> Differences:
    """Every key under which ``logged`` and ``replayed`` (JSON data) differ."""
    out = Differences()
    _walk(logged, replayed, path, out)
    return out


def _walk(a: Any, b: Any, path: str, out: Differences) -> None:
    if isinstance(a, dict) and isinstance(b, dict):
        for key in list(a) + [k for k in b if k not in a]:
            where = f"{path}.{key}" if path else str(key)
            if key not in b:
                out.real.append(f"{where}: logged {a[key]!r}, not replayed")
            elif key not in a:
                out.real.append(f"{where}: not logged, replayed {b[key]!r}")
            else:
                _walk(a[key], b[key], where, out)
    elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b)):
            _walk(x, y, f"{path}[{i}]", out)
    elif _number(a) and _number(b):
        if a == b or (isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b)):
            return
        said = f"{path}: logged {a!r}, replayed {b!r}"
        (out.noise if math.isclose(a, b, rel_tol=REL_TOL, abs_tol=ABS_TOL) else out.real).append(said)
    elif a != b or type(a) is not type(b):
        out.real.append(f"{path}: logged {a!r}, replayed {b!r}")
