"""A metric without ``optimization`` is a warning naming the direction assumed, louder when the
name looks like a loss or an error."""

import pytest
from click.testing import CliRunner

from hpo.cli import cli
from hpo.spec import parse_spec
from hpo.spec.metric import looks_like_a_loss

SPEC = """
settings:
  metric: {metric}
  matrix:
    x: {{values: [1]}}
run:
  cmd: "true"
"""


def _warnings(metric: str) -> list[str]:
    return [w for w in parse_spec(SPEC.format(metric=metric)).warnings if ".metric" in w]


@pytest.mark.parametrize("name", ["val_loss", "loss", "test-error", "mse", "RMSE", "train/mae", "logloss"])
def test_a_loss_like_name_without_a_direction_is_a_loud_warning(name):
    (warning,) = _warnings(f"{{name: {name}}}")
    assert warning.startswith("settings.metric: no optimization given")
    assert f"{name} will be MAXIMIZED" in warning and "optimization: minimize" in warning


def test_any_other_name_without_a_direction_says_maximize_is_assumed():
    (warning,) = _warnings("{name: accuracy}")
    assert "accuracy is maximized (the default)" in warning and "MAXIMIZED" not in warning
    (bare,) = _warnings("val_loss")  # the bare-string form has no direction either
    assert "MAXIMIZED" in bare


@pytest.mark.parametrize("way", ["maximize", "minimize"])
def test_a_stated_direction_warns_nothing(way):
    assert _warnings(f"{{name: val_loss, optimization: {way}}}") == []


def test_the_algorithm_block_metric_is_checked_too():
    spec = parse_spec("""
settings:
  hyperband:
    max_iter: 9
    eta: 3
    resource: {name: epochs, type: int}
    metric: {name: val_loss}
  matrix:
    x: {uniform: [0, 1]}
run:
  cmd: "true"
""")
    assert any(w.startswith("settings.hyperband.metric: no optimization given, so val_loss will be MAXIMIZED")
               for w in spec.warnings)


def test_words_that_merely_contain_the_letters_are_not_losses():
    assert not looks_like_a_loss("accuracy") and not looks_like_a_loss("maeve_score")
    assert not looks_like_a_loss("terror_rate")


def test_validate_and_run_print_the_warning(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(SPEC.format(metric="{name: val_loss}"))
    runner = CliRunner()
    out = runner.invoke(cli, ["validate", str(path)])
    assert out.exit_code == 0 and "val_loss will be MAXIMIZED" in out.stdout
    assert "metric:      val_loss (maximize)" in out.stdout
    run = runner.invoke(cli, ["run", str(path), "--db", str(tmp_path / "h.db"), "--plain"])
    assert "warning: settings.metric: no optimization given, so val_loss will be MAXIMIZED" in run.stderr
