"""Asking the searcher for a round of suggestions and recording them (and its exhaustion).

The n-th suggestion of a round sees the ones before it as pending trials, exactly as the log has
them at the version it records (``seen_version``), which is what ``hpo replay --check``
rebuilds. Every decision passes :mod:`~hpo.engine.admit` first: what breaks the contract is
the round's failure, never an event. When the searcher says it is exhausted, a
``SearchExhausted`` event records it once, so a resumed engine never asks it again and finishes
when the trials left are done (the engine that heard it asks once more, to confirm it).
"""

from __future__ import annotations

from collections.abc import Set as AbstractSet
from typing import TYPE_CHECKING, Iterator

from hpo.contracts.searcher import PENDING, Exhausted, SearchHistory, Suggestion, TrialRecord, Wait, params_key
from hpo.errors import ConcurrencyError
from hpo.eventlog import events as ev
from hpo.eventlog.state import TrialState

if TYPE_CHECKING:
    from hpo.engine.loop import Engine


def suggest(engine: Engine, limit: int) -> tuple[list[TrialState], bool, BaseException | None]:
    """Ask the searcher for up to ``limit`` trials; record them in one transaction.

    Returns the new trials, whether to stop asking (the searcher waits or is exhausted), and
    the searcher's failure, if any (the trials it suggested before failing still run). If
    another process appended meanwhile, the round is asked again on the new state.
    """
    while True:
        events, halt, exhausted, failure = _ask(engine, limit)
        batch: list[ev.Event] = list(events)
        if exhausted is not None and engine.state.exhausted is None:
            batch.append(ev.SearchExhausted(reason=exhausted))
        if not batch:
            return [], halt, failure
        try:
            engine.append(batch, launches=False, retry=False)
        except ConcurrencyError:
            engine.sync()  # e.g. a stop request arrived: ask again, on the new state
            continue
        engine.heard_exhausted |= exhausted is not None
        for _ in events:
            engine.faults.hit("suggested")
        return [engine.state.trials[e.trial_id] for e in events], halt, failure


def _ask(engine: Engine, limit: int) -> tuple[list[ev.Suggested], bool, str | None, BaseException | None]:
    """The round's suggestions, whether to stop asking, the exhaustion reason, the failure."""
    searcher, state = engine.searcher, engine.state
    base, version = state.history(), state.version
    events: list[ev.Suggested] = []
    records: list[TrialRecord] = []
    keys: set[str] = set()
    history = base
    while len(events) < limit:
        trial_id = history.next_trial_id
        try:
            decision = searcher.suggest(history)
            if isinstance(decision, Wait):
                engine.admission.wait(decision, history)
                return events, True, None, None
            if isinstance(decision, Exhausted):
                return events, True, decision.reason, None
            if not isinstance(decision, Suggestion):
                raise engine.admission.refuse(trial_id, f"suggest() returned {decision!r}; "
                                                        "expected a Suggestion, Wait or Exhausted")
            params, meta = engine.admission.suggestion(decision, trial_id)
        except Exception as exc:  # the trial it was for is named in the PluginFailed event
            if getattr(exc, "trial_id", None) is None:
                exc.trial_id = trial_id  # type: ignore[attr-defined]
            return events, False, None, exc
        e = ev.Suggested(
            trial_id=trial_id, params=params, meta=meta, searcher=searcher.name,
            searcher_version=searcher.version, seed=searcher.derived_seed(trial_id),
            seen_version=version + len(events),
        )
        events.append(e)
        if len(events) < limit:  # what the state will hold once ``e`` is folded
            records.append(TrialRecord(trial_id, dict(e.params), PENDING, None, dict(e.meta)))
            keys.add(params_key(e.params))
            history = SearchHistory(base.trials + tuple(records), keys=_Union(base.param_keys(), keys))
    return events, False, None, None


class _Union(AbstractSet[str]):
    """The params keys of the state plus those of a round's suggestions, without copying."""

    def __init__(self, base: AbstractSet[str], extra: set[str]):
        self.base, self.extra = base, extra

    def __contains__(self, key: object) -> bool:
        return key in self.extra or key in self.base

    def __iter__(self) -> Iterator[str]:
        yield from self.base
        yield from (k for k in self.extra if k not in self.base)

    def __len__(self) -> int:
        return len(self.base) + sum(1 for k in self.extra if k not in self.base)


def confirm_exhausted(engine: Engine) -> BaseException | None:
    """Ask an exhausted searcher once more, on the group's final history: a searcher that then
    suggests (or waits) broke the contract, and the failure says so (None when it did not)."""
    history = engine.state.history()
    try:
        decision = engine.searcher.suggest(history)
        engine.admission.still_exhausted(decision, engine.state.exhausted or "", history.next_trial_id)
    except Exception as exc:
        if getattr(exc, "trial_id", None) is None:
            exc.trial_id = history.next_trial_id  # type: ignore[attr-defined]
        return exc
    return None
