"""One resolver for --as-of, --until and --at: a seq or an ISO time (no zone: local time),
resolved to the group's last event at or before it, and printed with its UTC offset."""

import json
import time
from datetime import datetime, timedelta, timezone

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hpo.cli import cli
from hpo.engine.composition import create_group
from hpo.eventlog import events as ev
from hpo.eventlog import store as store_module
from hpo.eventlog.state import GroupState
from hpo.eventlog.store import EventStore, stamp
from hpo.eventlog.timepoint import BeforeGroup, TimePointError, parse, resolve, resolve_text
from hpo.spec import parse_spec

T0 = datetime(2026, 12, 5, 8, 0, tzinfo=timezone.utc)
INDIA = timezone(timedelta(hours=5, minutes=30))  # what TZ=IST-05:30 makes local time
SPEC = """
name: {name}
settings:
  metric: {{name: loss, optimization: minimize}}
  grid_search: {{}}
  matrix:
    lr: {{values: [0.1, 0.2, 0.3]}}
run:
  cmd: python train.py
"""


def trial_events(trial_id: int, seen_version: int) -> list[ev.Event]:
    lr = trial_id / 10
    return [
        ev.Suggested(trial_id=trial_id, params={"lr": lr}, searcher="grid", searcher_version="1",
                     seed=0, seen_version=seen_version),
        ev.TrialLaunched(trial_id=trial_id, attempt=1, runner="local", trial_dir=f"t{trial_id}"),
        ev.MetricReported(trial_id=trial_id, attempt=1, step=1, metrics={"loss": abs(lr - 0.2)}),
        ev.TrialFinished(trial_id=trial_id, attempt=1, status="succeeded", exit_code=0),
    ]


def add_group(store: EventStore, clock: list[datetime], name: str, start: datetime) -> str:
    """A group whose events are one minute apart from ``start``: seq k+first at start + k min."""
    clock[0] = start
    gid = create_group(store, parse_spec(SPEC.format(name=name)), name=name, seed=0)
    for trial_id in (1, 2, 3):
        for event in trial_events(trial_id, store.version(gid)):
            clock[0] += timedelta(minutes=1)
            store.append(gid, [event], store.version(gid))
    return gid


@pytest.fixture
def timeline(tmp_path, monkeypatch):
    """Two groups on a fake clock: ``early`` logged 08:00-08:12 UTC (13 events, seq 1-13),
    ``late`` logged 09:00-09:12 UTC (seq 14-26). Later writes (a fork) happen at 10:00 UTC."""
    clock = [T0]
    monkeypatch.setattr(store_module, "utcnow", lambda: stamp(clock[0]))
    db = tmp_path / "hpo.db"
    with EventStore(db) as store:
        early = add_group(store, clock, "early", T0)
        late = add_group(store, clock, "late", T0 + timedelta(hours=1))
    clock[0] = T0 + timedelta(hours=2)
    return {"db": db, "early": early, "late": late}


@pytest.fixture
def india(monkeypatch):
    """The user's local time is UTC+05:30 (a half-hour offset no test machine runs in)."""
    monkeypatch.setenv("TZ", "IST-05:30")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def hpo(timeline, *args):
    return CliRunner().invoke(cli, [*args], env={"HPO_DB": str(timeline["db"]), "COLUMNS": "100"},
                              catch_exceptions=False)


# 13:35:30 in UTC+05:30 is 08:05:30 UTC: the early group's event of 08:05 is seq 6.
# Read as UTC, the same text would be after every event of the group (seq 13).
NAIVE = "2026-12-05T13:35:30"
PRINTED = "seq 6, 2026-12-05T13:35:30+05:30"


