"""A group records its searcher's resolved options, defaults included, so a release that changes a
default never changes how an existing group resumes or replays."""

import textwrap

from pydantic import BaseModel

from hpo.contracts.searcher import Exhausted, Searcher, Suggestion
from hpo.engine.loop import Engine
from hpo.testing import plugin_of, registered

from .test_engine import make

BO = textwrap.dedent("""
settings:
  bo:
    n_iterations: 2
    metric: {name: loss, optimization: minimize}
  matrix:
    x: {uniform: [0, 1]}
run:
  cmd: echo "@hpo loss={{ x }}"
""")


def created_options(store, gid) -> dict:
    return next(s.event.spec["search"]["options"] for s in store.read(gid) if s.type == "GroupCreated")


def test_bo_defaults_are_recorded_when_the_group_is_created(store, workdir):
    gid = make(store, workdir, BO)
    options = created_options(store, gid)
    assert options["n_iterations"] == 2 and options["n_initial_trials"] == 5
    assert options["utility_function"]["gaussian_process"]["kernel"] == "matern"
    assert options["utility_function"]["n_warmup"] == 1000


def _searcher(default: int):
    class Config(BaseModel):
        step: int = default

    class Stepper(Searcher):
        """Suggests x = 0.1 * step * trial id, for three trials."""

        name = "stepper"

        def suggest(self, history):
            done = len(history.trials)
            if done >= 3:
                return Exhausted("three trials")
            return Suggestion(params={"x": 0.1 * self.config.step * (done + 1)})

    Stepper.Config = Config
    return Stepper


SPEC = textwrap.dedent("""
settings:
  stepper: {}
  matrix:
    x: {uniform: [0, 10]}
run:
  cmd: echo "@hpo loss={{ x }}"
""")


def test_a_changed_default_does_not_change_an_existing_group(store, workdir):
    with registered(plugin_of(_searcher(default=1))):
        gid = make(store, workdir, SPEC)
    assert created_options(store, gid) == {"step": 1}
    with registered(plugin_of(_searcher(default=5))):  # a later release changed the default
        state = Engine(store, gid, poll_interval=0.01).run()
    assert sorted(round(t.params["x"], 6) for t in state.trials.values()) == [0.1, 0.2, 0.3]
