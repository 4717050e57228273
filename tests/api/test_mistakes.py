"""A user's mistakes with the Python API are refused with a message naming what is wrong, and
never written into the log as something else."""

from __future__ import annotations

import pytest

import hpo
from hpo.errors import HpoError

from .conftest import RANDOM


def test_telling_a_trial_of_another_group_is_refused(db):
    mine = hpo.create_group(RANDOM, db=db, name="mine", seed=1)
    other = hpo.create_group(RANDOM, db=db, name="other", seed=2)
    mine.ask(), mine.ask()
    other.ask()
    stranger = other.ask()  # trial 2 of the other group, while trial 2 of mine runs too
    with pytest.raises(HpoError, match=r"trial 2 belongs to group other \(.*\), not to group mine"):
        mine.tell(stranger, 0.3)
    assert mine.state.trials[2].status == "running" and mine.state.trials[2].metrics == {}
    other.tell(stranger, 0.3)
    assert other.state.trials[2].status == "succeeded"
    mine.close(), other.close()
