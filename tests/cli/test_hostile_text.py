"""Hostile text never reaches the terminal: rich markup (``[/]``, ``[bold]``), escape sequences
and line breaks in a group name, a param value, a metric name or a trial's output go through
every command printed as written, never as markup, and with no control character left."""

import json
import re
import sys
import textwrap

import pytest
import yaml
from click.testing import CliRunner

from hpo.cli import cli
from hpo.engine.composition import create_group
from hpo.engine.loop import Engine
from hpo.eventlog.store import EventStore
from hpo.spec import parse_spec

HOSTILE = "[/] [bold]x\x1b[2J\x1b]0;pwned\x07\nz\x9b1m"
NAME = "evil" + HOSTILE
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")

SCRIPT = textwrap.dedent(r"""
    import json, sys
    import hpo
    p = hpo.params()
    # markup in metric names; control characters there make the line a protocol error (a metric
    # name is printable ASCII), so they reach the views through params, names and output instead
    metrics = {"loss": len(p["tag"]) / 10, "[/]m": 1.0, "[red]esc": 2.0, "[bold]x": 3.0}
    for step in (1, 2):
        print("@hpo " + json.dumps({"step": step, **metrics}), flush=True)
    if "\n" in p["tag"]:
        print("boom [/] \x1b[31mred\x1b]0;title\x07", file=sys.stderr)
        sys.exit(3)
""")


def spec_data(python: str) -> dict:
    return {
        "name": NAME,
        "settings": {
            "concurrency": 2,
            "metric": {"name": "loss", "optimization": "minimize"},
            "matrix": {"tag": {"values": ["[/]", "[bold]b", "\x1b[31mred", "a\nb"]}},
            "grid_search": {},
        },
        "run": {"cmd": f"{python} hostile.py"},
    }


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("hostile")
    (workdir / "hostile.py").write_text(SCRIPT)
    data = spec_data(sys.executable)
    (workdir / "hostile.yaml").write_text(yaml.safe_dump(data))
    db = workdir / "hpo.db"
    with EventStore(db) as store:
        spec = parse_spec(data, source=str(workdir / "hostile.yaml"))
        gid = create_group(store, spec, name=NAME, seed=1, source="", source_path=str(workdir / "hostile.yaml"))
        Engine(store, gid, poll_interval=0.01).run()
    return {"db": db, "gid": gid, "workdir": workdir}


def invoke(hostile, *args, codes=(0,), db=True):
    db_args = ["--db", str(hostile["db"])] if db else []
    result = CliRunner().invoke(cli, [*args, *db_args], env={"COLUMNS": "220"})
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code in codes, result.output
    return result


def assert_clean(text: str) -> None:
    bad = CONTROL.search(text)
    assert bad is None, f"control character {bad.group()!r} printed: {text[max(bad.start() - 40, 0):bad.end() + 40]!r}"


COMMANDS = [
    (("list",), (0,)),
    (("status", "{gid}"), (0,)),
    (("status", "{gid}", "--as-of", "3"), (0,)),
    (("trials", "{gid}"), (0,)),
    (("trials", "{gid}", "--status", "failed"), (0,)),
    (("compare", "{gid}", "{gid}"), (0,)),
    (("watch", "{gid}", "--plain"), (0,)),
    (("plot", "{gid}", "--kind", "history"), (0,)),
    (("plot", "{gid}", "--kind", "parallel"), (0,)),
    (("plot", "{gid}", "--kind", "curves", "--metric", "[/]m"), (0,)),
    (("replay", "{gid}", "--check"), (0,)),
    (("events", "{gid}"), (0,)),
    (("importance", "{gid}"), (1,)),  # too few trials: the error names the group
    (("whatif", "{gid}", "--stopper", "median"), (0,)),
]


