"""The same matrix for Optuna and scikit-optimize: ``uniform``, ``loguniform`` (bounds in log
space, as in the spec), ``range`` (integers, end excluded) and ``values`` (a categorical)."""

from __future__ import annotations

import math
from typing import Any


def _kind(spec: dict) -> tuple[str, Any]:
    (kind, arg), = spec.items()
    return kind, arg


def optuna_params(trial, matrix: dict[str, Any]) -> dict[str, Any]:
    params = {}
    for name, spec in matrix.items():
        kind, arg = _kind(spec)
        if kind == "uniform":
            params[name] = trial.suggest_float(name, arg[0], arg[1])
        elif kind == "loguniform":
            params[name] = trial.suggest_float(name, math.exp(arg[0]), math.exp(arg[1]), log=True)
        elif kind == "range":
            params[name] = trial.suggest_int(name, arg[0], arg[1] - 1)
        elif kind == "values":
            params[name] = trial.suggest_categorical(name, arg)
        else:
            raise ValueError(f"{name}: no Optuna form for {kind}")
    return params


def skopt_dimensions(matrix: dict[str, Any]) -> list:
    from skopt.space import Categorical, Integer, Real

    dims = []
    for name, spec in matrix.items():
        kind, arg = _kind(spec)
        if kind == "uniform":
            dims.append(Real(arg[0], arg[1], name=name))
        elif kind == "loguniform":
            dims.append(Real(math.exp(arg[0]), math.exp(arg[1]), prior="log-uniform", name=name))
        elif kind == "range":
            dims.append(Integer(arg[0], arg[1] - 1, name=name))
        elif kind == "values":
            dims.append(Categorical(list(arg), name=name))
        else:
            raise ValueError(f"{name}: no scikit-optimize form for {kind}")
    return dims


def skopt_params(x: list, matrix: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for (name, spec), v in zip(matrix.items(), x):
        kind, _ = _kind(spec)
        out[name] = int(v) if kind == "range" else (float(v) if kind != "values" else (v.item() if hasattr(v, "item") else v))
    return out
