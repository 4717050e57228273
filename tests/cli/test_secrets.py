"""Secrets by reference: `run.env: {NAME: {from_env: VAR}}` reaches the trial and never the
database file; a literal secret-looking value is a warning and is masked in what hpo shows."""

import json
import os
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest

from hpo.eventlog import events as ev
from hpo.eventlog.store import EventStore
from hpo.spec import parse_spec
from hpo.spec.secrets import is_secret_name, mask

SPEC = """
name: keyed
settings:
  metric: {name: loss, optimization: minimize}
  matrix:
    x: {values: [1, 2]}
run:
  cmd: echo "$API_TOKEN" > given.txt; echo "the token is $API_TOKEN"; echo "@hpo loss={{ x }}"
  env:
    API_TOKEN: {from_env: HPO_TEST_SECRET_SOURCE}
"""


def hpo(tmp_path, *args, env=None):
    full = {**os.environ, "HPO_DB": str(tmp_path / ".hpo" / "hpo.db"), **(env or {})}
    return subprocess.run([sys.executable, "-m", "hpo", *args], cwd=tmp_path, env=full,
                          capture_output=True, text=True, timeout=120)


def database_bytes(tmp_path) -> bytes:
    folder = tmp_path / ".hpo"
    return b"".join(p.read_bytes() for p in folder.iterdir() if p.name.startswith("hpo.db"))


@pytest.mark.parametrize("name, secret", [
    ("API_KEY", True), ("api_key", True), ("KEY", True), ("DB_PASSWORD", True), ("GITHUB_TOKEN", True),
    ("AWS_SECRET_ACCESS_KEY", True), ("MONKEY", False), ("KEYBOARD", False), ("TOKENIZER", False),
    ("PATH", False), ("PASSWORDLESS", False),
])
def test_secret_looking_names_are_whole_underscore_tokens(name, secret):
    assert is_secret_name(name) is secret


def test_a_referenced_secret_reaches_the_trial_and_never_the_database(tmp_path):
    (tmp_path / "spec.yaml").write_text(textwrap.dedent(SPEC))
    value = f"s3cr3t-{uuid.uuid4().hex}"
    proc = hpo(tmp_path, "run", "spec.yaml", "--plain", env={"HPO_TEST_SECRET_SOURCE": value})
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "given.txt").read_text().strip() == value  # resolved at launch
    assert value.encode() not in database_bytes(tmp_path)  # not in the spec, not in a tail
    events = [json.loads(line) for line in hpo(tmp_path, "events", "keyed", "--json").stdout.splitlines()]
    created = events[0]["payload"]
    assert created["spec"]["run"]["env"] == {"API_TOKEN": {"from_env": "HPO_TEST_SECRET_SOURCE"}}
    tails = [e["payload"]["output_tail"] for e in events if e["type"] == "TrialFinished"]
    assert len(tails) == 2 and all("the token is ***" in t for t in tails)
    # resume without the variable: a clear error, nothing launched
    missing = hpo(tmp_path, "run", "spec.yaml", "--plain")
    assert missing.returncode == 2
    said = " ".join(missing.stderr.split())
    assert "run.env.API_TOKEN" in said and "HPO_TEST_SECRET_SOURCE, which is not set" in said
    assert len(EventStore(tmp_path / ".hpo" / "hpo.db").groups()) == 1  # no second group created


def test_a_malformed_reference_names_the_field_and_the_form(tmp_path):
    (tmp_path / "spec.yaml").write_text(textwrap.dedent(SPEC).replace(
        "{from_env: HPO_TEST_SECRET_SOURCE}", "{from_env: HPO_TEST_SECRET_SOURCE, default: x}"))
    proc = hpo(tmp_path, "validate", "spec.yaml")
    said = " ".join(proc.stderr.split())
    assert proc.returncode == 2
    assert "spec.yaml: run.env.API_TOKEN: expected a text value or a reference {from_env: NAME}" in said


LITERAL = "literal-key-4471"
LITERAL_SPEC = f"""
name: literal
settings:
  metric: {{name: loss, optimization: minimize}}
  matrix:
    x: {{values: [1]}}
run:
  cmd: echo hi
  env: {{API_KEY: {LITERAL}, MONKEY: banana}}
"""


