"""Property tests: numpy expansions (15 significant digits), quantised samples, JSON round trips, inert rendering."""

from __future__ import annotations

import json
import math
import subprocess

import numpy as np
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from hpo.errors import SpecError
from hpo.spec import GroupSpec, parse_spec
from hpo.spec.matrix import param_from_json, parse_param
from hpo.spec.template import render

small_ints = st.integers(-50, 50)
small_floats = st.floats(-50, 50, allow_nan=False, allow_infinity=False).map(lambda x: round(x, 3))
numbers = st.one_of(small_ints, small_floats)
nums = st.integers(1, 40)


def build(kind, raw):
    return parse_param("p", {kind: raw}, "matrix.p")


def check_like_numpy(kind, raw, expected):
    """Either the param expands like numpy with its floats rounded to 15 significant digits, or
    that list is unusable (empty/dupes); a param recorded before rounding (no ``digits`` in its
    JSON) expands exactly like numpy."""
    rounded = [float(f"{v:.15g}") if isinstance(v, float) else v for v in expected]
    try:
        param = build(kind, raw)
        values = param.values()
    except SpecError as exc:
        assert not rounded or len(set(rounded)) < len(rounded) or "more than" in exc.message
        return
    assert values == rounded
    assert all(type(v) in (int, float) for v in values)
    old = {k: v for k, v in param.to_json().items() if k != "digits"}
    try:
        assert param_from_json("p", old).values() == expected
    except SpecError:
        assert len(set(expected)) < len(expected)  # numpy's own list had duplicates


@given(start=numbers, stop=numbers, step=numbers.filter(lambda s: abs(s) >= 0.01))
def test_range_is_arange(start, stop, step):
    expected = np.arange(start, stop, step).tolist()
    check_like_numpy("range", [start, stop, step], expected)
    if all(isinstance(x, int) for x in (start, stop, step)) and expected:
        assert all(type(v) is int for v in build("range", [start, stop, step]).values())


@given(start=numbers, stop=numbers, num=nums)
def test_linspace_is_numpy(start, stop, num):
    check_like_numpy("linspace", [start, stop, num], np.linspace(start, stop, num).tolist())


@given(
    start=st.integers(-5, 5),
    stop=st.integers(-5, 5),
    num=nums,
    base=st.sampled_from([2, 10, math.e, 0.5]),
)
def test_logspace_is_numpy(start, stop, num, base):
    expected = np.logspace(start, stop, num, base=base).tolist()
    check_like_numpy("logspace", {"start": start, "stop": stop, "num": num, "base": base}, expected)


@given(
    start=st.floats(0.01, 1000).map(lambda x: round(x, 2)),
    stop=st.floats(0.01, 1000).map(lambda x: round(x, 2)),
    num=nums,
    negative=st.booleans(),
)
def test_geomspace_is_numpy(start, stop, num, negative):
    assume(start > 0 and stop > 0)
    sign = -1 if negative else 1
    expected = np.geomspace(sign * start, sign * stop, num).tolist()
    check_like_numpy("geomspace", [sign * start, sign * stop, num], expected)


@given(args=st.tuples(numbers, numbers, nums))
def test_string_form_equals_list_form(args):
    text = ":".join(repr(a) for a in args)
    try:
        a = build("linspace", list(args))
    except SpecError:
        return
    assert build("linspace", text) == a


def is_multiple(value, q):
    k = round(value / q)
    return math.isclose(value, k * q, rel_tol=1e-9, abs_tol=1e-9)


q_values = st.sampled_from([0.1, 0.25, 0.5, 1, 2, 0.001, 5])


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(low=small_floats, width=st.floats(0.01, 100), q=q_values, seed=st.integers(0, 2**32 - 1))
def test_quniform_samples_are_multiples_within_bounds(low, width, q, seed):
    high = low + round(width, 3)
    assume(high > low)
    try:
        p = build("quniform", [low, high, q])
    except SpecError:
        assume(False)
    rng = np.random.default_rng(seed)
    samples = [p.sample(rng) for _ in range(30)]
    for s in samples:
        assert is_multiple(s, q)
        assert low - 1e-9 <= s <= high + 1e-9
        assert type(s) is (int if isinstance(q, int) else float)
    assert len(set(samples)) <= p.cardinality()


