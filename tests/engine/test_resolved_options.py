"""A group records its searcher's resolved options, defaults included, so a release that changes a
default never changes how an existing group resumes or replays."""

import textwrap

from pydantic import BaseModel

from hpo.contracts.searcher import Exhausted, Searcher, Suggestion
from hpo.engine.lifecycle import replay_check
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


def _searcher_with_new_option(default: int):
    """The stepper of a later release: a new option, ``offset``, whose value before it existed
    was 0 (its ``recorded_defaults``) and whose default for new groups is ``default``."""
    base = _searcher(default=1)

    class Config(BaseModel):
        step: int = 1
        offset: int = default

    class Later(base):
        recorded_defaults = {"offset": 0}

        def suggest(self, history):
            decision = super().suggest(history)
            if isinstance(decision, Suggestion):
                decision = Suggestion(params={"x": decision.params["x"] + self.config.offset})
            return decision

    Later.Config = Config
    return Later


def test_an_option_added_later_keeps_its_old_value_for_an_existing_group(store, workdir):
    with registered(plugin_of(_searcher(default=1))):
        gid = make(store, workdir, SPEC)  # recorded {"step": 1}: no offset yet
    with registered(plugin_of(_searcher_with_new_option(default=5))):
        state = Engine(store, gid, poll_interval=0.01).run()
        assert replay_check(store, gid) == (3, [])
        fresh = make(store, workdir, SPEC)
        assert created_options(store, fresh) == {"step": 1, "offset": 5}
        later = Engine(store, fresh, poll_interval=0.01).run()
    assert sorted(round(t.params["x"], 6) for t in state.trials.values()) == [0.1, 0.2, 0.3]
    assert sorted(round(t.params["x"], 6) for t in later.trials.values()) == [5.1, 5.2, 5.3]


def test_bo_groups_from_before_its_newer_options_keep_their_model(store, workdir, monkeypatch):
    import hpo.engine.composition as composition

    resolve = composition.with_resolved_options

    def as_before(spec, registry=None):  # what a release before these options recorded
        spec = resolve(spec, registry)
        gp = spec.search.options["utility_function"]["gaussian_process"]
        for key in ("isotropic_term", "output_warping"):
            gp.pop(key)
        return spec

    monkeypatch.setattr(composition, "with_resolved_options", as_before)
    old = make(store, workdir, BO)
    monkeypatch.undo()
    new = make(store, workdir, BO)
    gp_old = Engine(store, old).searcher.config.utility_function.gaussian_process
    assert (gp_old.isotropic_term, gp_old.output_warping) == (False, "none")
    recorded = created_options(store, new)["utility_function"]["gaussian_process"]
    gp_new = Engine(store, new).searcher.config.utility_function.gaussian_process
    assert recorded == gp_new.model_dump(mode="json")
