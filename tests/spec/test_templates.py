"""``{{ name }}`` templates: names, formatting, shell quoting, and the checks in parse_spec."""

from __future__ import annotations

import json
import re
import subprocess

import pytest

from hpo.errors import SpecError
from hpo.spec import load_spec, parse_spec
from hpo.spec.template import TemplateError, format_value, render, template_names


def test_template_names_in_order_with_or_without_spaces():
    cmd = "train {{ a }} --b={{b}} {{  a }} {{ reward + 0.01 }}"
    assert template_names(cmd) == ["a", "b", "reward + 0.01"]


@pytest.mark.parametrize(
    "value, text",
    [(3, "3"), (0.1, "0.1"), (1e-5, "1e-05"), (2.0, "2.0"), (True, "true"), (False, "false"),
     (None, ""), ("relu", "relu"), ([1, 2], "[1, 2]")],
)  # fmt: skip
def test_format_value(value, text):
    assert format_value(value) == text


def test_render_plain_values():
    assert (
        render("train --lr={{ lr }} --n {{n}}", {"lr": 0.001, "n": 5}) == "train --lr=0.001 --n 5"
    )
    assert render("x {{ flag }}", {"flag": True}) == "x true"


def run_sh(cmd: str, cwd) -> str:
    return subprocess.run(
        ["sh", "-c", cmd], cwd=cwd, capture_output=True, text=True, check=True
    ).stdout


HOSTILE = ["$(touch pwned); rm -rf ~", "`touch pwned`", "a b", "it's", 'x"y', "; touch pwned", "*"]
CONTEXTS = [
    "printf '%s\\n' {{ v }}",
    "printf '%s\\n' --v={{ v }}",
    "printf '%s\\n' \"{{ v }}\"",
    "printf '%s\\n' \"--v={{ v }}\"",
    "printf '%s\\n' '{{ v }}'",
    "printf '%s\\n' \"it's {{ v }}\"",
    # command substitution inside double quotes: the shell parses $(...) afresh, so the value is
    # a plain word there (it used to be quoted as if still inside "..." and $(...) in it ran)
    "printf '%s\\n' \"$(printf '%s' {{ v }})\"",
    "printf '%s\\n' \"--v=$(printf '%s' \"{{ v }}\")\"",
    "printf '%s\\n' \"$(printf '%s' \"$(printf '%s' '{{ v }}')\")\"",
]


@pytest.mark.parametrize("value", HOSTILE)
@pytest.mark.parametrize("cmd", CONTEXTS)
def test_rendered_values_are_inert_data(tmp_path, cmd, value):
    out = run_sh(render(cmd, {"v": value}), tmp_path)
    expected = run_sh(cmd.replace("{{ v }}", "X"), tmp_path).replace("X", value)
    assert out == expected
    assert list(tmp_path.iterdir()) == []


def test_render_unknown_name_is_a_key_error():
    with pytest.raises(KeyError):
        render("{{ nope }}", {})


SPEC = """
matrix:
  lr: {values: [0.1]}
declarations:
  batch: 32
settings:
  hyperband:
    max_iter: 9
    resource: {name: epochs, type: int}
run:
  cmd: CMD
"""


def spec_with(cmd: str):
    return parse_spec(SPEC.replace("CMD", cmd))


def test_allowed_template_names():
    spec = spec_with(
        "t {{lr}} {{ batch }} {{ epochs }} {{ trial_id }} {{group_id}} {{ trial_dir }} {{ checkpoint_dir }}"
    )
    assert "{{ epochs }}" in spec.run.cmd


def test_expressions_are_allowed_as_polyaxon_rendered_them_with_jinja():
    spec = spec_with("t {{ lr + 0.01 }} --b={{ 128 }} --c={{ batch * 2 }} {{ lr | round(2) }}")
    assert render(spec.run.cmd, {"lr": 0.1, "batch": 32}) == "t 0.11 --b=128 --c=64 0.1"


def test_an_expression_reading_an_unknown_name_is_rejected():
    with pytest.raises(SpecError) as info:
        spec_with("t {{ lrr * 2 }}")
    assert info.value.path == "run.cmd"
    assert "template {{ lrr * 2 }} reads lrr, which is no matrix param" in info.value.message
    assert "trial_id" in info.value.message


@pytest.mark.parametrize("cmd, said", [
    ("t {{ lr.__class__.__mro__ }}", "is not allowed: access to attribute '__class__'"),
    ("t {{ 'a' * 100000000 }}", "is not allowed: the result would be longer than 4096"),
    ("t {{ lr + }}", "is not a valid expression"),
])
def test_an_expression_leaving_the_sandbox_is_rejected_naming_the_template(cmd, said):
    with pytest.raises(SpecError) as info:
        spec_with(cmd)
    assert info.value.path == "run.cmd" and said in info.value.message
    assert info.value.message.startswith("template {{ " + cmd[5:-3].strip())


def test_rendered_expressions_are_quoted_and_capped():
    assert render("echo {{ name ~ '; rm -rf ~' }}", {"name": "x"}) == "echo 'x; rm -rf ~'"
    with pytest.raises(TemplateError, match=r"template \{\{ s \* 5000 \}\} is not allowed"):
        render("{{ s * 5000 }}", {"s": "ab"})
    with pytest.raises(TemplateError, match="renders 5000 characters, more than 4096"):
        render("{{ s ~ s }}", {"s": "a" * 2500})
    with pytest.raises(TemplateError, match="failed: ZeroDivisionError"):
        render("{{ lr / 0 }}", {"lr": 0.1})


