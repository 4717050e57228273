"""The closed vocabulary of events in the log.

Every event is a small frozen pydantic model with a stable ``type`` name and a ``SCHEMA``
version. The store keeps ``type``, ``schema`` and the JSON payload; :func:`decode` upcasts an old
payload to the current schema before validating it, so logs written by older versions always
replay. Changing a model's fields means bumping its ``SCHEMA`` and registering an upcaster in
:data:`UPCASTERS` (a test fails otherwise).
"""

from __future__ import annotations

import functools
import json
from typing import Annotated, Any, Callable, ClassVar, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from hpo.errors import StoreError


class Event(BaseModel):
    # defer_build: each model's validator is built when it first validates, so commands that only
    # read the log (trusted payloads, no validation) do not pay for building all of them
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)
    SCHEMA: ClassVar[int] = 1


class GroupCreated(Event):
    """A group was created from a spec. ``spec`` is the normalised spec (``GroupSpec.to_json``)."""

    type: Literal["GroupCreated"] = "GroupCreated"
    group_id: str
    name: str
    spec: dict[str, Any]
    source: str = ""  # the spec file's text, as the user wrote it
    source_path: str | None = None
    seed: int
    origin: dict[str, Any] | None = None  # {"group": id, "kind": "restart"|"fork", "at_seq": n}


class EngineStarted(Event):
    """An engine took the group's lease (first run, resume or takeover)."""

    SCHEMA: ClassVar[int] = 3

    type: Literal["EngineStarted"] = "EngineStarted"
    engine_id: str
    host: str
    pid: int
    lease_seconds: float
    mode: Literal["run", "resume"] = "run"
    took_over_from: str | None = None  # engine whose lease had expired
    concurrency: int | None = None  # the concurrency this engine runs with
    # the searcher's plan when the engine started: {"planned": trials or None, "brackets": [...],
    # "resource": name or None} (schema 2); views read it instead of loading the plugins
    plan: dict[str, Any] | None = None
    # the versions that shape suggestions: {"python": ..., "numpy": ..., "scipy": ...,
    # "scikit-learn": ..., and each of the group's plugins' distribution: version} (schema 3);
    # `hpo replay --check` names what changed when suggestions differ by float noise
    environment: dict[str, str] | None = None


class LeaseRenewed(Event):
    """The engine holding the lease is alive."""

    type: Literal["LeaseRenewed"] = "LeaseRenewed"
    engine_id: str


class Suggested(Event):
    """The search plugin suggested a trial. Records what ``hpo replay --check`` needs."""

    type: Literal["Suggested"] = "Suggested"
    trial_id: int
    params: dict[str, Any]
    meta: dict[str, Any] = Field(default_factory=dict)
    searcher: str
    searcher_version: str
    seed: int  # derived per-suggestion seed
    seen_version: int  # the last group version the searcher had seen


class SearchExhausted(Event):
    """The searcher has nothing more to suggest. Recorded once; the group finishes when the
    trials already suggested are done, and a resumed engine does not ask the searcher again."""

    type: Literal["SearchExhausted"] = "SearchExhausted"
    reason: str  # the searcher's words, e.g. "visited all 6 grid combinations"


class TrialLaunched(Event):
    """A runner started an attempt of a trial."""

    type: Literal["TrialLaunched"] = "TrialLaunched"
    trial_id: int
    attempt: int
    runner: str
    handle: dict[str, Any] = Field(default_factory=dict)  # what reattach needs (pid, host...)
    trial_dir: str


class TrialReattached(Event):
    """A resumed engine found an attempt still running and follows it again."""

    type: Literal["TrialReattached"] = "TrialReattached"
    trial_id: int
    attempt: int


class MetricReported(Event):
    """A trial reported metrics at a step (``hpo.report`` or the stdout line protocol)."""

    type: Literal["MetricReported"] = "MetricReported"
    trial_id: int
    attempt: int
    step: int
    metrics: dict[str, float | None]
    offset: int = 0  # byte offset in the trial's stdout after the report line


