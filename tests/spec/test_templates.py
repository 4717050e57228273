"""``{{ name }}`` templates: names, formatting, shell quoting, and the checks in parse_spec."""

from __future__ import annotations

import subprocess

import pytest

from hpo.errors import SpecError
from hpo.spec import parse_spec
from hpo.spec.template import format_value, render, template_names


def test_template_names_in_order_with_or_without_spaces():
    cmd = "train {{ a }} --b={{b}} {{  a }} {{ reward + 0.01 }}"
    assert template_names(cmd) == ["a", "b", "reward + 0.01"]


@pytest.mark.parametrize(
    "value, text",
    [(3, "3"), (0.1, "0.1"), (1e-5, "1e-05"), (2.0, "2.0"), (True, "true"), (False, "false"),
     (None, ""), ("relu", "relu"), ([1, 2], "[1, 2]")],
)  # fmt: skip
def test_format_value(value, text):
    assert format_value(value) == text


def test_render_plain_values():
    assert (
        render("train --lr={{ lr }} --n {{n}}", {"lr": 0.001, "n": 5}) == "train --lr=0.001 --n 5"
    )
    assert render("x {{ flag }}", {"flag": True}) == "x true"


def run_sh(cmd: str, cwd) -> str:
    return subprocess.run(
        ["sh", "-c", cmd], cwd=cwd, capture_output=True, text=True, check=True
    ).stdout


HOSTILE = ["$(touch pwned); rm -rf ~", "`touch pwned`", "a b", "it's", 'x"y', "; touch pwned", "*"]
CONTEXTS = [
    "printf '%s\\n' {{ v }}",
    "printf '%s\\n' --v={{ v }}",
    "printf '%s\\n' \"{{ v }}\"",
    "printf '%s\\n' \"--v={{ v }}\"",
    "printf '%s\\n' '{{ v }}'",
    "printf '%s\\n' \"it's {{ v }}\"",
]


@pytest.mark.parametrize("value", HOSTILE)
@pytest.mark.parametrize("cmd", CONTEXTS)
def test_rendered_values_are_inert_data(tmp_path, cmd, value):
    out = run_sh(render(cmd, {"v": value}), tmp_path)
    expected = run_sh(cmd.replace("{{ v }}", "X"), tmp_path).replace("X", value)
    assert out == expected
    assert list(tmp_path.iterdir()) == []


def test_render_unknown_name_is_a_key_error():
    with pytest.raises(KeyError):
        render("{{ nope }}", {})


SPEC = """
matrix:
  lr: {values: [0.1]}
declarations:
  batch: 32
settings:
  hyperband:
    max_iter: 9
    resource: {name: epochs, type: int}
run:
  cmd: CMD
"""


def spec_with(cmd: str):
    return parse_spec(SPEC.replace("CMD", cmd))


def test_allowed_template_names():
    spec = spec_with(
        "t {{lr}} {{ batch }} {{ epochs }} {{ trial_id }} {{group_id}} {{ trial_dir }} {{ checkpoint_dir }}"
    )
    assert "{{ epochs }}" in spec.run.cmd


def test_expression_template_is_rejected():
    with pytest.raises(SpecError) as info:
        spec_with("t {{ lr + 0.01 }}")
    assert info.value.path == "run.cmd"
    assert "{{ lr + 0.01 }} is not a bare name" in info.value.message
    assert "trial_id" in info.value.message


def test_literal_template_is_rejected():
    with pytest.raises(SpecError, match=r"\{\{ 128 \}\} is not a bare name"):
        spec_with("t {{ 128 }}")


def test_unknown_template_suggests_closest():
    with pytest.raises(SpecError, match="did you mean 'batch'"):
        spec_with("t {{ bacth }}")


def test_resource_name_only_counts_for_hyperband():
    text = (SPEC.replace("hyperband", "random_search").replace("CMD", "t {{ epochs }}")
            .replace("    max_iter: 9\n    resource: {name: epochs, type: int}\n", "    n_experiments: 1\n"))
    with pytest.raises(SpecError, match="epochs.*names no matrix param"):
        parse_spec(text)


def test_the_algorithm_says_which_names_it_adds():
    """Hyperband's resource is allowed because the searcher declares it (``extra_params``)."""
    from hpo.plugins.search.hyperband import HyperbandConfig, HyperbandSearcher

    config = HyperbandConfig(max_iter=9, resource={"name": "epochs"})
    assert HyperbandSearcher.extra_params(config) == ("epochs",)
    assert parse_spec(SPEC.replace("CMD", "t {{ epochs }}")).run.cmd == "t {{ epochs }}"
    with pytest.raises(SpecError, match="settings.hyperband.max_iter"):  # its options are checked
        parse_spec(SPEC.replace("CMD", "t {{ epochs }}").replace("max_iter: 9", "max_iter: -1"))
