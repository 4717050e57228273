"""A multi-fidelity searcher from its own distribution, which the core has never heard of, adds
its resource to the command template, continues its parents' checkpoints and shows its plan,
through the searcher contract alone (spec_keys, extra_params, continues, plan)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from .test_plugin_errors import fake_distribution

HALVING = '''
"""Successive halving in one bracket: n configs at the smallest budget, the best 1/eta go on."""

from pydantic import BaseModel, ConfigDict

from hpo.hookspecs import hookimpl
from hpo.search import Exhausted, Plan, Searcher, Suggestion, Wait


class HalvingConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    budget: str = "budget"       # the param that carries the resource
    n: int = 9
    eta: int = 3
    rungs: list[int] = [1, 3, 9]


class Halving(Searcher):
    name = "halving"
    version = "1"
    Config = HalvingConfig
    needs_metric = True
    spec_keys = ("successive_halving",)

    @classmethod
    def extra_params(cls, config):
        return (config.budget,)

    def sizes(self):
        return [self.config.n // self.config.eta ** i for i in range(len(self.config.rungs))]

    def planned_trials(self):
        return sum(self.sizes())

    def plan(self):
        rungs = [{"n": n, "resource": r} for n, r in zip(self.sizes(), self.config.rungs)]
        return Plan(self.planned_trials(), [{"bracket": 0, "rungs": rungs}], self.config.budget,
                    f"n={self.config.n}, eta={self.config.eta}")

    def continues(self, meta):
        return meta.get("grown_from")  # its own meta key: the core reads no fixed one

    def suggest(self, history):
        cfg, sizes = self.config, self.sizes()
        by_rung = {}
        for t in history.trials:
            by_rung.setdefault(t.meta.get("rung"), []).append(t)
        for rung, size in enumerate(sizes):
            mine = by_rung.get(rung, [])
            if len(mine) < size:
                if rung == 0:
                    rng = self.rng(history.next_trial_id)
                    params = {name: p.sample(rng) for name, p in self.space.items()}
                    return self._at(params, 0, None)
                below = by_rung.get(rung - 1, [])
                if not all(t.finished for t in below):
                    return Wait(f"rung {rung - 1} is still running")
                done = {t.meta["grown_from"] for t in mine}
                sign = self.metric.sign()
                ranked = sorted((t for t in below if t.value is not None),
                                key=lambda t: (-sign * t.value, t.trial_id))
                for parent in ranked[:size]:
                    if parent.trial_id not in done:
                        params = {k: v for k, v in parent.params.items() if k != cfg.budget}
                        return self._at(params, rung, parent.trial_id)
                break
        return Exhausted(f"ran the {len(sizes)} rungs")

    def _at(self, params, rung, parent):
        params[self.config.budget] = self.config.rungs[rung]
        meta = {"bracket": 0, "rung": rung, "resource": self.config.rungs[rung]}
        if parent is not None:
            meta["grown_from"] = parent
        return Suggestion(params, meta)


@hookimpl
def hpo_register_searchers(register):
    register(Halving)
'''

SPEC = """
name: halving
settings:
  successive_halving: {budget: steps}
  metric: {name: loss, optimization: minimize}
  concurrency: 3
  matrix:
    lr: {uniform: [0, 1]}
run:
  cmd: >-
    mkdir -p "$HPO_CHECKPOINT_DIR" && echo "$HPO_TRIAL_ID" >> "$HPO_CHECKPOINT_DIR/trained_by";
    echo "@hpo step={{ steps }} loss={{ lr }} steps={{ steps }}"
"""


@pytest.fixture
def hpo(tmp_path):
    site = tmp_path / "site"
    fake_distribution(site, "hpo-halving", {"hpo_halving": HALVING}, {"halving": "hpo_halving"})
    (tmp_path / "spec.yaml").write_text(textwrap.dedent(SPEC))
    env = {**os.environ, "HPO_DB": str(tmp_path / "hpo.db"),
           "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])}

    def run(*args):
        proc = subprocess.run([sys.executable, "-m", "hpo", *args], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=180)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        return proc.stdout

    return run


def test_it_shows_its_plan(hpo):
    table = hpo("plan", "spec.yaml")
    assert "halving plan: n=9, eta=3, resource=steps" in table
    assert "1 bracket, 13 trials (rung executions), total steps: 27" in table
    data = json.loads(hpo("plan", "spec.yaml", "--json"))
    assert data["brackets"] == [{"bracket": 0, "rungs": [{"n": 9, "resource": 1}, {"n": 3, "resource": 3},
                                                          {"n": 1, "resource": 9}]}]
    assert (data["algorithm"], data["planned"], data["resource"]) == ("halving", 13, "steps")


def test_its_resource_reaches_the_template_and_promotions_continue_checkpoints(hpo, tmp_path):
    hpo("run", "spec.yaml", "--seed", "4", "--plain")
    trials = json.loads(hpo("export", "halving"))
    assert len(trials) == 13 and {t["status"] for t in trials} == {"succeeded"}
    for t in trials:  # the template got the resource
        assert t["metrics"] == {"loss": pytest.approx(t["params"]["lr"]), "steps": t["params"]["steps"]}
    assert [t["params"]["steps"] for t in trials] == [1] * 9 + [3] * 3 + [9]
    last = trials[-1]
    group = json.loads(hpo("status", "halving", "--json"))
    assert group["status"] == "succeeded" and group["planned"] == 13
    # the last trial grew from a rung-1 trial that grew from a rung-0 one: one checkpoint folder
    folders = list((tmp_path / "groups" / group["group"] / "trials").glob("*/checkpoints/trained_by"))
    chains = [f.read_text().split() for f in folders]
    assert sorted(len(c) for c in chains) == [1] * 6 + [2] * 2 + [3]
    assert str(last["trial"]) in max(chains, key=len)
    status = hpo("status", "halving")
    assert "halving  last: bracket 0 · rung 2 · steps=9" in status  # the views draw its rungs
    assert "9/9 @1   3/3 @3   1/1 @9" in status
    assert "13 suggestions re-derived, 0 differ" in hpo("replay", "halving", "--check")