class TrialFinished(Event):
    """An attempt ended: succeeded, failed (non-zero exit, signal, timeout) or stopped.
    ``details``: what the runner measured as it ended it (``checkpoint_fetched``: the bytes and
    seconds its checkpoint folder took to come back, see :mod:`hpo.runkit.checkpoints`)."""

    SCHEMA: ClassVar[int] = 2

    type: Literal["TrialFinished"] = "TrialFinished"
    trial_id: int
    attempt: int
    status: Literal["succeeded", "failed", "stopped"]
    exit_code: int | None = None
    signal: int | None = None
    reason: str = ""
    output_tail: str = ""
    resumable: bool = False  # interrupted by a pause: ``hpo resume`` runs it again
    details: dict[str, Any] = Field(default_factory=dict)


class TrialRetried(Event):
    """An attempt was lost to the infrastructure (its worker or host lost, a start that failed)
    or, with ``run.retry_on: [exit]``, exited non-zero: the trial runs again as a new attempt.
    ``retry`` counts this trial's retries (1 for the first), up to ``max_retries``."""

    type: Literal["TrialRetried"] = "TrialRetried"
    trial_id: int
    attempt: int  # the attempt that was lost
    reason: str
    retry: int
    max_retries: int


class ReportsRejected(Event):
    """Report lines of an attempt that did not parse (``count`` more since the attempt's last such
    event) and the first few of them, word for word. Written at the first, then at most every
    few seconds while more come, and at the attempt's end: a trial printing garbage costs the
    log a handful of events, and never fails the group."""

    type: Literal["ReportsRejected"] = "ReportsRejected"
    trial_id: int
    attempt: int
    count: int
    examples: list[str] = Field(default_factory=list)


class StopRequested(Event):
    """Someone (``hpo stop``) asked the engine to stop a trial or the group."""

    type: Literal["StopRequested"] = "StopRequested"
    trial_id: int | None = None
    requested_by: str
    reason: str = ""


class Stopped(Event):
    """The engine decided to stop a trial or the search, with the evidence."""

    type: Literal["Stopped"] = "Stopped"
    scope: Literal["trial", "group"]
    trial_id: int | None = None
    reason: str
    policy: str  # a stopper name, "user" for hpo stop, "engine" otherwise
    group_status: Literal["succeeded", "failed", "stopped"] = "succeeded"
    evidence: dict[str, Any] = Field(default_factory=dict)


class PluginFailed(Event):
    """A search, runner or stopper plugin raised, returned garbage, or made a decision the engine
    refuses (a suggestion outside the matrix); the group fails."""

    SCHEMA: ClassVar[int] = 2

    type: Literal["PluginFailed"] = "PluginFailed"
    plugin: str
    distribution: str = ""
    error: str
    trial_id: int | None = None  # the trial the failing call was for, when there was one
    traceback: str = ""  # where the plugin raised (empty for a result the engine refused)


class RunnerNoticed(Event):
    """The runner reported something about the group rather than one trial (a host went down,
    docker became unreachable). Recorded when the message changes, not on every poll."""

    type: Literal["RunnerNoticed"] = "RunnerNoticed"
    runner: str
    message: str
    details: dict[str, Any] = Field(default_factory=dict)


class GroupFinished(Event):
    """The group ended. ``stopped`` means paused by a user: it can be resumed."""

    type: Literal["GroupFinished"] = "GroupFinished"
    status: Literal["succeeded", "failed", "stopped"]
    reason: str = ""


VOCABULARY: tuple[type[Event], ...] = (
    GroupCreated,
    EngineStarted,
    LeaseRenewed,
    Suggested,
    SearchExhausted,
    TrialLaunched,
    TrialReattached,
    MetricReported,
    TrialFinished,
    TrialRetried,
    ReportsRejected,
    StopRequested,
    Stopped,
    PluginFailed,
    RunnerNoticed,
    GroupFinished,
)
AnyEvent = Annotated[Union[VOCABULARY], Field(discriminator="type")]  # type: ignore[valid-type]
EVENT_TYPES: dict[str, type[Event]] = {cls.model_fields["type"].default: cls for cls in VOCABULARY}


