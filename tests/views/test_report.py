"""The HTML report: self-contained, its matplotlib charts hold the group's data, and it says how
the group was set up (search space, command, algorithm, stopping rules)."""

import json
import re
import xml.etree.ElementTree as ET

import pytest
from click.testing import CliRunner

from hpo.cli import cli

SVG = "{http://www.w3.org/2000/svg}"


def make_report(logged, group, tmp_path, *extra):
    out = tmp_path / f"{group}.html"
    result = CliRunner().invoke(cli, ["report", group, "-o", str(out), *extra],
                                env={"HPO_DB": str(logged["db"])}, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return out.read_text()


def sections(html: str) -> dict[str, str]:
    return dict(re.findall(r"<section><h2>([^<]+)</h2>(.*?)</section>", html, re.S))


def charts(html: str) -> dict[str, ET.Element]:
    """Each section's SVG, parsed (so it must be well-formed), by section title."""
    return {title: ET.fromstring(re.search(r"<svg.*</svg>", body, re.S).group(0))
            for title, body in sections(html).items() if "<svg" in body}


def by_id(svg: ET.Element) -> dict[str, ET.Element]:
    return {el.get("id"): el for el in svg.iter() if el.get("id")}


def markers(group: ET.Element) -> int:
    """The points a line of markers draws (matplotlib writes one <use> per point)."""
    return sum(1 for el in group.iter(f"{SVG}use"))


def vertices(group: ET.Element) -> int:
    """The points of a drawn line (its path's M/L commands)."""
    path = next(group.iter(f"{SVG}path"))
    return len(re.findall(r"[ML]", path.get("d")))


def test_grid_report_holds_one_point_per_ranked_trial(logged, tmp_path):
    html = make_report(logged, "grid", tmp_path)
    assert "http" not in html.replace("http://www.w3.org/2000/svg", "").replace("http://www.w3.org/1999/xlink", "")
    assert "<script" not in html.replace('<script type="application/json" id="hpo-data">', "")
    found = charts(html)
    assert set(found) == {"optimization history", "parallel coordinates", "learning curves"}
    history = by_id(found["optimization history"])
    assert markers(history["history-values"]) == 3  # three succeeded trials have a value
    parallel = by_id(found["parallel coordinates"])
    assert sorted(k for k in parallel if k.startswith("trial-")) == ["trial-1", "trial-2", "trial-3"]
    text = " ".join(t.text or "" for t in found["parallel coordinates"].iter(f"{SVG}text"))
    assert "param" in text and "metric" in text and "lower is better: yellow" in text  # colour legend
    curves = by_id(found["learning curves"])
    assert {k for k in curves if k.startswith("curve-")} == {"curve-1", "curve-2", "curve-3", "curve-4"}
    assert all(vertices(curves[f"curve-{i}"]) == 3 for i in (1, 2, 3, 4))  # every trial reported 3 steps
    assert "trial 2 (best)" in " ".join(t.text or "" for t in found["learning curves"].iter(f"{SVG}text"))
    data = json.loads(re.search(r'id="hpo-data">(.*?)</script>', html, re.S).group(1))
    assert data["history"]["trial"] == [1, 2, 3] and data["history"]["best"][-1] == min(data["history"]["value"])
    assert "boom: bad learning rate" in html  # the failure's output
    assert html.count("<tr><td>") == 4  # the leaderboard


def test_the_report_says_how_the_group_was_set_up(logged, tmp_path):
    parts = sections(make_report(logged, "grid", tmp_path))
    assert list(parts)[:4] == ["search space", "command", "algorithm", "stopping rules"]
    assert "<b>lr</b>" in parts["search space"] and "[0.1, 0.3, 0.5, 0.9] (4 values)" in parts["search space"]
    assert "train.py</pre>" in parts["command"]
    assert "grid" in parts["algorithm"] and "loss (minimize)" in parts["algorithm"]
    assert "no stopping rule" in parts["stopping rules"]
    hb = sections(make_report(logged, "hb", tmp_path))
    assert "0 … 0.8" in hb["search space"]  # a distribution by its bounds in value space
    assert "max_iter" in hb["algorithm"] and "eta" in hb["algorithm"]


def test_hyperband_report_draws_the_brackets_with_promotions(logged, tmp_path):
    found = charts(make_report(logged, "hb", tmp_path))
    ids = by_id(found["hyperband brackets"])
    assert markers(ids["bracket-1"]) == 4 and markers(ids["bracket-0"]) == 2
    assert len(list(ids["promotions"].iter(f"{SVG}path"))) == 1


def test_report_as_of_an_early_point(logged, tmp_path):
    from hpo.eventlog.store import EventStore

    with EventStore(logged["db"]) as store:
        first_finish = next(s.seq for s in store.read(logged["grid"]) if s.type == "TrialFinished")
    found = charts(make_report(logged, "grid", tmp_path, "--as-of", str(first_finish)))
    assert markers(by_id(found["optimization history"])["history-values"]) == 1


@pytest.mark.parametrize("kind", ["history", "parallel", "curves", "brackets"])
@pytest.mark.parametrize("suffix,magic", [(".png", b"\x89PNG"), (".svg", b"<?xml"), (".pdf", b"%PDF")])
def test_plot_writes_the_report_figures_as_files(logged, tmp_path, kind, suffix, magic):
    out = tmp_path / f"fig{suffix}"
    group = "hb" if kind == "brackets" else "grid"
    result = CliRunner().invoke(cli, ["plot", group, "--kind", kind, "--out", str(out)],
                                env={"HPO_DB": str(logged["db"])})
    assert result.exit_code == 0, result.output
    assert out.read_bytes().startswith(magic) and out.stat().st_size > 5000
    if suffix == ".svg":
        ET.fromstring(out.read_bytes())


def test_plot_refuses_another_format_and_says_why_there_is_no_figure(logged, tmp_path):
    env = {"HPO_DB": str(logged["db"])}
    bad = CliRunner().invoke(cli, ["plot", "grid", "--out", str(tmp_path / "x.txt")], env=env)
    assert bad.exit_code == 2 and "must end in .png, .svg or .pdf" in bad.output
    none = CliRunner().invoke(cli, ["plot", "grid", "--kind", "importance", "--out", str(tmp_path / "i.png")], env=env)
    assert none.exit_code == 1 and "importances need at least 8" in none.output
    assert not (tmp_path / "i.png").exists()


def test_figures_take_dollars_in_names_as_text():
    """matplotlib reads $...$ as mathematics; a metric called cost_$\\x$ must not break a chart."""
    from hpo.eventlog.state import GroupState, TrialState
    from hpo.views import figures

    metric = "cost_$\\x$"
    state = GroupState(name="a $\\frac$ b", spec={"metric": {"name": metric, "optimization": "minimize"}})
    for i in (1, 2):
        t = TrialState(i, {"p": i}, {}, status="succeeded")
        t.metrics[metric], t.curves[metric] = i / 10, [(1, i / 10)]
        state.trials[i] = t
    for kind in ("history", "parallel", "curves"):
        svg = figures.svg(figures.figure(kind, state))
        assert "cost_$\\x$" in svg  # drawn as the text it is
