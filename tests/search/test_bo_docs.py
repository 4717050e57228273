"""docs/search/bo.md: its spec loads with the documented defaults, its error text is real."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from hpo.errors import SpecError
from hpo.plugins.search.bo import BOSearcher
from hpo.spec import parse_spec

DOC = (Path(__file__).parents[2] / "docs" / "search" / "bo.md").read_text(encoding="utf-8")


def blocks(lang):
    return re.findall(rf"```{lang}\n(.*?)```", DOC, flags=re.S)


def test_the_seed_block_loads_as_written():
    searcher = BOSearcher(parse_spec(blocks("yaml")[0], source="docs/search/bo.md"), seed=0)
    uf = searcher.config.utility_function
    assert (uf.acquisition_function, uf.kappa, uf.gaussian_process.nu) == ("ucb", 2.576, 1.9)
    assert searcher.planned_trials() == 15


def test_the_documented_defaults():
    text = "run: {cmd: train}\nsettings:\n  bo: {metric: {name: loss}}\n  matrix: {x: {uniform: [0, 1]}}\n"
    cfg = BOSearcher(parse_spec(text), seed=0).config
    uf, gp = cfg.utility_function, cfg.utility_function.gaussian_process
    table = {
        "n_initial_trials": cfg.n_initial_trials, "n_iterations": cfg.n_iterations,
        "utility_function.acquisition_function": uf.acquisition_function,
        "utility_function.n_warmup": uf.n_warmup, "utility_function.n_iter": uf.n_iter,
        "gaussian_process.kernel": gp.kernel, "gaussian_process.length_scale": gp.length_scale,
        "gaussian_process.nu": gp.nu, "gaussian_process.n_restarts_optimizer": gp.n_restarts_optimizer,
        "gaussian_process.isotropic_term": gp.isotropic_term,
        "gaussian_process.output_warping": gp.output_warping,
    }
    for field, value in table.items():
        assert f"| `{field}` | {value if not isinstance(value, str) else f'`{value}`'} |" in DOC, field
    assert (uf.eps, uf.kappa) == (0.0, None)


def test_the_normal_family_error_is_the_documented_one():
    text = "run: {cmd: train}\nsettings:\n  bo: {metric: {name: loss}}\n  matrix: {lr: {normal: [0, 1]}}\n"
    with pytest.raises(SpecError) as err:
        BOSearcher(parse_spec(text, source="group.yml"), seed=0)
    shown = " ".join(blocks("text")[0].split())
    assert f"{err.value.path}: {err.value.message}" in shown