@given(low=st.floats(-3, 3), width=st.floats(0.05, 3), q=q_values, seed=st.integers(0, 2**32 - 1))
def test_qloguniform_samples_are_multiples_within_bounds(low, width, q, seed):
    try:
        p = build("qloguniform", [low, low + width, q])
    except SpecError:
        assume(False)
    lo, hi = math.exp(low), math.exp(low + width)
    rng = np.random.default_rng(seed)
    for _ in range(30):
        s = p.sample(rng)
        assert is_multiple(s, q) and lo - 1e-9 <= s <= hi + 1e-9


@given(loc=small_floats, scale=st.floats(0.01, 10), q=q_values, seed=st.integers(0, 2**32 - 1),
       kind=st.sampled_from(["qnormal", "qlognormal"]))  # fmt: skip
def test_unbounded_q_samples_are_multiples(loc, scale, q, seed, kind):
    if kind == "qlognormal":
        loc = max(min(loc, 3), -3)
    p = build(kind, [loc, scale, q])
    rng = np.random.default_rng(seed)
    assert all(is_multiple(p.sample(rng), q) for _ in range(30))


scalar = st.one_of(st.integers(-5, 5), st.sampled_from(["relu", "tanh", "a b", True, 0.5]))
param_entries = st.one_of(
    st.lists(scalar, min_size=1, max_size=4, unique_by=lambda v: (type(v), v)).map(
        lambda v: {"values": v}
    ),
    st.tuples(st.integers(0, 5), st.integers(6, 12), st.integers(1, 3)).map(
        lambda t: {"range": list(t)}
    ),
    st.tuples(small_floats, small_floats, nums)
    .filter(lambda t: t[0] != t[1])
    .map(lambda t: {"linspace": list(t)}),
    st.tuples(st.integers(-3, 0), st.integers(1, 3), nums).map(
        lambda t: {"logspace": "%d:%d:%d" % t}
    ),
    st.tuples(small_floats, st.floats(0.1, 5)).map(lambda t: {"uniform": [t[0], t[0] + t[1]]}),
    st.tuples(st.integers(0, 3), st.integers(4, 9)).map(
        lambda t: {"quniform": {"low": t[0], "high": t[1], "q": 1}}
    ),
    st.tuples(st.integers(-3, 0), st.integers(1, 3)).map(lambda t: {"loguniform": list(t)}),
    st.just({"qloguniform": [0, 2, 0.5]}),
    st.tuples(small_floats, st.floats(0.1, 3)).map(lambda t: {"normal": list(t)}),
    st.just({"qnormal": [0, 1, 0.5]}),
    st.just({"lognormal": {"loc": 0, "scale": 1}}),
    st.just({"qlognormal": [0, 1, 1]}),
    st.just({"pvalues": [["x", 0.3], ["y", 0.7]]}),
)
specs = st.fixed_dictionaries(
    {
        "matrix": st.dictionaries(
            st.from_regex(r"[a-z][a-z0-9_]{0,6}", fullmatch=True),
            param_entries,
            min_size=1,
            max_size=4,
        ),
        "concurrency": st.integers(1, 8),
        "seed": st.one_of(st.none(), st.integers(0, 2**31)),
        "declarations": st.dictionaries(
            st.from_regex(r"D[a-z]{0,4}", fullmatch=True), scalar, max_size=3
        ),
    }
)


@settings(suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(data=specs, algorithm=st.sampled_from(["random_search", "hyperband", "bo", None]))
def test_json_round_trip(data, algorithm):
    data = dict(data, run={"cmd": " ".join("{{ %s }}" % n for n in data["matrix"])})
    if algorithm:
        data["settings"] = {algorithm: {"metric": {"name": "loss", "optimization": "minimize"}}}
    try:
        spec = parse_spec(data)
    except SpecError as exc:  # generated linspace args can collide into duplicate values
        assume("duplicate" not in exc.message)
        raise
    encoded = json.loads(json.dumps(spec.to_json()))
    again = GroupSpec.from_json(encoded)
    assert again == spec
    assert again.to_json() == encoded


@settings(max_examples=40, deadline=None)
@given(
    value=st.text(
        st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00"), max_size=30
    )
)
def test_any_text_value_renders_to_one_inert_word(value, tmp_path_factory):
    cwd = tmp_path_factory.mktemp("render")
    cmd = render("printf '%s' {{ v }}", {"v": value})
    out = subprocess.run(["sh", "-c", cmd], cwd=cwd, capture_output=True, check=True).stdout
    assert out == value.encode()
    assert list(cwd.iterdir()) == []