@functools.cache
def _adapter() -> TypeAdapter[Any]:
    """The validator of any event, built on first use: read-only commands never validate."""
    return TypeAdapter(AnyEvent)


# (type, from_schema) -> function turning a payload of that schema into one of from_schema + 1.
UPCASTERS: dict[tuple[str, int], Callable[[dict[str, Any]], dict[str, Any]]] = {
    ("EngineStarted", 1): lambda d: {**d, "plan": None},  # 0.1 logs: no plan recorded
    # 0.2.0 logs: neither the trial a failure concerned nor the plugin's traceback was kept
    ("PluginFailed", 1): lambda d: {**d, "trial_id": None, "traceback": ""},
    ("EngineStarted", 2): lambda d: {**d, "environment": None},  # 0.2 logs: no versions recorded
    ("TrialFinished", 1): lambda d: {**d, "details": {}},  # before 0.2.9: nothing measured at the end
}


def _compact_encoder() -> Callable[[Any], str]:
    """``json.dumps(obj, separators=(",", ":"), allow_nan=True)``, built once.

    ``json.dumps`` with non-default arguments builds a new encoder on every call, which was half
    the cost of appending a metric report; the standard library's C encoder, made once, is the
    same output at a third of the time. Events are trees, so no circular-reference check.
    """
    from json import encoder as std

    if std.c_make_encoder is not None:
        def fail(obj: Any) -> Any:
            raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")

        try:
            make = std.c_make_encoder(
                None, fail, std.encode_basestring_ascii, None, ":", ",", False, False, True
            )
            return lambda obj: "".join(make(obj, 0))
        except TypeError:  # another interpreter's signature: use the portable path
            pass
    return json.JSONEncoder(separators=(",", ":"), allow_nan=True, check_circular=False).encode


_dumps = _compact_encoder()


def encode(event: Event) -> tuple[str, int, str]:
    """``(type, schema, json payload)`` for storage."""
    payload = event.__dict__.copy()
    del payload["type"]
    try:  # events hold plain JSON data, so the fast path almost always works
        text = _dumps(payload)
    except TypeError:
        text = _dumps(event.model_dump(mode="json", exclude={"type"}))
    return event.type, event.SCHEMA, text


_FIELDS = {name: frozenset(cls.model_fields) for name, cls in EVENT_TYPES.items()}


def _construct(cls: type[Event], data: dict[str, Any]) -> Event:
    """``model_construct`` without its per-field default lookup, for complete trusted payloads.

    Replaying a long log spends most of its time building events; payloads written by this
    version carry every field, so nothing needs a default.
    """
    if data.keys() != _FIELDS[data["type"]]:
        return cls.model_construct(**data)
    obj = cls.__new__(cls)
    object.__setattr__(obj, "__dict__", data)
    object.__setattr__(obj, "__pydantic_fields_set__", set(data))
    object.__setattr__(obj, "__pydantic_extra__", None)
    object.__setattr__(obj, "__pydantic_private__", None)
    return obj


def decode(type_: str, schema: int, payload: str | dict[str, Any], trusted: bool = False) -> Event:
    """Rebuild an event from storage, upcasting old schemas first.

    ``trusted`` skips validation (the payload was validated when it was written); replay of
    large logs uses it, ``hpo events --check`` and the golden-log tests do not.
    """
    cls = EVENT_TYPES.get(type_)
    if cls is None:
        raise StoreError(f"unknown event type {type_!r} in the log (written by a newer hpo?)")
    data = json.loads(payload) if isinstance(payload, str) else dict(payload)
    while schema < cls.SCHEMA:
        upcast = UPCASTERS.get((type_, schema))
        if upcast is None:
            raise StoreError(f"no upcaster for {type_} schema {schema} -> {schema + 1}")
        data, schema = upcast(data), schema + 1
    if schema > cls.SCHEMA:
        raise StoreError(f"{type_} schema {schema} is newer than this hpo knows ({cls.SCHEMA})")
    data["type"] = type_
    if trusted:
        return _construct(cls, data)
    try:
        return _adapter().validate_python(data)
    except ValidationError as exc:
        raise StoreError(f"corrupt {type_} event: {exc}") from exc
