"""Every ``--json`` output, ``hpo export`` and the report's embedded data are valid JSON (RFC 8259)
also when trials report ``nan``, ``inf`` or ``-inf``, which the trial contract accepts: JSON has
no such numbers, so they are written as the strings ``"NaN"``, ``"Infinity"`` and
``"-Infinity"`` (Python's ``NaN`` tokens break ``jq``, JavaScript's ``JSON.parse`` and most
parsers)."""

import json
import re
import sys
import textwrap

import pytest
from click.testing import CliRunner

from hpo.cli import cli
from hpo.eventlog.store import EventStore

from ..views.conftest import run_group

SCRIPT = textwrap.dedent("""
    import hpo
    value = ["0.5", "nan", "inf", "-inf"][hpo.params()["i"] - 1]
    print(f"@hpo step=1 loss={value}", flush=True)
""")

SPEC = """
name: odd
settings:
  concurrency: 1
  metric: {{name: loss, optimization: maximize}}
  grid_search: {{}}
  matrix:
    i: {{values: [1, 2, 3, 4]}}
run:
  cmd: {python} odd.py
"""


def strict(text: str):
    def refuse(token):
        raise ValueError(f"not JSON: {token}")
    return json.loads(text, parse_constant=refuse)


@pytest.fixture(scope="module")
def odd(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("odd")
    (workdir / "odd.py").write_text(SCRIPT)
    db = workdir / "hpo.db"
    with EventStore(db) as store:
        gid = run_group(store, workdir, SPEC.format(python=sys.executable))
    return {"db": db, "gid": gid, "workdir": workdir}


def invoke(odd, *args):
    result = CliRunner().invoke(cli, [*args, "--db", str(odd["db"])])
    assert result.exit_code == 0, result.output
    return result.stdout


COMMANDS = [
    ("list", "--json"),
    ("status", "{gid}", "--json"),
    ("trials", "{gid}", "--json"),
    ("compare", "{gid}", "{gid}", "--json"),
    ("export", "{gid}"),
    ("plot", "{gid}", "--kind", "history", "--json"),
    ("plot", "{gid}", "--kind", "curves", "--json"),
    ("plot", "{gid}", "--kind", "parallel", "--json"),
]


@pytest.mark.parametrize("args", COMMANDS, ids=[" ".join(a) for a in COMMANDS])
def test_json_outputs_are_valid_json_with_nan_and_infinite_values(odd, args):
    strict(invoke(odd, *[a.format(gid=odd["gid"]) for a in args]))


def test_events_json_is_valid_json_line_by_line(odd):
    lines = invoke(odd, "events", odd["gid"], "--json").splitlines()
    reported = [strict(line)["payload"]["metrics"]["loss"] for line in lines if '"MetricReported"' in line]
    assert reported == [0.5, "NaN", "Infinity", "-Infinity"]


def test_the_values_are_kept_as_strings_json_can_hold(odd):
    trials = strict(invoke(odd, "trials", odd["gid"], "--json"))
    assert {r["trial"]: r["metrics"]["loss"] for r in trials} == {1: 0.5, 2: "NaN", 3: "Infinity", 4: "-Infinity"}
    assert strict(invoke(odd, "status", odd["gid"], "--json"))["best"] == {"trial": 3, "value": "Infinity",
                                                                           "params": {"i": 3}}


def test_the_reports_embedded_data_is_valid_json(odd, tmp_path):
    out = tmp_path / "r.html"
    invoke(odd, "report", odd["gid"], "-o", str(out))
    strict(re.search(r'id="hpo-data">(.*?)</script>', out.read_text(), re.S).group(1))


@pytest.mark.parametrize("kind", ["history", "parallel", "curves"])
def test_plots_draw_the_finite_values_and_name_the_trials_left_out(odd, kind):
    """An infinite or NaN value has no place on an axis: the plot draws the others and says which
    trials it left out, instead of a traceback (history, curves) or a nan axis (parallel)."""
    pytest.importorskip("plotext")
    text = invoke(odd, "plot", odd["gid"], "--kind", kind, "--width", "80", "--height", "12")
    assert "nan" not in text.replace("NaN", "")
    left_out = text[text.index("not drawn"):]
    assert "trial 3" in left_out and "trial 4" in left_out
    if kind == "curves":
        assert "trial 2" in left_out  # its only report is a NaN
