"""``SearcherConformance``: the contract every search algorithm keeps (see ``docs/plugins/searchers.md``).

A searcher is a pure function of (spec, seed, history): the same history gives the same
suggestion, from the same instance or a fresh one, and a call changes nothing in the instance.
Its randomness comes from the group seed and the trial id (seed 0 is a seed like any other). It
never crashes on an empty history, on failed or pending trials; its suggestions lie inside the
matrix and are JSON data; when its budget is spent it says ``Exhausted`` and keeps saying it.
Finally a real group runs with it and passes ``hpo replay --check``.
"""

from __future__ import annotations

import copy
from typing import Any, ClassVar

import pytest
from pydantic import BaseModel

from hpo.contracts.guard import check_decision
from hpo.contracts.searcher import Exhausted, Plan, SearchHistory, Searcher, Suggestion, Wait
from hpo.spec import GroupSpec, parse_spec
from hpo.testing.histories import fingerprint, history, normalised, record, score, simulate


class SearcherConformance:
    """Subclass as ``TestMySearcher`` and set ``searcher`` and ``spec``.

    ``spec`` is a group spec (a dict or YAML text, ``run:`` optional) that selects the searcher.
    Set ``budget`` to the number of trials the spec lets it suggest when it ends the search by
    itself (``Exhausted``); ``seed_matters = False`` for algorithms that ignore the seed.
    """

    searcher: ClassVar[type[Searcher]]
    spec: ClassVar[dict[str, Any] | str]
    budget: ClassVar[int | None] = None
    trials: ClassVar[int] = 10  # how many suggestions the simulated groups make at most
    concurrency: ClassVar[int] = 3  # how many trials the pending-trials simulation keeps running
    seeds: ClassVar[tuple[int, ...]] = (0, 1, 2024)
    seed_matters: ClassVar[bool] = True
    ignore_attributes: ClassVar[tuple[str, ...]] = ()  # caches keyed by the exact history
    real_group_timeout: ClassVar[float] = 120.0  # seconds the real group may take

    _cache: ClassVar[dict[Any, Any]]

    def __init_subclass__(cls, **kw: Any) -> None:
        super().__init_subclass__(**kw)
        cls._cache = {}

    # -- helpers a subclass may use or override -------------------------------------------------

    def group_spec(self) -> GroupSpec:
        data = copy.deepcopy(self.spec)
        if isinstance(data, dict) and "run" not in data and "exec" not in data:
            data["run"] = {"cmd": "(conformance)"}
        spec = parse_spec(data, source=f"<{type(self).__name__}.spec>", algorithms=[self.searcher])
        if spec.search.algorithm != self.searcher.name:
            raise AssertionError(
                f"the spec selects {spec.search.algorithm!r}, not {self.searcher.name!r}"
            )
        return spec

    def make(self, seed: int = 0) -> Searcher:
        return self.searcher(self.group_spec(), seed)

    def simulated(self, seed: int = 0, concurrency: int = 1, fail_every: int = 0) -> tuple[list, Any]:
        key = (seed, concurrency, fail_every)
        if key not in self._cache:
            self._cache[key] = simulate(self.make(seed), self._limit(), concurrency=concurrency,
                                        fail_every=fail_every)
        return self._cache[key]

    def _limit(self) -> int:
        return self.budget + 3 if self.budget is not None else self.trials

    def histories(self) -> list[SearchHistory]:
        """Histories to ask about: empty, mid-run with pending and failed trials, the end."""
        trials, _ = self.simulated(0, self.concurrency, fail_every=3)
        cuts = sorted({0, 1, len(trials) // 2, len(trials)})
        out = [history(*trials[:n]) for n in cuts]
        if trials:
            pending = [record(t.trial_id, t.params, "pending", None, t.meta) for t in trials[:2]]
            out.append(history(*pending))
        return out

    def _state(self, searcher: Searcher) -> Any:
        state = {k: v for k, v in vars(searcher).items() if k not in self.ignore_attributes}
        return fingerprint(state)

    # -- the contract ---------------------------------------------------------------------------

    def test_declares_a_name_a_version_and_a_config(self):
        cls = self.searcher
        assert isinstance(cls.name, str) and cls.name, "set `name`: the algorithm's name in specs"
        assert isinstance(cls.version, str) and cls.version, (
            f"set `version` to a non-empty string (recorded with every suggestion), not {cls.version!r}")
        assert isinstance(cls.Config, type) and issubclass(cls.Config, BaseModel), (
            f"set `Config` to a pydantic model of the block's options, not {cls.Config!r}")
        assert isinstance(cls.spec_keys, tuple) and all(isinstance(k, str) for k in cls.spec_keys), (
            f"`spec_keys` must be a tuple of settings keys, not {cls.spec_keys!r}")
        built = self.make()
        assert built.spec.search.algorithm == cls.name
        extra = type(built).extra_params(built.config)
        assert isinstance(extra, tuple) and all(isinstance(n, str) for n in extra), (
            f"extra_params() must return a tuple of param names, not {extra!r}")
        plan = built.plan()
        assert isinstance(plan, Plan), f"plan() must return a hpo.search.Plan, not {plan!r}"
        assert plan.planned is None or plan.planned == built.planned_trials(), (
            f"plan().planned is {plan.planned}, planned_trials() says {built.planned_trials()}")

    def test_an_empty_history_gets_a_suggestion(self):
        decision = check_decision(self.make().suggest(SearchHistory()), self.group_spec().matrix)
        assert not isinstance(decision, Wait), (
            f"suggest() answered {decision!r} to an empty history: waiting with nothing running "
            "would stall the group (the engine fails it)")
        assert isinstance(decision, Suggestion), f"an empty history got {decision!r}, not a Suggestion"

    def test_same_history_same_decision_and_no_state_change(self):
        searcher = self.make(seed=7)
        for h in self.histories():
            before = self._state(searcher)
            first = normalised(searcher.suggest(h))
            assert normalised(searcher.suggest(h)) == first, f"two calls differ after {len(h)} trials"
            assert self._state(searcher) == before, "suggest() changed the searcher's state"

    def test_a_fresh_instance_agrees(self):
        """What ``hpo replay --check`` and a resumed engine rely on."""
        kept = self.make(seed=7)
        for h in self.histories():
            fresh, again = normalised(self.make(seed=7).suggest(h)), normalised(kept.suggest(h))
            assert fresh == again, (
                f"after {len(h)} trials a fresh instance decided {fresh}, the one used before "
                f"{again}: suggest() must depend on (spec, seed, history) alone")

    def test_deterministic_for_every_seed_including_zero(self):
        for seed in self.seeds:
            first, _ = simulate(self.make(seed), self._limit(), concurrency=2)
            again, _ = self.simulated(seed, 2)
            assert [t.params for t in first] == [t.params for t in again], f"seed {seed}"
            assert [t.meta for t in first] == [t.meta for t in again], f"seed {seed}"

    def test_the_seed_is_used(self):
        if not self.seed_matters:
            pytest.skip("seed_matters = False: this algorithm does not use randomness")
        runs = [[t.params for t in self.simulated(seed, 2)[0]] for seed in self.seeds]
        assert runs[0] != runs[1] and runs[1] != runs[2], "different seeds gave the same suggestions"

    def test_respects_its_budget(self):
        if self.budget is None:
            pytest.skip("no `budget` set: the spec does not end the search by itself")
        for concurrency in (1, self.concurrency):
            trials, last = self.simulated(0, concurrency)  # a suggestion after Exhausted fails here
            assert isinstance(last, Exhausted), f"expected Exhausted after the budget, got {last!r}"
            assert len(trials) == self.budget, (
                f"with concurrency {concurrency} it suggested {len(trials)} trials; budget = {self.budget}")
            assert isinstance(last.reason, str) and last.reason.strip(), "Exhausted needs a reason"
            for h in self.after_exhaustion(trials):
                decision = self.make().suggest(h)
                assert isinstance(decision, Exhausted), (
                    f"Exhausted must stay: with {len(h)} trials "
                    f"({', '.join(sorted({t.status for t in h.trials}))}) it returned {decision!r}")

    def after_exhaustion(self, trials: list) -> list[SearchHistory]:
        """Histories an exhausted searcher may see later: the same trials, all of them failed,
        and longer ones, with trials it did not suggest (a fork with another algorithm's)."""
        failed = [record(t.trial_id, t.params, "failed", None, t.meta) for t in trials]
        more = [record(len(trials) + i + 1, t.params, "succeeded", score(t.params))
                for i, t in enumerate(trials[:3])]
        return [history(*trials), history(*failed), history(*trials, *more), history(*failed, *more)]

    def test_failed_trials_are_survived(self):
        trials, _ = self.simulated(0, 1, fail_every=2)  # checks every decision on the way
        only_failed = [record(t.trial_id, t.params, "failed", None, t.meta) for t in trials[:3]]
        check_decision(self.make().suggest(history(*only_failed)), self.group_spec().matrix)

    def test_pending_trials_are_survived(self):
        trials, _ = self.simulated(0, self.concurrency)
        assert trials, "the simulated group got no suggestion at all"
        for h in self.histories():
            check_decision(self.make().suggest(h), self.group_spec().matrix)

    def test_suggestions_lie_inside_the_matrix(self):
        matrix = self.group_spec().matrix
        for key in list(self._cache) or [(0, 1, 0)]:
            trials, _ = self.simulated(*key)
            for t in trials:
                for name, param in matrix.items():
                    why = param.check_value(t.params[name])
                    assert why is None, f"trial {t.trial_id}: {name}={t.params[name]!r}: {why} ({param.path})"

    def test_a_real_group_runs_and_replays(self, tmp_path):
        """Run a group through the engine (Python trials, 2 at a time); ``replay --check`` it.

        It runs in a thread that gets ``real_group_timeout`` seconds: a searcher that never lets
        the group end fails the test instead of hanging it.
        """
        import threading

        from hpo.testing.plugins import registered

        outcome: dict[str, Any] = {}
        worker = threading.Thread(target=self._run_real_group, args=(tmp_path, outcome), daemon=True)
        with registered(*self._plugins()):
            worker.start()
            worker.join(self.real_group_timeout)
        if worker.is_alive():
            db = tmp_path / "hpo.db"
            pytest.fail(f"the real group did not finish in {self.real_group_timeout:g} s "
                        f"(`hpo list --db {db}` and `hpo status GROUP --db {db}` show where it "
                        "stands); does the searcher answer Wait forever?")
        if "error" in outcome:
            raise outcome["error"]
        status, reason = outcome["status"]
        assert status == "succeeded", f"the real group ended {status}: {reason}"
        checked, mismatches, trials = outcome["replay"]
        assert checked == trials > 0, f"replay --check compared {checked} of {trials} suggestions"
        assert mismatches == [], f"replay --check found suggestions that differ: {mismatches}"

    def _plugins(self) -> list[Any]:
        """The tested class as an in-process plugin, unless it is the one installed."""
        from hpo.contracts.registry import default_registry
        from hpo.testing.plugins import plugin_of

        installed = default_registry().origin("searcher", self.searcher.name)
        return [] if installed and installed.plugin_class is self.searcher else [plugin_of(self.searcher)]

    def _run_real_group(self, tmp_path: Any, outcome: dict[str, Any]) -> None:
        from hpo.api.entry import optimize
        from hpo.engine.lifecycle import replay_check
        from hpo.testing.histories import score

        try:
            spec = self.group_spec()
            metric = spec.metric.name if spec.metric else "value"

            def objective(trial):
                return {metric: score({k: trial.params[k] for k in spec.matrix})}

            group = optimize(objective, spec, n_trials=min(self._limit(), 8), concurrency=2,
                             db=tmp_path / "hpo.db", backend="thread", seed=3)
            outcome["status"] = (group.status, group.state.reason)
            checked, mismatches = replay_check(group.store, group.id)
            outcome["replay"] = (checked, mismatches, len(group.trials()))
        except BaseException as exc:  # raised again in the test's own thread
            outcome["error"] = exc
