"""A corpus of malformed specs (``malformed/*.yml``), each rejected with a clear error.

The first line of each file says what to expect: ``# expect: <YAML path> | <message part>``
(an empty path means the error is about the file as a whole). A distribution in a grid is the
grid plugin's error, not the spec's, so it is not in this corpus.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from hpo.errors import SpecError
from hpo.spec import load_spec

HERE = Path(__file__).parent / "malformed"
FILES = sorted(HERE.glob("*.yml"))


def expectation(path: Path) -> tuple[str, str]:
    first = path.read_text(encoding="utf-8").splitlines()[0]
    assert first.startswith("# expect:"), f"{path.name} has no '# expect:' first line"
    where, _, fragment = first.removeprefix("# expect:").partition("|")
    return where.strip(), fragment.strip()


def test_corpus_is_big_enough():
    assert len(FILES) >= 25


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_malformed_spec_is_rejected(path):
    where, fragment = expectation(path)
    with pytest.raises(SpecError) as info:
        load_spec(path)
    err = info.value
    assert err.file == str(path)
    assert err.path == where, str(err)
    assert fragment in err.message, str(err)
