"""The read-only commands through click's runner: text for people, --json for scripts."""

import json
import re

import pytest
from click.testing import CliRunner

from hpo.cli import cli
from hpo.eventlog.store import EventStore


@pytest.fixture
def hpo(logged):
    runner = CliRunner()

    def invoke(*args, ok=True):
        result = runner.invoke(cli, [*args], env={"HPO_DB": str(logged["db"]), "COLUMNS": "100"},
                               catch_exceptions=False)
        if ok:
            assert result.exit_code == 0, result.output
        return result

    return invoke


def test_list_fits_100_columns_and_shows_progress_and_best(hpo, logged):
    out = hpo("list").output
    assert all(len(line) <= 100 for line in out.splitlines())
    grid = next(line for line in out.splitlines() if line.startswith(logged["grid"]))
    assert re.search(r"grid\s+succeeded\s+grid\s+4/4\s+loss ↓ 0.3333", grid)
    hb = next(line for line in out.splitlines() if line.startswith(logged["hb"]))
    assert re.search(r"hb\s+succeeded\s+hyperband\s+6/6\s+loss ↓", hb)
    rows = json.loads(hpo("list", "--json").output)
    assert [r["name"] for r in rows] == ["grid", "hb"]
    assert rows[0]["progress"]["done"] == 4 and rows[0]["progress"]["planned"] == 4


def test_list_as_of_leaves_out_groups_created_later(hpo, logged):
    with EventStore(logged["db"]) as store:
        first_hb = store.read(logged["hb"])[0].seq
    result = hpo("list", "--as-of", str(first_hb - 1), "--json")
    rows = json.loads(result.stdout)  # the resolved point goes to stderr
    assert [r["name"] for r in rows] == ["grid"] and rows[0]["status"] == "succeeded"
    assert result.stderr.startswith(f"as of seq {first_hb - 1}, ")


def test_status_text_json_and_as_of(hpo, logged):
    out = hpo("status", "grid").output
    assert "3 succeeded · 1 failed" in out and "failures (1)" in out
    assert "lease   no engine holds the lease (1 engine run so far)" in out
    data = json.loads(hpo("status", "grid", "--json").output)
    assert data["counts"] == {"succeeded": 3, "failed": 1} and data["best"]["trial"] == 2
    with EventStore(logged["db"]) as store:
        launched = next(s.seq for s in store.read(logged["grid"]) if s.type == "TrialLaunched")
    early = json.loads(hpo("status", "grid", "--as-of", str(launched), "--json").stdout)
    assert early["status"] == "running" and early["progress"]["running"] == [1]
    assert early["progress"]["done"] == 0 and not early["engine_gone"]
    text = hpo("status", "grid", "--as-of", str(launched)).output
    assert "engine " in text and "alive" in text  # the lease was alive at that moment


def test_trials_leaderboard(hpo):
    out = hpo("trials", "grid").output
    lines = [line for line in out.splitlines() if re.match(r"\s*(\d+|-)\s+\d+\s", line)]
    assert [line.split()[1] for line in lines] == ["2", "1", "3", "4"]  # by loss, lowest first
    assert [line.split()[0] for line in lines] == ["1", "2", "3", "-"]  # a failed trial has no rank
    assert "4 trials sorted by loss, lowest first" in out
    assert "lr" in out.splitlines()[0] and "opt" in out.splitlines()[0]
    top = json.loads(hpo("trials", "grid", "--top", "1", "--json").output)
    assert [r["trial"] for r in top] == [2]
    failed = json.loads(hpo("trials", "grid", "--status", "failed", "--json").output)
    assert [r["trial"] for r in failed] == [4]
    bad = hpo("trials", "grid", "--sort", "nope", ok=False)
    assert bad.exit_code == 1 and "no such metric or param" in bad.output


def test_hyperband_leaderboard_shows_bracket_and_rung(hpo):
    out = hpo("trials", "hb").output
    assert "b/r" in out and "num_steps" in out
    recs = json.loads(hpo("trials", "hb", "--json").output)
    assert {(r["bracket"], r["rung"]) for r in recs} == {(1, 0), (1, 1), (0, 0)}


def test_logs_of_an_attempt(hpo):
    out = hpo("logs", "grid", "1").output
    assert out.count("@hpo") == 3 and out.rstrip().endswith("trial done")
    assert hpo("logs", "grid", "1", "-n", "1").output == "trial done\n"
    assert "boom: bad learning rate" in hpo("logs", "grid", "4", "--stderr").output
    assert hpo("logs", "grid", "4", "--follow").output.rstrip().endswith("trial done")  # it ended: returns
    missing = hpo("logs", "grid", "9", ok=False)
    assert missing.exit_code == 1 and "no trial 9" in missing.output
    assert "attempts [1], not 2" in hpo("logs", "grid", "1", "--attempt", "2", ok=False).output


def test_compare_two_groups(hpo):
    out = hpo("compare", "grid", "hb").output
    for label in ("algorithm", "trials", "trial time", "resource used", "best value", "elapsed"):
        assert re.search(rf"^{label}\s", out, re.M), label
    assert re.search(r"^algorithm\s+grid\s+hyperband", out, re.M)
    data = json.loads(hpo("compare", "grid", "hb", "--json").output)
    assert [d["algorithm"] for d in data] == ["grid", "hyperband"]
    assert data[0]["budget"]["resource"] is None and data[1]["budget"]["resource"] == 3 * 1 + 1 * 3 + 2 * 3
    assert "at least two groups" in hpo("compare", "grid", ok=False).output


@pytest.mark.parametrize("command", ["list", "status", "watch", "trials", "logs", "compare", "plot", "report"])
def test_every_command_has_help_with_an_example(hpo, command):
    out = hpo(command, "--help").output
    assert "Example:" in out and f"hpo {command}" in out.split("Example:")[1]