def test_a_literal_secret_is_a_warning_suggesting_the_reference(tmp_path):
    (tmp_path / "spec.yaml").write_text(LITERAL_SPEC)
    proc = hpo(tmp_path, "validate", "spec.yaml")
    assert proc.returncode == 0
    said = " ".join(proc.stdout.split())
    assert "run.env.API_KEY: a literal value under a secret-looking name" in said
    assert "`API_KEY: {from_env: API_KEY}`" in said and "MONKEY" not in said


def test_a_literal_secret_is_masked_in_events_export_report_and_status(tmp_path):
    """A log an earlier hpo wrote, whose trial echoed the literal into its reason and tail."""
    spec = parse_spec(LITERAL_SPEC, source="spec.yaml")
    store = EventStore(tmp_path / ".hpo" / "hpo.db")
    store.append("g1", [
        ev.GroupCreated(group_id="g1", name="literal", spec=spec.to_json(), source=LITERAL_SPEC, seed=1),
        ev.Suggested(trial_id=1, params={"x": 1}, searcher="grid", searcher_version="1", seed=1,
                     seen_version=1),
        ev.TrialLaunched(trial_id=1, attempt=1, runner="local", trial_dir="/t/1"),
        ev.TrialFinished(trial_id=1, attempt=1, status="failed", exit_code=3,
                         reason=f"exited with code 3: bad key {LITERAL}", output_tail=f"using {LITERAL}"),
        ev.GroupFinished(status="failed", reason=f"all failed: {LITERAL}"),
    ], 0)
    shown = {
        "events": hpo(tmp_path, "events", "literal").stdout,
        "events --json": hpo(tmp_path, "events", "literal", "--json").stdout,
        "export": hpo(tmp_path, "export", "literal").stdout,
        "export csv": hpo(tmp_path, "export", "literal", "--format", "csv").stdout,
        "status": hpo(tmp_path, "status", "literal").stdout,
        "status --json": hpo(tmp_path, "status", "literal", "--json").stdout,
    }
    assert hpo(tmp_path, "report", "literal", "-o", "r.html").returncode == 0
    shown["report"] = (tmp_path / "r.html").read_text()
    for where, text in shown.items():
        assert LITERAL not in text, where
        assert "***" in text, where
    assert "banana" in shown["events --json"]  # only secret-looking names are masked


def test_mask_replaces_every_form_of_a_secret():
    data = {"a": ["x s3cret y", {"b": "s3cret"}], "n": 3, "short": "ab"}
    assert mask(data, {"s3cret", "ab"}) == {"a": ["x *** y", {"b": "***"}], "n": 3, "short": "ab"}
    assert mask("x a&amp;b y", {"a&b"}) == "x *** y"
    assert mask('{"k": "a\\"b"}', {'a"b'}) == '{"k": "***"}'


CUT_SPEC = """
name: cut
settings:
  metric: {name: loss, optimization: minimize}
  matrix:
    x: {values: [1]}
run:
  cmd: >-
    printf '%s' "$API_TOKEN"; yes x | tr -d '\\n' | head -c 3745; echo;
    echo "@hpo loss=1 $(yes y | tr -d '\\n' | head -c 180)$API_TOKEN";
    echo "@hpo loss={{ x }}"
  env:
    API_TOKEN: {from_env: HPO_TEST_SECRET_SOURCE}
"""


def test_a_secret_cut_by_the_end_of_a_tail_or_an_example_is_masked_too(tmp_path):
    """The recorded output tail starts 4,000 bytes before the end of the output, and a rejected
    report line is kept to its first 200 characters: a secret those cuts split leaves no part of
    itself in the database either."""
    (tmp_path / "spec.yaml").write_text(textwrap.dedent(CUT_SPEC))
    value = f"s3cr3t-{uuid.uuid4().hex}"
    proc = hpo(tmp_path, "run", "spec.yaml", "--plain", env={"HPO_TEST_SECRET_SOURCE": value})
    assert proc.returncode == 0, proc.stderr
    data = database_bytes(tmp_path)
    events = [json.loads(line) for line in hpo(tmp_path, "events", "cut", "--json").stdout.splitlines()]
    (tail,) = [e["payload"]["output_tail"] for e in events if e["type"] == "TrialFinished"]
    assert tail.startswith("protocol errors:\n") and "\n--- stdout.log ---\n***xxx" in tail, tail[:400]
    (rejected,) = [e["payload"] for e in events if e["type"] == "ReportsRejected"]
    assert rejected["examples"][0].endswith("y***"), rejected
    for part in (value[:10], value[-10:]):
        assert part.encode() not in data
