"""A spec is bounded before anything is built from it: alias bombs, recursive aliases and
oversized files are refused quickly, with little memory, and with a message that says why."""

import os
import threading
import time
import tracemalloc

import pytest

from hpo.errors import SpecError
from hpo.spec import load_spec
from hpo.spec.yamlload import MAX_NODES, MAX_SPEC_CHARS, load_yaml

BASE = """
settings:
  random_search: {n_experiments: 2}
  metric: {name: loss, optimization: minimize}
  matrix:
    lr: {values: [0.1, 0.01]}
run:
  cmd: echo {{ lr }}
"""


def bomb(levels: int) -> str:
    """Nested anchors in `declarations`: level k repeats level k-1 ten times."""
    lines = ["declarations:", '  l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for k in range(1, levels):
        lines.append(f"  l{k}: &l{k} [" + ", ".join([f"*l{k - 1}"] * 10) + "]")
    return BASE + "\n".join(lines) + "\n"


def _peak_mb(fn) -> float:
    tracemalloc.start()
    try:
        fn()
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak / 2**20


@pytest.mark.parametrize("levels", [7, 9, 30])
def test_an_alias_bomb_is_refused_fast_and_small(tmp_path, levels):
    path = tmp_path / "bomb.yaml"
    path.write_text(bomb(levels))
    started = time.perf_counter()
    with pytest.raises(SpecError, match=r"expands to more than 100,000 values.*line \d+") as info:
        load_spec(path)
    assert time.perf_counter() - started < 1.0
    assert str(path) in str(info.value)

    def refuse():
        with pytest.raises(SpecError):
            load_spec(path)

    assert _peak_mb(refuse) < 100


def test_aliases_within_the_limit_still_work():
    data = load_yaml(bomb(4))  # 10,000 strings once expanded
    assert len(data["declarations"]["l3"]) == 10
    assert data["declarations"]["l3"][0][0][0] == ["lol"] * 10


def test_the_count_is_exact_at_the_limit():
    # one list of MAX_NODES - 1 scalars is MAX_NODES values with the list itself: accepted
    items = ", ".join(["1"] * (MAX_NODES - 1))
    assert len(load_yaml(f"[{items}]")) == MAX_NODES - 1
    with pytest.raises(SpecError, match="expands to more than"):
        load_yaml(f"[{items}, 1]")


def test_a_recursive_alias_is_refused():
    with pytest.raises(SpecError, match="cannot be recursive"):
        load_yaml("a: &x [1, *x]")


def test_an_oversized_spec_is_refused_before_parsing(tmp_path):
    path = tmp_path / "huge.yaml"
    path.write_text(BASE + "# " + "x" * (MAX_SPEC_CHARS + 10) + "\n")
    started = time.perf_counter()
    with pytest.raises(SpecError, match=r"characters long; at most 1,000,000") as info:
        load_spec(path)
    assert time.perf_counter() - started < 1.0
    assert str(path) in str(info.value)


def test_the_cli_says_why_and_exits_non_zero(tmp_path):
    from click.testing import CliRunner

    from hpo.cli import cli

    path = tmp_path / "bomb.yaml"
    path.write_text(bomb(9))
    result = CliRunner().invoke(cli, ["validate", str(path)])
    assert result.exit_code != 0
    assert "expands to more than 100,000 values" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("opening, closing", [("[", "]"), ("{a: ", "}")])
def test_deep_nesting_is_refused_naming_the_line(tmp_path, opening, closing):
    # 500 levels used to overflow PyYAML's recursive composer: a RecursionError traceback
    path = tmp_path / "deep.yaml"
    path.write_text(BASE + "declarations:\n  deep: " + opening * 500 + "1" + closing * 500 + "\n")
    with pytest.raises(SpecError, match=r"nests deeper than 100 levels.*line 10") as info:
        load_spec(path)
    assert str(path) in str(info.value)


def test_nesting_within_the_limit_still_works():
    data = load_yaml("a: " + "[" * 98 + "1" + "]" * 98)  # 100 values deep with the mapping and 1
    for _ in range(99):
        data = data["a"] if isinstance(data, dict) else data[0]
    assert data == 1


def test_an_endless_file_is_refused_without_reading_it_all(tmp_path):
    # a spec path that is a device or pipe (/dev/zero) used to be read whole: MemoryError
    fifo = tmp_path / "endless.yaml"
    os.mkfifo(fifo)
    writer = threading.Thread(target=_write_forever, args=(fifo,), daemon=True)
    writer.start()
    started = time.perf_counter()
    with pytest.raises(SpecError, match=r"more than 1,000,000 characters") as info:
        load_spec(fifo)
    assert time.perf_counter() - started < 5.0
    assert str(fifo) in str(info.value)


def _write_forever(path):
    try:
        with open(path, "w") as out:
            while True:
                out.write("# " + "x" * 65_534 + "\n")
    except (BrokenPipeError, OSError):
        pass


@pytest.mark.parametrize("name", ["deep", "dev_zero"])
def test_the_cli_refuses_deep_or_endless_specs_without_a_traceback(tmp_path, name):
    import subprocess
    import sys

    if name == "deep":
        path = tmp_path / "deep.yaml"
        path.write_text(BASE + "declarations:\n  deep: " + "[" * 2000 + "]" * 2000 + "\n")
    else:
        path = "/dev/zero"
    proc = subprocess.run([sys.executable, "-c", "from hpo.cli import main; main()", "validate", str(path)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert str(path) in proc.stderr
