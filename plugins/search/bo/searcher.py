"""Bayesian optimization: a Gaussian process over the unit cube, one suggestion per call.

``suggest`` is a pure function of (spec, seed, history): it refits the GP on the completed
trials every time, imagines the pending and running ones at the model's own prediction (the
"kriging believer"), so concurrent slots get distinct, spread-out suggestions, and takes the best
acquisition candidate that was never tried. The first ``n_initial_trials`` suggestions, and any
made before two trials have a value, are random draws from the matrix.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from hpo.errors import SpecError
from hpo.contracts.searcher import Exhausted, Searcher, SearchHistory, Suggestion, TrialRecord

from .config import BOConfig
from .space import Encoder

MAX_OBSERVATIONS = 256  # the GP sees at most this many trials: the best quarter + a random rest
MAX_ENUMERATE = 20_000  # spaces this small are scored exhaustively instead of optimised
MAX_DRAWS = 1000
INCUMBENTS = 3  # best observed points that also seed the local search


class BOSearcher(Searcher):
    name = "bo"
    version = "1"
    Config = BOConfig
    needs_metric = True
    spec_keys = ("bo",)
    # groups created before these options existed keep the model they were created with
    recorded_defaults = {"utility_function": {"gaussian_process": {
        "isotropic_term": False, "output_warping": "none",
    }}}

    def check_spec(self, spec: Any) -> None:
        super().check_spec(spec)
        path = f"{spec.search.path}.utility_function"
        uf = self.config.utility_function
        if uf.acquisition_function == "ucb" and uf.kappa is None:
            raise SpecError(
                "the ucb acquisition function needs `kappa` (e.g. 2.576; larger explores more)",
                f"{path}.kappa",
            )
        if uf.acquisition_function in ("ei", "poi") and uf.eps is None:
            raise SpecError(
                f"the {uf.acquisition_function} acquisition function needs `eps` "
                "(e.g. 0.01; larger explores more)",
                f"{path}.eps",
            )
        if not spec.matrix:
            raise SpecError("bo needs at least one matrix parameter to search", "matrix")
        self.encoder = Encoder(spec.matrix)

    def planned_trials(self) -> int:
        return self.config.budget

    def suggest(self, history: SearchHistory) -> Suggestion | Exhausted:
        budget = self.config.budget
        if len(history) >= budget:
            return Exhausted(
                f"ran the bo budget of {budget} trials (n_initial_trials + n_iterations)"
            )
        tried = {self.encoder.key(t.params) for t in history.trials}
        size = self.encoder.size
        if size is not None and len(tried) >= size:
            return Exhausted(f"every one of the {size} configurations of the matrix was tried")
        trial_id = history.next_trial_id
        rng = self.rng(trial_id)
        observed = [
            t for t in history.completed() if not math.isnan(t.value) and self._encodable(t)
        ]
        if trial_id <= self.config.n_initial_trials:
            return self._random(rng, tried, {"phase": "initial"})
        if len(observed) < 2:
            note = f"only {len(observed)} trial(s) have a value yet; drawing at random"
            return self._random(rng, tried, {"phase": "random", "note": note})
        # The matrices are small: BLAS threads cost more than they bring, and oversubscribe a
        # machine that is also running the trials.
        with threadpool_limits(limits=1, user_api="blas"):
            return self._model(history, observed, tried, rng, trial_id)

    # -- the two ways to suggest ------------------------------------------------------------

    def _random(self, rng: np.random.Generator, tried: set[str], meta: dict) -> Suggestion | Exhausted:
        for _ in range(MAX_DRAWS):
            params = {name: p.sample(rng) for name, p in self.space.items()}
            if self.encoder.key(params) not in tried:
                return Suggestion(params, meta)
        if self.encoder.enumerable and (self.encoder.size or 0) <= MAX_ENUMERATE:
            fresh = [z for z in self.encoder.enumerate() if self._new(z, tried)]
            if fresh:
                return Suggestion(self.encoder.decode(fresh[int(rng.integers(len(fresh)))]), meta)
        return Exhausted(
            f"no untried configuration found in {MAX_DRAWS} random draws after "
            f"{len(tried)} distinct ones; the reachable space is (nearly) exhausted"
        )

    def _model(
        self,
        history: SearchHistory,
        observed: list[TrialRecord],
        tried: set[str],
        rng: np.random.Generator,
        trial_id: int,
    ) -> Suggestion | Exhausted:
        # scikit-learn and scipy.optimize load only when a model is fitted: `hpo status` and
        # every other command that loads the plugins stay fast
        from . import gp
        from .acquisition import Acquisition, maximize

        observed = self._subsample(observed, rng)
        X = np.array([self.encoder.encode(t.params) for t in observed])
        y = self.metric.sign() * np.array([float(t.value) for t in observed])
        finite = np.isfinite(y)  # an infinite loss is read as the worst finite value, and so on
        if not finite.all():
            y = np.clip(y, *(np.min(y[finite]), np.max(y[finite])) if finite.any() else (0, 0))
        cfg = self.config.utility_function
        gpc = cfg.gaussian_process
        if gpc.output_warping == "power":
            from .warping import power

            y = power(y)
        std = float(np.std(y))
        y = (y - float(np.mean(y))) / (std if std > 0 else 1.0)
        post = gp.fit(
            X, y, gpc.kernel, gpc.length_scale, gpc.nu, gpc.n_restarts_optimizer,
            self.derived_seed(trial_id), gpc.isotropic_term,
        )
        pending = [t for t in history.active() if self._encodable(t)]
        best = float(y.max())
        if pending:
            Xp = np.array([self.encoder.encode(t.params) for t in pending])
            believed = post.predict(Xp)[0]
            post = post.condition(Xp, believed)
            # the imagined values count as observed ones, for the incumbent too: otherwise ei
            # still expects to improve on a pending trial by landing right next to it
            best = max(best, float(believed.max()))
        acq = Acquisition(cfg.acquisition_function, cfg.kappa or 0.0, cfg.eps or 0.0, best)
        enumerate_all = self.encoder.enumerable and (self.encoder.size or 0) <= MAX_ENUMERATE
        candidates, _ = maximize(
            acq, post, self.encoder, rng, cfg.n_warmup, cfg.n_iter,
            incumbents=X[np.argsort(-y, kind="stable")[:INCUMBENTS]],
            candidates=self.encoder.enumerate() if enumerate_all else None,
        )
        for z in candidates:
            if self._new(z, tried):
                return Suggestion(self.encoder.decode(z), {"phase": "model"})
        note = "every acquisition candidate was already tried; drawing at random"
        return self._random(rng, tried, {"phase": "random", "note": note})

    # -- helpers ----------------------------------------------------------------------------

    def _new(self, z: np.ndarray, tried: set[str]) -> bool:
        return self.encoder.key(self.encoder.decode(z)) not in tried

    def _encodable(self, t: TrialRecord) -> bool:
        try:
            self.encoder.encode(t.params)
        except (KeyError, ValueError, TypeError):
            return False  # a trial from an older matrix: it cannot inform this model
        return True

    def _subsample(self, observed: list[TrialRecord], rng: np.random.Generator) -> list[TrialRecord]:
        """At most MAX_OBSERVATIONS trials (keeps the fit's cost bounded on long runs)."""
        if len(observed) <= MAX_OBSERVATIONS:
            return observed
        sign = self.metric.sign()
        ranked = sorted(observed, key=lambda t: (-sign * float(t.value), t.trial_id))
        keep = MAX_OBSERVATIONS // 4
        rest = ranked[keep:]
        picked = rng.choice(len(rest), size=MAX_OBSERVATIONS - keep, replace=False)
        chosen = ranked[:keep] + [rest[i] for i in sorted(picked)]
        return sorted(chosen, key=lambda t: t.trial_id)
