"""A user's mistakes with the Python API are refused with a message naming what is wrong, and
never written into the log as something else."""

from __future__ import annotations

import pytest

import hpo
from hpo.errors import HpoError
from hpo.eventlog.store import EventStore

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


@pytest.mark.parametrize("step", [1.5, -1, "three", True])
def test_a_step_that_is_not_a_non_negative_integer_is_refused(db, step):
    group = hpo.create_group(RANDOM, db=db, seed=1)
    trial = group.ask()
    with pytest.raises(ValueError, match=r"step must be a non-negative integer, got"):
        trial.report(step=step, loss=0.5)
    assert group.state.trials[1].reports == 0
    group.close()


def test_integral_steps_of_any_type_are_recorded_as_integers(db):
    np = pytest.importorskip("numpy")
    group = hpo.create_group(RANDOM, db=db, seed=1)
    trial = group.ask()
    trial.report(step=np.int64(2), loss=0.5)
    trial.report(step=3.0, loss=0.25)
    assert group.state.trials[1].curves["loss"] == [(2, 0.5), (3, 0.25)]
    group.close()


@pytest.mark.parametrize("backend", ["process", "thread"])
def test_a_bad_step_in_an_objective_fails_its_trial_saying_why(db, backend):
    def objective(trial):
        trial.report(step=0.5, loss=1.0)
        return 1.0

    group = hpo.optimize(objective, RANDOM, n_trials=1, db=db, backend=backend)
    t = group.state.trials[1]
    assert t.status == "failed" and "step must be a non-negative integer, got 0.5" in t.reason
    assert t.reports == 0


def test_tell_names_a_trial_that_is_not_one(db):
    group = hpo.create_group(RANDOM, db=db, seed=1)
    group.ask()
    for wrong in ("abc", None, 1.5):
        with pytest.raises(TypeError, match=r"tell\(\) takes an hpo.Trial or a trial id, got"):
            group.tell(wrong, 0.1)
    assert group.state.trials[1].status == "running"
    group.close()


def test_telling_an_attempt_that_a_pause_interrupted_says_so(db):
    group = hpo.create_group(RANDOM, db=db, seed=1)
    old = group.ask()
    group.close()  # attempt 1 is interrupted
    again = hpo.load_group(group.id, db=db)
    new = again.ask()
    assert (new.id, new.attempt) == (1, 2)
    with pytest.raises(HpoError, match=r"attempt 1 of trial 1 .* was interrupted; tell attempt 2"):
        again.tell(old, 0.1)
    again.tell(new, 0.1)
    assert again.state.trials[1].status == "succeeded"
    again.close()


def test_numpy_integers_are_integers_and_a_seed_must_be_one(db):
    np = pytest.importorskip("numpy")
    group = hpo.optimize(lambda t: t.params["x"], RANDOM, n_trials=np.int64(2), concurrency=np.int32(2),
                         db=db, backend="thread")
    assert len(group.trials()) == 2 and group.state.spec["concurrency"] == 2
    for seed in ("x", 1.5, True, -1):
        with pytest.raises(ValueError, match=r"seed must be an integer >= 0, got"):
            hpo.create_group(RANDOM, db=db, seed=seed)
        with pytest.raises(ValueError, match=r"seed must be an integer >= 0, got"):
            hpo.optimize(lambda t: 1, RANDOM, db=db, seed=seed)
    assert hpo.create_group(RANDOM, db=db, seed=np.int64(7)).state.seed == 7


def test_a_coroutine_or_generator_objective_is_refused_before_a_group_is_made(db):
    async def coroutine(trial):
        return 1.0

    def generator(trial):
        yield 1.0

    for fn, kind in ((coroutine, "a coroutine function"), (generator, "a generator function")):
        with pytest.raises(TypeError, match=f"the objective {fn.__qualname__!r} is {kind}"):
            hpo.optimize(fn, RANDOM, db=db)
    assert not db.exists() or EventStore(db).groups() == []  # no group was created


def test_a_name_in_use_makes_another_group_and_load_takes_the_newest(db):
    first = hpo.create_group(RANDOM, db=db, name="sweep", seed=1)
    second = hpo.create_group(RANDOM, db=db, name="sweep", seed=2)
    assert first.id != second.id and first.name == second.name == "sweep"
    assert hpo.load_group("sweep", db=db).id == second.id and hpo.load_group(first.id, db=db).id == first.id
    assert hpo.create_group({"matrix": {"x": {"values": [1]}}}, db=db).name not in ("", "None")