@pytest.mark.parametrize("command", [
    ["status", "early", "--json"],
    ["trials", "early", "--json"],
    ["plot", "early", "--kind", "history", "--json"],
    ["list", "--json"],
])
def test_as_of_a_naive_time_is_local_time_and_the_point_is_printed_with_its_offset(
        timeline, india, command):
    result = hpo(timeline, *command, "--as-of", NAIVE)
    assert result.exit_code == 0, result.output
    json.loads(result.stdout)  # the point goes to stderr: --json stays valid JSON
    assert result.stderr == f"as of {PRINTED}\n"


def test_as_of_folds_up_to_the_resolved_seq(timeline, india):
    data = json.loads(hpo(timeline, "status", "early", "--json", "--as-of", NAIVE).stdout)
    # seq 6 is trial 2's Suggested: trial 1 is done, trial 2 only suggested
    assert data["counts"] == {"succeeded": 1, "pending": 1}


def test_report_as_of_prints_the_point(timeline, india, tmp_path):
    result = hpo(timeline, "report", "early", "-o", str(tmp_path / "r.html"), "--as-of", NAIVE)
    assert result.exit_code == 0, result.output
    assert result.stderr == f"as of {PRINTED}\n" and result.stdout.startswith("wrote ")


def test_until_a_naive_time_is_local_time(timeline, india):
    result = hpo(timeline, "replay", "early", "--until", NAIVE, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["as_of_seq"] == 6
    assert result.stderr == f"as of {PRINTED}\n"


def test_at_a_naive_time_is_local_time(timeline, india):
    result = hpo(timeline, "fork", "early", "--at", NAIVE)
    assert result.exit_code == 0, result.output
    assert result.stderr == f"fork at {PRINTED}\n"
    with EventStore(timeline["db"]) as store:
        forked = GroupState.fold(store.read(store.resolve("early-fork")))
    assert forked.origin["at_seq"] == 6


def test_a_seq_is_printed_with_the_time_of_its_event_in_local_time(timeline, india):
    result = hpo(timeline, "replay", "late", "--until", "16", "--json")
    assert json.loads(result.stdout)["as_of_seq"] == 16
    assert result.stderr == "as of seq 16, 2026-12-05T14:32:00+05:30\n"  # 09:02 UTC


def test_a_time_with_a_zone_keeps_it(timeline):
    result = hpo(timeline, "status", "early", "--json", "--as-of", "2026-12-05T08:05:30+00:00")
    assert result.stderr == "as of seq 6, 2026-12-05T08:05:30+00:00\n"


OPTIONS = [("status", "late", "--as-of"), ("replay", "late", "--until"), ("fork", "late", "--at")]


@pytest.mark.parametrize("command, group, option", OPTIONS)
def test_a_seq_before_the_group_was_created_is_a_clear_error(timeline, command, group, option):
    result = hpo(timeline, command, group, option, "13")
    assert result.exit_code == 1
    assert f"{option} 13: group late ({timeline['late']}) was created at seq 14" in result.stderr
    assert "give a seq from 14 on" in result.stderr


@pytest.mark.parametrize("command, group, option", OPTIONS)
def test_a_time_before_the_group_was_created_is_a_clear_error(timeline, india, command, group, option):
    result = hpo(timeline, command, group, option, "2026-12-05T14:29")  # 08:59 UTC
    assert result.exit_code == 1
    assert (f"{option} 2026-12-05T14:29: group late ({timeline['late']}) was created later, "
            "at 2026-12-05T14:30:00+05:30") in result.stderr


@pytest.mark.parametrize("command, group, option", OPTIONS)
def test_neither_a_seq_nor_a_time_names_the_option_and_the_forms(timeline, command, group, option):
    result = hpo(timeline, command, group, option, "yesterday")
    assert result.exit_code == 1
    assert f"{option} 'yesterday' is neither an event seq (a whole number" in result.stderr
    assert "or an ISO time such as" in result.stderr


def test_list_as_of_a_point_before_a_group_leaves_it_out(timeline):
    result = hpo(timeline, "list", "--json", "--as-of", "13")
    assert [r["name"] for r in json.loads(result.stdout)] == ["early"]
    assert result.stderr == f"as of seq 13, {(T0 + timedelta(minutes=12)).astimezone().isoformat()}\n"
    before = hpo(timeline, "list", "--json", "--as-of", "2026-12-05T07:00:00+00:00")
    assert json.loads(before.stdout) == []
    assert before.stderr == "as of 2026-12-05T07:00:00+00:00, before the first event in the log\n"


def test_parse_reads_dates_spaces_and_zones(india):
    assert parse(" 42 ", "--at").seq == 42
    assert parse("2026-12-05", "--at").moment == datetime(2026, 12, 5, tzinfo=INDIA)
    assert parse("2026-12-05 08:00Z", "--at").moment == T0
    with pytest.raises(TimePointError, match="--at '-3' is neither"):
        parse("-3", "--at")
    with pytest.raises(TimePointError, match="--until '0001-01-01T00:00:00[+]05:30' is out of the range"):
        parse("0001-01-01T00:00:00+05:30", "--until")


# -- the property: whatever the stamps, the last seq of the group stamped at or before ---------

ZONES = st.sampled_from([timezone.utc, INDIA, timezone(timedelta(hours=-8))])
MOMENTS = st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2026, 1, 2), timezones=ZONES)
LOGS = st.lists(st.tuples(st.sampled_from(["g", "h"]), MOMENTS), min_size=1, max_size=30)