@pytest.mark.parametrize("args,codes", COMMANDS, ids=[" ".join(a) for a, _ in COMMANDS])
def test_every_command_prints_hostile_text_cleaned_and_never_as_markup(hostile, args, codes):
    args = [a.format(gid=hostile["gid"]) for a in args]
    result = invoke(hostile, *args, codes=codes)
    assert_clean(result.stdout)
    assert_clean(result.stderr)


def test_the_text_is_shown_as_written_minus_the_control_characters(hostile):
    trials = invoke(hostile, "trials", hostile["gid"]).stdout
    assert "[/]m" in trials and "[bold]b" in trials  # shown, not read as markup
    status = invoke(hostile, "status", hostile["gid"]).stdout
    assert "evil[/] [bold]x" in status and "boom [/] red" in status
    listed = invoke(hostile, "list").stdout
    assert "evil[/]" in listed
    by_name = invoke(hostile, "status", NAME)  # the name itself still finds the group
    assert "evil[/]" in by_name.stdout


JSON = {
    ("list", "--json"): lambda d: d[0]["name"],
    ("status", "{gid}", "--json"): lambda d: d["name"],
    ("compare", "{gid}", "{gid}", "--json"): lambda d: d[0]["name"],
    ("trials", "{gid}", "--json"): lambda d: sorted(r["params"]["tag"] for r in d),
    ("export", "{gid}"): lambda d: sorted(r["params"]["tag"] for r in d),
    ("events", "{gid}", "--json"): lambda d: d[0]["payload"]["name"],
}
TAGS = sorted(["[/]", "[bold]b", "\x1b[31mred", "a\nb"])


@pytest.mark.parametrize("args", list(JSON), ids=[" ".join(a) for a in JSON])
def test_json_keeps_the_data_exactly_and_escapes_it(hostile, args):
    result = invoke(hostile, *[a.format(gid=hostile["gid"]) for a in args])
    assert_clean(result.stdout)
    text = result.stdout
    data = [json.loads(line) for line in text.splitlines()] if args[0] == "events" else json.loads(text)
    assert JSON[args](data) == (TAGS if args[0] in ("trials", "export") else NAME)


def test_the_report_escapes_html_and_drops_control_characters(hostile, tmp_path):
    out = tmp_path / "r.html"
    invoke(hostile, "report", hostile["gid"], "-o", str(out))
    html = out.read_text()
    assert_clean(html)
    assert "evil[/] [bold]x" in html and "<bold>" not in html
    assert "boom [/] red" in html


def test_run_validate_restart_and_fork_print_names_cleaned(hostile, tmp_path):
    spec = hostile["workdir"] / "hostile.yaml"
    result = invoke(hostile, "validate", str(spec), db=False)
    assert_clean(result.stdout)
    assert "[bold]b" in result.stdout
    run = invoke(hostile, "run", str(spec), "--plain", "--name", "again" + HOSTILE, codes=(0, 1))
    assert_clean(run.stdout)
    assert_clean(run.stderr)
    assert "group again[/] [bold]x" in run.stdout
    restart = invoke(hostile, "restart", hostile["gid"], "--failed-only", "--plain", codes=(1,))
    assert_clean(restart.stdout)
    fork = invoke(hostile, "fork", hostile["gid"], "--at", "5")
    assert_clean(fork.stdout)
    assert_clean(fork.stderr)


def test_the_live_view_draws_hostile_text_on_a_terminal(hostile):
    from rich.console import Console

    from hpo.engine.plans import plan_of
    from hpo.eventlog.state import GroupState
    from hpo.views.dashboard import dashboard
    from hpo.views.overview import overview

    with EventStore(hostile["db"]) as store:
        state = GroupState.fold(store.read(hostile["gid"]))
    state.status = "running"  # draw it as the live view does, running table included
    state.trials[1].status = "running"
    console = Console(record=True, width=120, force_terminal=True, color_system=None)  # markup on
    console.print(dashboard(overview(state, plan_of(state), now=state.last_ts)))
    text = console.export_text()
    assert_clean(text)
    assert "evil[/] [bold]x" in text and "tag=[/]" in text
