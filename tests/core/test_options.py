"""A plugin's options block: errors name the YAML path and, for a typo, the options known there."""

from typing import Literal

import pytest
from pydantic import BaseModel, ConfigDict

from hpo.errors import SpecError
from hpo.contracts.options import parse_options


class Inner(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kernel: Literal["rbf", "matern"] = "matern"
    nu: float = 2.5


class Outer(BaseModel):
    model_config = ConfigDict(extra="forbid")
    steps: int = 3
    inner: Inner = Inner()
    maybe: Inner | None = None


@pytest.mark.parametrize("options, path, known", [
    ({"stepz": 1}, "opts.stepz", "steps, inner, maybe"),
    ({"inner": {"kernal": "rbf"}}, "opts.inner.kernal", "kernel, nu"),
    ({"maybe": {"mu": 1.5}}, "opts.maybe.mu", "kernel, nu"),  # through an optional sub-model
])
def test_an_unknown_option_lists_the_options_known_where_it_was_written(options, path, known):
    with pytest.raises(SpecError) as err:
        parse_options(Outer, options, "opts")
    assert f"{path}: unknown option '{path.rsplit('.', 1)[1]}' (known options: {known})" in str(err.value)


def test_a_wrong_value_names_the_field_and_the_value():
    with pytest.raises(SpecError, match=r"opts\.inner\.kernel: .*got 'linear'"):
        parse_options(Outer, {"inner": {"kernel": "linear"}}, "opts")


def test_options_must_be_a_mapping():
    with pytest.raises(SpecError, match="expected a mapping of options, got 3"):
        parse_options(Outer, 3, "opts")
