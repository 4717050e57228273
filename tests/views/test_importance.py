"""``hpo importance`` and ``Group.param_importances``: which params explain the metric."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
import math

import pytest
from click.testing import CliRunner

import hpo
from hpo.cli import cli
from hpo.views.importance import ImportanceError, importances

SPEC = {
    "settings": {
        "random_search": {"n_experiments": 40},
        "metric": {"name": "loss", "optimization": "minimize"},
        "matrix": {
            "lr": {"loguniform": [math.log(1e-5), math.log(1e-1)]},
            "noise": {"uniform": [0, 1]},
            "act": {"values": ["relu", "tanh", "gelu"]},
            "fixed": {"values": [7]},
        },
    }
}


def objective(trial):
    # only lr matters (through its logarithm); noise and act do not, fixed never changes
    lr = trial.params["lr"]
    return (math.log10(lr) + 3) ** 2 + 0.01 * trial.params["noise"]


@pytest.fixture(scope="module")
def group(tmp_path_factory):
    db = tmp_path_factory.mktemp("importance") / "hpo.db"
    return hpo.optimize(objective, SPEC, db=db, backend="thread", seed=11, name="imp")


def test_the_param_that_drives_the_metric_gets_most_of_the_share(group):
    imp = importances(group.state)
    assert imp.metric == "loss" and imp.trials == 40
    names = [p.name for p in imp.params]
    assert names[0] == "lr" and imp.params[0].share > 0.8
    assert "fixed" not in names  # a param with one value explains nothing and is left out
    assert sum(p.share for p in imp.params) == pytest.approx(1.0)
    assert imp.params[0].axis == "log" and {p.axis for p in imp.params[1:]} == {"linear", "category"}
    assert imp.r2 is not None and imp.r2 > 0.5 and not imp.explains_little


def test_the_same_log_gives_the_same_shares(group):
    assert group.param_importances() == group.param_importances()
    assert list(group.param_importances())[0] == "lr"


def test_a_metric_the_trials_never_reported_is_a_clear_error(group):
    with pytest.raises(ImportanceError, match=r"0 succeeded trial\(s\) with a value of 'acc' "
                                              r"\(metrics reported: loss\); importances need at least 8"):
        importances(group.state, "acc")


def test_too_few_trials_is_a_clear_error(tmp_path):
    few = hpo.optimize(objective, {**SPEC, "settings": {**SPEC["settings"], "random_search": {"n_experiments": 5}}},
                       db=tmp_path / "hpo.db", backend="thread", seed=1, name="few")
    with pytest.raises(ImportanceError, match="has 5 succeeded trial.*at least 8"):
        few.param_importances()


def test_cli_prints_the_table_and_the_json(group):
    db = str(group.store.path)
    result = CliRunner().invoke(cli, ["importance", "imp", "--db", db])
    assert result.exit_code == 0, result.output
    assert "what explains loss" in result.output and "out-of-bag R²" in result.output
    assert result.output.index("lr") < result.output.index("noise")
    result = CliRunner().invoke(cli, ["importance", "imp", "--db", db, "--json"])
    data = json.loads(result.output)
    assert data["metric"] == "loss" and data["trials"] == 40 and data["params"][0]["name"] == "lr"


def test_cli_error_names_the_metric_and_exits_non_zero(group):
    result = CliRunner().invoke(cli, ["importance", "imp", "--db", str(group.store.path), "--metric", "acc"])
    assert result.exit_code != 0
    assert "'acc'" in result.stderr and "metrics reported: loss" in result.stderr


def test_the_html_report_draws_the_shares_as_bars(group, tmp_path):
    out = tmp_path / "imp.html"
    result = CliRunner().invoke(cli, ["report", "imp", "--db", str(group.store.path), "-o", str(out)])
    assert result.exit_code == 0, result.output
    html = out.read_text()
    section = html.split("<h2>param importance</h2>")[1].split("</section>")[0]
    svg = ET.fromstring(section[section.index("<svg"):section.index("</svg>") + 6])
    bars = [g for g in svg.iter() if g.get("id") == "importance"]  # one group per bar
    widths = []
    for path in (p for g in bars for p in g.iter("{http://www.w3.org/2000/svg}path")):
        xs = [float(v) for v in re.findall(r"[ML]\s*([-\d.]+)", path.get("d"))]
        widths.append(max(xs) - min(xs))
    assert widths[-1] == max(widths) and widths[-1] > widths[0]  # the top bar, the most important, is the longest
    labels = [t.text for t in svg.iter("{http://www.w3.org/2000/svg}text")]
    assert "lr" in labels and "noise" in labels
    payload = json.loads(html.split('id="hpo-data">')[1].split("</script>")[0])
    assert payload["importance"]["params"][0]["name"] == "lr" and len(payload["importance"]["params"]) == len(widths)


def test_the_report_of_a_small_group_says_why_it_has_no_importances(tmp_path):
    few = hpo.optimize(objective, {**SPEC, "settings": {**SPEC["settings"], "random_search": {"n_experiments": 3}}},
                       db=tmp_path / "hpo.db", backend="thread", seed=1, name="few")
    out = tmp_path / "few.html"
    result = CliRunner().invoke(cli, ["report", "few", "--db", str(few.store.path), "-o", str(out)])
    assert result.exit_code == 0, result.output
    section = out.read_text().split("<h2>param importance</h2>")[1].split("</section>")[0]
    assert "importances need at least 8" in section