@pytest.fixture(scope="module")
def blank(tmp_path_factory):
    with EventStore(tmp_path_factory.mktemp("property") / "hpo.db") as store:
        yield store


def log_rows(store: EventStore, log: list[tuple[str, datetime]], run: int) -> list[tuple[int, str, datetime]]:
    """Insert ``log`` (two interleaved groups, stamps in any order); return (seq, group, moment)."""
    written, versions = [], {}
    for group, moment in log:
        gid = f"{group}{run}"
        versions[gid] = versions.get(gid, 0) + 1
        cur = store.conn.execute(
            "INSERT INTO events (group_id, version, type, schema, payload, ts, writer)"
            " VALUES (?, ?, 'LeaseRenewed', 1, '{\"engine_id\": \"e\"}', ?, 'test')",
            (gid, versions[gid], stamp(moment)))
        written.append((cur.lastrowid, gid, moment))
    return written


RUNS = iter(range(10**9))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(log=LOGS, data=st.data())
def test_a_time_resolves_to_the_last_seq_of_the_group_stamped_at_or_before_it(blank, log, data):
    rows = log_rows(blank, log, next(RUNS))
    gid = rows[0][1]
    moment = data.draw(st.one_of(MOMENTS, st.sampled_from([m for _, _, m in rows])), label="moment")
    expected = max((seq for seq, g, m in rows if g == gid and m <= moment), default=None)
    text = moment.isoformat()
    if expected is None:
        with pytest.raises(BeforeGroup, match="was created later"):
            resolve_text(blank, gid, text, "--as-of")
        return
    point = resolve_text(blank, gid, text, "--as-of")
    assert point.seq == expected and point.at == moment
    assert resolve(blank, gid, parse(str(point).split(", ")[1], "--as-of")).seq == expected


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(log=LOGS, data=st.data())
def test_a_seq_resolves_to_the_last_seq_of_the_group_at_or_before_it(blank, log, data):
    rows = log_rows(blank, log, next(RUNS))
    gid = rows[0][1]
    # relative to the first row: the store is shared, so absolute seqs differ between examples
    seq = rows[0][0] + data.draw(st.integers(-2, len(rows) + 1), label="seq - first seq")
    expected = max((s for s, g, _ in rows if g == gid and s <= seq), default=None)
    if expected is None:
        with pytest.raises(BeforeGroup, match="was created at seq"):
            resolve_text(blank, gid, str(seq), "--as-of")
        return
    point = resolve_text(blank, gid, str(seq), "--as-of")
    stamped = next(m for s, _, m in rows if s == expected)
    assert point.seq == expected and point.at == stamped
