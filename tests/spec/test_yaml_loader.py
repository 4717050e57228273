"""YAML 1.1 quirks: ``1:10:2`` stays a string, ``1e-4`` is a float; syntax errors name the line."""

from __future__ import annotations

import pytest
import yaml

from hpo.errors import SpecError
from hpo.spec import load_spec, parse_spec
from hpo.spec.yamlload import load_yaml


def test_plain_pyyaml_has_the_quirks_we_fix():
    assert yaml.safe_load("x: 1:10:2")["x"] == 4202
    assert yaml.safe_load("x: 1e-4")["x"] == "1e-4"


@pytest.mark.parametrize(
    "text, expected",
    [
        ("1:10:2", "1:10:2"),
        ("3:6:1", "3:6:1"),
        ("12:30", "12:30"),
        ("-1:30:5", "-1:30:5"),
        ("0.01:0.1:5", "0.01:0.1:5"),
        ("1e-4", 1e-4),
        ("1E5", 1e5),
        ("-2e-3", -0.002),
        ("+1e+2", 100.0),
        ("1.0e5", 1e5),
        ("1.5", 1.5),
        (".5", 0.5),
        ("10", 10),
        ("-7", -7),
        ("1_000", 1000),
        ("0x1f", 31),
        ("true", True),
        ("relu", "relu"),
        ("'1:10:2'", "1:10:2"),
        ("'1e-4'", "1e-4"),
    ],
)
def test_scalar_resolution(text, expected):
    value = load_yaml(f"x: {text}")["x"]
    assert value == expected and type(value) is type(expected)


def test_unquoted_range_string_reaches_the_matrix():
    spec = parse_spec("matrix:\n  n: {range: 1:10:2}\nrun:\n  cmd: echo {{ n }}\n")
    assert spec.matrix["n"].values() == [1, 3, 5, 7, 9]


def test_exponent_values_are_numbers():
    spec = parse_spec("matrix: {eps: {values: [1e-4, 1e-8, 1E-12]}}\nrun: {cmd: echo}")
    assert spec.matrix["eps"].values() == [1e-4, 1e-8, 1e-12]
    assert spec.matrix["eps"].domain().low == 1e-12


def test_syntax_error_names_file_and_line():
    with pytest.raises(SpecError) as info:
        parse_spec("matrix:\n  a: {values: [1]}\n10\nrun: {cmd: x}\n", source="f.yml")
    err = info.value
    assert err.file == "f.yml" and "line 3" in err.message and "not valid YAML" in err.message


def test_duplicate_keys_are_an_error():
    with pytest.raises(SpecError, match="duplicate key 'matrix' \\(line 3\\)"):
        parse_spec("matrix: {a: {values: [1]}}\nrun: {cmd: x}\nmatrix: {b: {values: [2]}}\n")


def test_crlf_text_loads():
    text = "matrix:\r\n  a:\r\n    values: [1, 2]\r\n    \r\nrun:\r\n  cmd: echo {{ a }}\r\n"
    assert parse_spec(text).matrix["a"].values() == [1, 2]


def test_merge_keys_work_and_may_be_overridden(tmp_path):
    # `<<: *anchor` is PyYAML safe-loader YAML; the duplicate-key check used to reject it as
    # "not valid YAML: could not determine a constructor for the tag ...merge"
    path = tmp_path / "merge.yaml"
    path.write_text(
        "base: &base {timeout: 60, env: {A: '1'}}\n"
        "run:\n  <<: *base\n  timeout: 30\n  cmd: echo {{ lr }}\n"
        "matrix:\n  lr: {values: [0.1, 0.2]}\n".replace("base: &base", "declarations:\n  base: &base")
    )
    spec = load_spec(path)
    assert spec.run.timeout == 30 and spec.run.env == {"A": "1"}
    with pytest.raises(SpecError, match="duplicate key 'timeout' \\(line 5\\)"):
        load_yaml("a: &a {x: 1}\nb:\n  <<: *a\n  timeout: 1\n  timeout: 2\n")
