"""Hyperband's bracket arithmetic, checked against tables computed by hand from the paper."""

from __future__ import annotations

import pytest

from hpo.plugins.search.hyperband.brackets import plan, plan_json, planned_trials, s_max


def table(max_iter, eta, resource_type="int"):
    return [(b.s, [(r.n, r.resource) for r in b.rungs]) for b in plan(max_iter, eta, resource_type)]


# (bracket s, [(n_i, r_i) per rung]), brackets in run order.
HAND_TABLES = {
    (81, 3): [
        (4, [(81, 1), (27, 3), (9, 9), (3, 27), (1, 81)]),
        (3, [(34, 3), (11, 9), (3, 27), (1, 81)]),
        (2, [(15, 9), (5, 27), (1, 81)]),
        (1, [(8, 27), (2, 81)]),
        (0, [(5, 81)]),
    ],
    (27, 3): [
        (3, [(27, 1), (9, 3), (3, 9), (1, 27)]),
        (2, [(12, 3), (4, 9), (1, 27)]),
        (1, [(6, 9), (2, 27)]),
        (0, [(4, 27)]),
    ],
    (16, 2): [
        (4, [(16, 1), (8, 2), (4, 4), (2, 8), (1, 16)]),
        (3, [(10, 2), (5, 4), (2, 8), (1, 16)]),
        (2, [(7, 4), (3, 8), (1, 16)]),
        (1, [(5, 8), (2, 16)]),
        (0, [(5, 16)]),
    ],
    (243, 3): [
        (5, [(243, 1), (81, 3), (27, 9), (9, 27), (3, 81), (1, 243)]),
        (4, [(98, 3), (32, 9), (10, 27), (3, 81), (1, 243)]),
        (3, [(41, 9), (13, 27), (4, 81), (1, 243)]),
        (2, [(18, 27), (6, 81), (2, 243)]),
        (1, [(9, 81), (3, 243)]),
        (0, [(6, 243)]),
    ],
    (1000, 10): [
        (3, [(1000, 1), (100, 10), (10, 100), (1, 1000)]),
        (2, [(134, 10), (13, 100), (1, 1000)]),
        (1, [(20, 100), (2, 1000)]),
        (0, [(4, 1000)]),
    ],
    # 100/81 = 1.23 -> 1, 100/27 = 3.70 -> 4 (rounded, not truncated to 3), 100/9 = 11.1 -> 11,
    # 100/3 = 33.3 -> 33; s_max = 4 because 3**4 = 81 <= 100 < 243.
    (100, 3): [
        (4, [(81, 1), (27, 4), (9, 11), (3, 33), (1, 100)]),
        (3, [(34, 4), (11, 11), (3, 33), (1, 100)]),
        (2, [(15, 11), (5, 33), (1, 100)]),
        (1, [(8, 33), (2, 100)]),
        (0, [(5, 100)]),
    ],
}


@pytest.mark.parametrize("max_iter,eta", list(HAND_TABLES))
def test_bracket_tables_match_hand_computed(max_iter, eta):
    assert table(max_iter, eta) == HAND_TABLES[(max_iter, eta)]


@pytest.mark.parametrize("max_iter,eta", list(HAND_TABLES))
def test_every_rung_keeps_floor_of_n_over_eta_and_never_exceeds_max_iter(max_iter, eta):
    for b in plan(max_iter, eta):
        assert b.rungs[-1].resource == max_iter
        for lower, upper in zip(b.rungs, b.rungs[1:]):
            assert upper.n == lower.n // eta
            assert lower.resource < upper.resource <= max_iter


@pytest.mark.parametrize(
    "max_iter,eta,expected",
    [(243, 3, 5), (81, 3, 4), (80, 3, 3), (1000, 10, 3), (125, 5, 3), (2, 3, 0), (1, 2, 0),
     (256, 2, 8), (1e6, 10, 6), (0.9, 3, 0), (2.25, 1.5, 2)],
)
def test_s_max_is_exact_integer_log(max_iter, eta, expected):
    assert s_max(max_iter, eta) == expected


@pytest.mark.parametrize("eta", [1, 0.5, 0])
def test_eta_must_exceed_one(eta):
    with pytest.raises(ValueError, match="eta must be > 1"):
        plan(81, eta)


def test_float_resources_are_exact_and_end_at_max_iter():
    brackets = plan(10.0, 3, "float")
    assert [b.s for b in brackets] == [2, 1, 0]
    assert [r.n for r in brackets[0].rungs] == [9, 3, 1]
    assert brackets[0].rungs[0].resource == pytest.approx(10 / 9)
    assert all(b.rungs[-1].resource == 10.0 for b in brackets)
    assert all(isinstance(r.resource, float) for b in brackets for r in b.rungs)


def test_int_resources_round_half_up():
    # max_iter 6, eta 4: s_max = 1, r = 6/4 = 1.5 -> 2 (round half up), not 1.
    assert table(6, 4) == [(1, [(4, 2), (1, 6)]), (0, [(2, 6)])]


def test_json_form_and_total_resource():
    data = plan_json(plan(81, 3))
    assert [b["bracket"] for b in data["brackets"]] == [4, 3, 2, 1, 0]
    assert data["brackets"][1] == {
        "bracket": 3,
        "rungs": [
            {"n": 34, "resource": 3},
            {"n": 11, "resource": 9},
            {"n": 3, "resource": 27},
            {"n": 1, "resource": 81},
        ],
    }
    # 405 + 363 + 351 + 378 + 405, summed by hand from the table above
    assert data["total_resource"] == 1902


def test_planned_trials_counts_every_rung_execution():
    assert planned_trials(plan(81, 3)) == 121 + 49 + 21 + 10 + 5
