"""The HTML report: self-contained, and its charts hold the group's data."""

import json
import re
import xml.etree.ElementTree as ET

from click.testing import CliRunner

from hpo.cli import cli
from hpo.views.svg import nice_ticks

SVG = "{http://www.w3.org/2000/svg}"


def make_report(logged, group, tmp_path):
    out = tmp_path / f"{group}.html"
    result = CliRunner().invoke(cli, ["report", group, "-o", str(out)], env={"HPO_DB": str(logged["db"])},
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return out.read_text()


def charts(html: str) -> dict[str, ET.Element]:
    """Each section's SVG, parsed (so it must be well-formed), by section title."""
    out = {}
    for title, svg in re.findall(r"<h2>([^<]+)</h2>(<svg.*?</svg>)", html, re.S):
        out[title] = ET.fromstring(svg)
    return out


def series(svg: ET.Element) -> dict[str, int]:
    return {g.get("data-name"): int(g.get("data-points")) for g in svg.iter(f"{SVG}g")
            if g.get("class") == "series"}


def test_grid_report_holds_one_point_per_trial(logged, tmp_path):
    html = make_report(logged, "grid", tmp_path)
    assert "http" not in html.replace("http://www.w3.org/2000/svg", "")  # nothing to fetch
    assert "<script" not in html.replace('<script type="application/json" id="hpo-data">', "")
    found = charts(html)
    assert set(found) == {"optimization history", "parallel coordinates", "learning curves"}
    # three succeeded trials have a value: three points, and the best-so-far steps through them
    assert series(found["optimization history"]) == {"loss": 3, "best so far": 3}
    assert series(found["parallel coordinates"]) == {"trials": 3}
    curves = series(found["learning curves"])
    assert len(curves) == 4 and set(curves.values()) == {3}  # every trial reported 3 steps
    assert "trial 2" in curves  # the best is named in the legend
    data = json.loads(re.search(r'id="hpo-data">(.*?)</script>', html, re.S).group(1))
    assert data["history"]["trial"] == [1, 2, 3] and data["history"]["best"][-1] == min(data["history"]["value"])
    assert "boom: bad learning rate" in html  # the failure's output
    assert html.count("<tr><td>") == 4  # the leaderboard


def test_hyperband_report_draws_the_brackets_with_promotions(logged, tmp_path):
    html = make_report(logged, "hb", tmp_path)
    found = charts(html)
    assert "hyperband brackets" in found
    s = series(found["hyperband brackets"])
    assert s["bracket 1"] == 4 and s["bracket 0"] == 2 and s["_promotions"] == 1
    titles = [t.text for t in found["hyperband brackets"].iter(f"{SVG}title")]
    assert any("(bracket 1, rung 1)" in t for t in titles)


def test_report_as_of_an_early_point(logged, tmp_path):
    from hpo.eventlog.store import EventStore

    with EventStore(logged["db"]) as store:
        first_finish = next(s.seq for s in store.read(logged["grid"]) if s.type == "TrialFinished")
    out = tmp_path / "early.html"
    CliRunner().invoke(cli, ["report", "grid", "-o", str(out), "--as-of", str(first_finish)],
                       env={"HPO_DB": str(logged["db"])}, catch_exceptions=False)
    assert series(charts(out.read_text())["optimization history"]) == {"loss": 1, "best so far": 1}


def test_nice_ticks():
    assert nice_ticks(0, 1, 5) == [0, 0.2, 0.4, 0.6, 0.8, 1.0]
    assert nice_ticks(0.93, 0.956, 4) == [0.93, 0.94, 0.95]
    assert nice_ticks(-3, 7, 5) == [-2, 0, 2, 4, 6]
    assert nice_ticks(3, 3) == [3]