def test_unknown_template_suggests_closest():
    with pytest.raises(SpecError, match="did you mean 'batch'"):
        spec_with("t {{ bacth }}")


def test_resource_name_only_counts_for_hyperband():
    text = (SPEC.replace("hyperband", "random_search").replace("CMD", "t {{ epochs }}")
            .replace("    max_iter: 9\n    resource: {name: epochs, type: int}\n", "    n_experiments: 1\n"))
    with pytest.raises(SpecError, match="epochs.*names no matrix param"):
        parse_spec(text)


def test_the_algorithm_says_which_names_it_adds():
    """Hyperband's resource is allowed because the searcher declares it (``extra_params``)."""
    from hpo.plugins.search.hyperband import HyperbandConfig, HyperbandSearcher

    config = HyperbandConfig(max_iter=9, resource={"name": "epochs"})
    assert HyperbandSearcher.extra_params(config) == ("epochs",)
    assert parse_spec(SPEC.replace("CMD", "t {{ epochs }}")).run.cmd == "t {{ epochs }}"
    with pytest.raises(SpecError, match="settings.hyperband.max_iter"):  # its options are checked
        parse_spec(SPEC.replace("CMD", "t {{ epochs }}").replace("max_iter: 9", "max_iter: -1"))


def test_an_expression_that_fails_for_one_trial_fails_that_trial_saying_why(tmp_path):
    import sys

    from hpo.engine.composition import create_group
    from hpo.engine.loop import Engine
    from hpo.eventlog.store import EventStore

    spec = parse_spec(f"""
settings:
  metric: {{name: inv, optimization: maximize}}
  matrix:
    x: {{values: [2, 0]}}
run:
  cmd: {sys.executable} -c "import hpo; hpo.report(inv={{{{ 1 / x }}}})"
""")
    with EventStore(tmp_path / "hpo.db") as store:
        gid = create_group(store, spec, name="inv", seed=0)
        state = Engine(store, gid, poll_interval=0.01).run()
    assert state.trials[1].status == "succeeded" and state.trials[1].metrics["inv"] == 0.5
    failed = state.trials[2]
    assert failed.status == "failed" and failed.exit_code == 2
    assert "hpo: template {{ 1 / x }} failed: ZeroDivisionError" in failed.output_tail


@pytest.mark.parametrize("block", ["random_search: {n_experiments: 3, seed: 4}",
                                   "grid_search: {seed: 4}",
                                   "bo: {n_iterations: 3, n_initial_trials: 2, seed: 4}"])
def test_a_seed_in_the_algorithm_block_is_the_group_seed(block):
    spec = parse_spec(f"""
settings:
  {block}
  metric: {{name: loss, optimization: minimize}}
  matrix:
    x: {{values: [1, 2, 3]}}
run:
  cmd: "true"
""")
    assert spec.seed == 4 and "seed" not in spec.search.options


def test_a_seed_in_the_algorithm_block_is_checked_like_any_seed():
    base = "settings:\n  random_search: {n_experiments: 3, seed: SEED}\n  matrix: {x: {values: [1]}}\nrun: {cmd: 'true'}\n"
    with pytest.raises(SpecError) as info:
        parse_spec(base.replace("SEED", "-1"))
    assert info.value.path == "settings.random_search.seed" and "integer >= 0" in info.value.message
    with pytest.raises(SpecError, match="conflicting seed: 3 at seed and 4 at settings.random_search.seed"):
        parse_spec("seed: 3\n" + base.replace("SEED", "4"))


UNSAFE_CONTEXTS = {
    "echo \"`echo {{ v }}`\"": "inside backticks",
    "echo `echo {{ v }}`": "inside backticks",
    "echo \"${HOME:-{{ v }}}\"": "inside ${...}",
    "cat <<EOF\n{{ v }}\nEOF": "in a here-document",
    "cat <<-'EOF'\n\t--v={{ v }}\n\tEOF": "in a here-document",
    "python train.py  # lr={{ v }}": "in a shell comment",
}


@pytest.mark.parametrize("cmd", list(UNSAFE_CONTEXTS))
def test_a_template_where_no_quoting_is_inert_is_refused(tmp_path, cmd):
    # a value `$(touch pwned)` ran in all of these: inside a here-document quotes are literal,
    # and a newline in a value ends a comment
    from click.testing import CliRunner

    from hpo.cli import cli

    path = tmp_path / "spec.yaml"
    path.write_text("matrix:\n  v: {values: ['$(touch pwned)']}\nrun:\n  cmd: " + json.dumps(cmd) + "\n")
    with pytest.raises(SpecError, match=re.escape(UNSAFE_CONTEXTS[cmd])) as info:
        load_spec(path)
    assert info.value.path == "run.cmd" and "{{ v }}" in info.value.message
    result = CliRunner().invoke(cli, ["validate", str(path)])
    assert result.exit_code == 2 and "run.cmd" in result.output and str(path) in result.output
    with pytest.raises(TemplateError):
        render(cmd, {"v": "$(touch pwned)"})


def test_templates_after_a_here_document_or_comment_are_words_again(tmp_path):
    cmd = "cat <<EOF >/dev/null\nbody\nEOF\nprintf '%s' {{ v }} # done"
    assert run_sh(render(cmd, {"v": "$(touch pwned) x"}), tmp_path) == "$(touch pwned) x"
    assert list(tmp_path.iterdir()) == []
