"""Session aggregation: the counters of one Shimmy session, in constant memory.

Two ways in, one aggregation:

- :class:`SessionRecorder`, the Python API for callers in process
  (``record_request(...)`` per request, ``summary()`` at shutdown);
- :func:`read_events`, which streams Shimmy's JSON Lines events file (DESIGN.md,
  "Shimmy's events file") line by line for ``send --events``.

Both count through the same function (``record_request``, built by :func:`_counter`),
and :func:`_summarise` turns the counts into the :class:`SessionSummary` that
``payload.py`` builds the payload's metrics from.

What is kept, whatever the session length: a few integers, a bit mask of the
endpoints, one counter per integration type, the request counts of the two most
recent clock hours, one 64-bit keyed fingerprint per distinct model (at most
``MAX_MODELS`` of them), and a bounded memo of the session's short User-Agent strings.
Model names, paths and queries are never stored; nothing here leaves the process
except the summary.

This module is imported by ``send``: it imports nothing heavy (no pydantic, httpx,
psutil or textual).
"""

from __future__ import annotations

import functools
import json
import math
import os
import re
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from shimmy_onboard.clock import Clock, parse_utc, system_clock
from shimmy_onboard.config import open_regular_file
from shimmy_onboard.consent import ci_variable_set
from shimmy_onboard.vocab import (
    MAX_RAW_VERSION_LENGTH,
    DeploymentType,
    Endpoint,
    IntegrationType,
)

if TYPE_CHECKING:
    import threading

# --- Bounds --------------------------------------------------------------------------
# A hostile events file cannot push a number past these; payload.py enforces the same
# maxima in its schema, so it imports them from here (one place for each fact).

#: requests_per_session and peak_requests_per_hour.
MAX_REQUESTS = 10**9
#: total_tokens_generated.
MAX_TOKENS = 10**12
#: session_duration_minutes: one leap year.
MAX_DURATION_MINUTES = 60 * 24 * 366
#: avg_response_time_ms: ten minutes. A slower request counts as ten minutes.
MAX_LATENCY_MS = 10 * 60 * 1000
#: models_used_count: distinct models are counted exactly up to this many, then the
#: count stays here (it is also the cap on the fingerprints kept in memory).
MAX_MODELS = 10_000
#: A line of the events file longer than this (in characters) is skipped unread.
MAX_LINE_LENGTH = 64 * 1024

#: Over this many requests, or this long, a session counts as ``production``.
PRODUCTION_REQUESTS = 1000
PRODUCTION_SECONDS = 8 * 3600

_UTC = timezone.utc
_EPOCH = datetime(1970, 1, 1, tzinfo=_UTC)

# --- Endpoints -----------------------------------------------------------------------

_ROUTES: tuple[Endpoint, ...] = tuple(e for e in Endpoint if e is not Endpoint.OTHER)
_ENDPOINT_ORDER: tuple[Endpoint, ...] = (*_ROUTES, Endpoint.OTHER)
#: One bit per endpoint: the set of endpoints used is one int.
_ENDPOINT_BIT: dict[Endpoint, int] = {e: 1 << i for i, e in enumerate(_ENDPOINT_ORDER)}
#: Routes whose sub-paths carry a path parameter (``/v1/models/{id}``, Shimmy's
#: ``/api/models/{name}/load``): counted as the route itself, the parameter dropped.
_PARAMETER_ROUTES = (Endpoint.MODELS, Endpoint.API_MODELS)
_ROUTE_BY_PATH = {e.value: e for e in _ROUTES}


def classify_endpoint(path: str) -> Endpoint:
    """The allow-listed route a request path belongs to; ``other`` for anything else.

    The query string and fragment are dropped, as are trailing slashes and an absolute
    form's ``scheme://host``. Matching is case-sensitive, as Shimmy's router is: a path
    that Shimmy would not route (``/V1/Models``) is ``other``. A path parameter never
    appears: ``/v1/models/{id}`` and ``/api/models/{name}/...`` count as their route.
    """
    if not isinstance(path, str):
        return Endpoint.OTHER
    path = path.split("?", 1)[0].split("#", 1)[0]
    if path[:8].lower().startswith(("http://", "https://")):  # absolute form
        path = "/" + path.split("://", 1)[1].partition("/")[2]
    path = path.rstrip("/")
    route = _ROUTE_BY_PATH.get(path)
    if route is not None:
        return route
    for parent in _PARAMETER_ROUTES:
        if path.startswith(parent.value + "/"):
            return parent
    return Endpoint.OTHER


# --- User agents ---------------------------------------------------------------------

# First match wins, so the order matters: editors built on VS Code (Cursor) and
# extensions running inside it (Continue) say "Code/" or "vscode" too, and clients
# built on the OpenAI SDK (aider, LangChain, Open WebUI) may say "OpenAI/"; the more
# specific client is named first. Browsers all say "Mozilla/", so that comes last.
_WORD = r"(?<![a-z0-9]){}(?![a-z])"
_UA_RULES: tuple[tuple[re.Pattern[str], IntegrationType], ...] = tuple(
    (re.compile(pattern), kind)
    for pattern, kind in (
        (_WORD.format("cursor"), IntegrationType.CURSOR),
        (_WORD.format("continue"), IntegrationType.CONTINUE),
        (_WORD.format("aider"), IntegrationType.AIDER),
        (r"open[-_ ]?webui", IntegrationType.OPEN_WEBUI),
        (r"sillytavern|silly tavern", IntegrationType.SILLYTAVERN),
        (_WORD.format("zed"), IntegrationType.ZED),
        (_WORD.format("langchain"), IntegrationType.LANGCHAIN),
        (r"vscode|visual studio code|(?<![a-z])code/\d", IntegrationType.VSCODE),
        (r"(?<![a-z])openai[/-]", IntegrationType.OPENAI_SDK),
        (r"(?<![a-z])curl/", IntegrationType.CURL),
        (r"(?<![a-z])mozilla/", IntegrationType.BROWSER),
    )
)


def classify_user_agent(user_agent: str | None) -> IntegrationType:
    """The client a User-Agent names (case-insensitive); ``other`` when none or unknown."""
    if not isinstance(user_agent, str):
        return IntegrationType.OTHER
    text = user_agent[:MAX_LINE_LENGTH].lower()
    for pattern, kind in _UA_RULES:
        if pattern.search(text):
            return kind
    return IntegrationType.OTHER


#: Integration types in the vocabulary's order, which also breaks ties: on equal counts
#: the type named earlier wins, so the specific clients beat curl, browser and other.
_INTEGRATION_ORDER: tuple[IntegrationType, ...] = tuple(
    t for t in IntegrationType if t is not IntegrationType.NONE
)
_INTEGRATION_INDEX = {t: i for i, t in enumerate(_INTEGRATION_ORDER)}

# Memo tables for the hot path, so that a request costs one lookup, not a classification:
# raw string -> endpoint bit, and (one per recorder) raw User-Agent -> integration index.
# Each takes at most _MEMO_ENTRIES keys of at most _MEMO_KEY_LENGTH characters; when
# full, new strings are classified afresh every time. The endpoint table is shared by
# every recorder, so it remembers only routes spelled with trailing slashes: a path
# parameter, a query or an unknown path may carry a model name or a secret.
_MEMO_ENTRIES = 1024
_MEMO_KEY_LENGTH = 256
_ENDPOINT_MEMO: dict[str, int] = {}


def _seed_caches() -> None:
    """Empty the shared endpoint memo back to the bare routes, as a fresh process has it.

    (The User-Agent memo is per recorder and goes with it.) Tests that feed thousands of
    spellings call this to leave the process as they found it.
    """
    _ENDPOINT_MEMO.clear()
    _ENDPOINT_MEMO.update({e.value: _ENDPOINT_BIT[e] for e in _ROUTES})


def _endpoint_bit(path: str) -> int:
    endpoint = classify_endpoint(path)
    if (
        endpoint is not Endpoint.OTHER
        and len(path) <= _MEMO_KEY_LENGTH
        and len(_ENDPOINT_MEMO) < _MEMO_ENTRIES
        and path.rstrip("/") == endpoint.value
    ):
        _ENDPOINT_MEMO[path] = _ENDPOINT_BIT[endpoint]
    return _ENDPOINT_BIT[endpoint]


_seed_caches()


def _agent_memo() -> dict[str | None, int]:
    return {None: _INTEGRATION_INDEX[IntegrationType.OTHER]}


def _integration_index(user_agent: str, memo: dict[str | None, int]) -> int:
    index = _INTEGRATION_INDEX[classify_user_agent(user_agent)]
    if len(user_agent) <= _MEMO_KEY_LENGTH and len(memo) < _MEMO_ENTRIES:
        memo[user_agent] = index
    return index


# --- Model fingerprints ----------------------------------------------------------------

# Distinct models are counted by a 64-bit keyed fingerprint of the name; the name itself
# is never stored. Normally that fingerprint is the interpreter's own str hash, which is
# SipHash keyed with a random per-process secret (and cached on the string, so it is
# nearly free). When PYTHONHASHSEED fixes that secret, anybody could recompute it, so
# the recorder uses BLAKE2b keyed with its own random per-process key instead.
_MODEL_KEY = os.urandom(16)


def _blake2b_fingerprint(model: str) -> int:
    import hashlib  # only when PYTHONHASHSEED is fixed: most runs never load it

    digest = hashlib.blake2b(
        model.encode("utf-8", "surrogatepass"), digest_size=8, key=_MODEL_KEY
    ).digest()
    return int.from_bytes(digest, "big")


def _hash_seed_is_fixed() -> bool:
    seed = os.environ.get("PYTHONHASHSEED", "random")
    return sys.flags.hash_randomization == 0 or seed not in ("", "random")


_fingerprint = _blake2b_fingerprint if _hash_seed_is_fixed() else hash


# --- The summary -----------------------------------------------------------------------


@dataclass(frozen=True)
class SessionSummary:
    """One session's counters, bounded, ready for payload.py to put in the payload."""

    started_at: datetime  # aware, UTC
    ended_at: datetime  # aware, UTC, never before started_at
    version: str | None  # raw, from the start event if any; payload.py validates it
    daily_active_usage: bool
    session_duration_minutes: int
    requests_per_session: int
    total_tokens_generated: int
    models_used_count: int
    api_endpoints_used: tuple[Endpoint, ...]  # sorted by value
    integration_type: IntegrationType
    deployment_type: DeploymentType
    avg_response_time_ms: int
    peak_requests_per_hour: int


def in_container(env: Mapping[str, str], root: Path = Path("/")) -> bool:
    """Docker (``/.dockerenv``), Podman (``/run/.containerenv``) or Kubernetes."""
    if env.get("KUBERNETES_SERVICE_HOST", "").strip():
        return True
    for marker in (".dockerenv", "run/.containerenv"):
        try:
            if (root / marker).exists():
                return True
        except OSError:  # e.g. permission denied on the parent: not evidence either way
            continue
    return False


def deployment_type(
    requests: int, seconds: float, env: Mapping[str, str], root: Path = Path("/")
) -> DeploymentType:
    """First match wins: ``ci``, ``container``, ``production``, ``development``."""
    if ci_variable_set(env):
        return DeploymentType.CI
    if in_container(env, root):
        return DeploymentType.CONTAINER
    if requests > PRODUCTION_REQUESTS or seconds > PRODUCTION_SECONDS:
        return DeploymentType.PRODUCTION
    return DeploymentType.DEVELOPMENT


def _utc(moment: datetime) -> datetime:
    """Aware UTC; a naive datetime is taken to be UTC already (as clock.format_utc does)."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=_UTC)
    return moment.astimezone(_UTC)


def _clock_seconds(clock: Clock) -> float:
    return _utc(clock()).timestamp()


def _clean_version(version: object) -> str | None:
    if isinstance(version, str) and 0 < len(version) <= MAX_RAW_VERSION_LENGTH:
        return version
    return None


# --- The Python API --------------------------------------------------------------------

_NUMBERS = frozenset({int, float})  # not bool: True is no latency
_INF = math.inf
_NO_HOUR = -(2.0**62)


class RecordRequest(Protocol):
    """The signature of :meth:`SessionRecorder.record_request`."""

    def __call__(
        self,
        endpoint: str,
        *,
        status: int = 200,
        latency_ms: float | None = None,
        tokens: int = 0,
        model: str | None = None,
        user_agent: str | None = None,
        at: datetime | float | None = None,
    ) -> bool: ...


@dataclass(frozen=True)
class _Counts:
    """A snapshot of a recorder's counters, unclamped."""

    per_integration: tuple[int, ...]  # in _INTEGRATION_ORDER; their sum is the requests
    tokens: int
    latency_total: float
    timed_requests: int
    endpoints: int  # a bit mask over _ENDPOINT_ORDER
    models: int
    peak: int

    @property
    def requests(self) -> int:
        return sum(self.per_integration)


def _counter(seconds_now: Callable[[], float]) -> tuple[RecordRequest, Callable[[], _Counts]]:
    """The per-request counting, and a way to read the counts.

    The counters live in this closure rather than on an object because this runs once
    per request and the goal is a few times the cost of ``dict[key] += 1``: a closure
    variable is read and written in one step, an attribute in two or three.

    Per-hour counts are kept for the two most recent clock hours seen (UTC) plus the
    highest count of the hours before them. Requests arrive in time order in practice; a
    late one from either of the two kept hours still counts there, one from an older
    hour counts in every total but not in the peak (that hour's count is gone).
    """
    per_integration = [0] * len(_INTEGRATION_ORDER)
    tokens_total = 0
    latency_total = 0.0
    untimed_requests = 0
    endpoints = 0
    models: set[int] = set()  # keyed fingerprints, never names
    # The current hour as a number and as the seconds it spans: comparing seconds with
    # its bounds is cheaper than dividing them on every request.
    hour = previous_hour = _NO_HOUR
    hour_starts = hour_ends = _NO_HOUR * 3600
    hour_requests = previous_hour_requests = older_peak = 0
    # Module constants as closure variables too: one step cheaper to read than globals.
    integration_indexes = _agent_memo()
    endpoint_bits, numbers = _ENDPOINT_MEMO, _NUMBERS
    fingerprint_of, max_latency, infinity = _fingerprint, MAX_LATENCY_MS, _INF

    def record_request(
        endpoint: str,
        *,
        status: int = 200,
        latency_ms: float | None = None,
        tokens: int = 0,
        model: str | None = None,
        user_agent: str | None = None,
        at: datetime | float | None = None,
    ) -> bool:
        nonlocal tokens_total, latency_total, untimed_requests, endpoints, hour_requests
        # The annotations say what callers should pass; the values are checked here all
        # the same, because read_events passes them raw from JSON. Everything is checked
        # before anything is counted: a request counts whole or not at all. The memo
        # tables' keys are strings, so a miss is where a non-string is caught.
        try:
            bit = endpoint_bits[endpoint]
        except (KeyError, TypeError):
            if type(endpoint) is not str:
                return False
            bit = _endpoint_bit(endpoint)
        try:
            integration = integration_indexes[user_agent]
        except (KeyError, TypeError):
            if type(user_agent) is not str:
                return False
            integration = _integration_index(user_agent, integration_indexes)
        if type(tokens) is not int or tokens < 0:
            return False
        if type(status) is not int or status < 100 or status > 599:
            return False
        if model is not None and type(model) is not str:
            return False
        if at is None:
            seconds = seconds_now()
        elif type(at) is float or type(at) is int:
            if not -infinity < at < infinity:
                return False
            seconds = at
        elif isinstance(at, datetime):
            try:
                seconds = _utc(at).timestamp()
            except (OverflowError, ValueError):  # e.g. year 1 with an offset east of UTC
                return False
        else:
            return False
        if latency_ms is None:
            untimed_requests += 1
        elif (
            (type(latency_ms) is float or type(latency_ms) is int)
            and latency_ms >= 0
            and latency_ms <= max_latency
        ):
            latency_total += latency_ms
        elif type(latency_ms) in numbers and max_latency < latency_ms < infinity:
            latency_total += max_latency
        else:
            return False  # negative, NaN, infinite or not a number

        per_integration[integration] += 1
        tokens_total += tokens
        endpoints |= bit
        if model:
            fingerprint = fingerprint_of(model)
            if fingerprint not in models and len(models) < MAX_MODELS:
                models.add(fingerprint)
        if hour_starts <= seconds < hour_ends:
            hour_requests += 1
        else:
            count_in_another_hour(seconds)
        return True

    def count_in_another_hour(seconds: float) -> None:
        nonlocal hour, hour_starts, hour_ends, hour_requests
        nonlocal previous_hour, previous_hour_requests, older_peak
        this_hour = seconds // 3600
        if this_hour > hour:  # a new hour: the one before the current one is done with
            older_peak = max(older_peak, previous_hour_requests)
            previous_hour, previous_hour_requests = hour, hour_requests
            hour, hour_requests = this_hour, 1
            hour_starts = this_hour * 3600
            hour_ends = hour_starts + 3600
        elif this_hour == previous_hour:
            previous_hour_requests += 1
        # else older than both kept hours: see above

    def counts() -> _Counts:
        requests = sum(per_integration)
        return _Counts(
            per_integration=tuple(per_integration),
            tokens=tokens_total,
            latency_total=latency_total,
            timed_requests=requests - untimed_requests,
            endpoints=endpoints,
            models=len(models),
            peak=max(older_peak, previous_hour_requests, hour_requests),
        )

    return record_request, counts


class SessionRecorder:
    """Aggregates one session's requests as they happen, in constant memory.

    >>> recorder = SessionRecorder()
    >>> recorder.record_request("/v1/chat/completions", latency_ms=850, tokens=42,
    ...                         model="some-model", user_agent="Continue/0.9")
    True
    >>> recorder.summary().requests_per_session
    1

    One thread at a time: ``record_request`` takes no lock (it must cost little more
    than a dictionary update), so callers that serve requests from several threads
    record them under their own lock.
    """

    __slots__ = ("_clock", "_counts", "_env", "_root", "_started_at", "record_request", "version")

    #: ``record_request(endpoint, *, status=200, latency_ms=None, tokens=0, model=None,
    #: user_agent=None, at=None) -> bool``: count one request; False, counting nothing,
    #: when a value is invalid (never an exception): a non-string endpoint, model or user
    #: agent; a status outside 100-599; tokens that are not a non-negative integer; a
    #: latency that is negative, NaN or infinite (booleans are not numbers here). A
    #: latency over MAX_LATENCY_MS counts as MAX_LATENCY_MS. ``at`` is when the request
    #: was served, a datetime (naive means UTC) or seconds since the epoch; by default
    #: now, by the recorder's clock. It places the request in its clock hour for the peak.
    record_request: RecordRequest

    def __init__(
        self,
        started_at: datetime | None = None,
        *,
        clock: Clock = system_clock,
        env: Mapping[str, str] | None = None,
        root: Path = Path("/"),
        version: str | None = None,
    ) -> None:
        self._clock = clock
        self._env = env
        self._root = root
        self._started_at = _utc(started_at if started_at is not None else clock())
        self.version = version
        # The system clock's seconds, without building a datetime per request.
        seconds_now: Callable[[], float] = (
            time.time if clock is system_clock else functools.partial(_clock_seconds, clock)
        )
        self.record_request, self._counts = _counter(seconds_now)

    def __repr__(self) -> str:
        counts = self._counts()
        return (
            f"<SessionRecorder since {self._started_at.isoformat()}: "
            f"{counts.requests} requests, {counts.models} models>"
        )

    def summary(self, ended_at: datetime | None = None) -> SessionSummary:
        """The session so far, ending now (by the recorder's clock) or at ``ended_at``."""
        end = ended_at if ended_at is not None else self._clock()
        return _summarise(
            self._counts(), self._started_at, end, self.version, self._env, self._root
        )

    def finish(
        self, shimmy_version: str | None = None, ended_at: datetime | None = None
    ) -> threading.Thread | None:
        """At shutdown, for a caller that embeds the package: what ``send`` does, in process.

        Returns the daemon thread that builds, validates, queues and sends this session
        within the same 5 s deadline as ``send`` (join it with a timeout to wait), or None
        when metrics are not sending: then nothing was read, queued or sent.
        """
        from shimmy_onboard.delivery import finish_in_background

        return finish_in_background(self, shimmy_version, ended_at)


def _integration_type(counts: _Counts) -> IntegrationType:
    per_integration = counts.per_integration
    if not any(per_integration):
        return IntegrationType.NONE
    # max() keeps the first of equal counts: the vocabulary's order breaks ties.
    best = max(range(len(per_integration)), key=per_integration.__getitem__)
    return _INTEGRATION_ORDER[best]


def _endpoints_used(counts: _Counts) -> tuple[Endpoint, ...]:
    used = [e for e in _ENDPOINT_ORDER if counts.endpoints & _ENDPOINT_BIT[e]]
    return tuple(sorted(used, key=lambda e: e.value))


def _average_latency_ms(counts: _Counts) -> int:
    if counts.timed_requests <= 0:
        return 0
    # Half up, not Python's half-to-even: 0.5 ms more reads as 1 ms more.
    mean = counts.latency_total / counts.timed_requests
    return min(int(mean + 0.5), MAX_LATENCY_MS)


def _summarise(
    counts: _Counts,
    started_at: datetime,
    ended_at: datetime,
    version: str | None,
    env: Mapping[str, str] | None,
    root: Path,
) -> SessionSummary:
    started_at = _utc(started_at)
    ended_at = max(_utc(ended_at), started_at)
    seconds = (ended_at - started_at).total_seconds()
    requests = min(counts.requests, MAX_REQUESTS)
    return SessionSummary(
        started_at=started_at,
        ended_at=ended_at,
        version=_clean_version(version),
        daily_active_usage=requests > 0,
        session_duration_minutes=min(int(seconds // 60), MAX_DURATION_MINUTES),
        requests_per_session=requests,
        total_tokens_generated=min(counts.tokens, MAX_TOKENS),
        models_used_count=min(counts.models, MAX_MODELS),
        api_endpoints_used=_endpoints_used(counts),
        integration_type=_integration_type(counts),
        deployment_type=deployment_type(
            requests, seconds, os.environ if env is None else env, root
        ),
        avg_response_time_ms=_average_latency_ms(counts),
        peak_requests_per_hour=min(counts.peak, requests),
    )


# --- The events file -------------------------------------------------------------------


@dataclass(frozen=True)
class EventsReport:
    """What :func:`read_events` made of a file: the summary, and what it left out."""

    summary: SessionSummary
    lines_read: int  # every line, blank ones included
    skipped: int  # malformed: bad JSON or UTF-8, wrong types, negative numbers, too long
    unknown_types: int  # well-formed events of a type this version does not know


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not a number")


# NaN and Infinity are not JSON; the standard decoder accepts them unless told not to.
_DECODER = json.JSONDecoder(parse_constant=_reject_constant)
# The decoder's C scanner, called directly: json.loads spends more time on its checks
# and two regular-expression matches around the scan than on the scan itself.
_scan_once: Callable[[str, int], tuple[object, int]] = getattr(_DECODER, "scan_once")  # noqa: B009
_JSON_SPACE = " \t\r\n"
_NOT_YET = object()


def _decode_line(line: str) -> object:
    """The slow path: leading space, a byte-order mark, trailing text. Raises ValueError."""
    return _DECODER.decode(line.lstrip("\ufeff"))


def _epoch_seconds(ts: object) -> float | None:
    """Seconds since the epoch of an ISO 8601 time (``Z``/offset/naive=UTC), else None."""
    if type(ts) is not str or not 10 <= len(ts) <= 40:
        return None
    try:
        moment: datetime | None = datetime.fromisoformat(ts)  # takes "Z" from Python 3.11
    except ValueError:
        moment = parse_utc(ts)
        if moment is None:
            return None
    assert moment is not None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=_UTC)
    try:
        return (moment - _EPOCH).total_seconds()
    except (OverflowError, ValueError):
        return None


def _moment(seconds: float) -> datetime:
    """The UTC time, in whole seconds, of seconds since the epoch; clamped to datetime's range."""
    try:
        return _EPOCH + timedelta(seconds=math.floor(seconds))
    except OverflowError:
        limit = datetime.max.replace(microsecond=0) if seconds > 0 else datetime.min
        return limit.replace(tzinfo=_UTC)


class ReadDeadlinePassed(Exception):
    """The events file could not be read completely before the deadline.

    Not an OSError: the file is fine, there was just not time to count it all, and a
    part of a session is never reported as if it were the whole (counted, not estimated).
    """


# The clock is looked at once per this many lines (a power of two: a mask, not a
# division), about a millisecond of reading: the deadline is kept to within that.
_DEADLINE_CHECK_LINES = 1024


def read_events(
    path: str | Path,
    *,
    env: Mapping[str, str] | None = None,
    root: Path = Path("/"),
    clock: Clock = system_clock,
    deadline: float | None = None,
) -> EventsReport:
    """Stream Shimmy's events file into a summary.

    Raises OSError only when the file cannot be opened or read, or is not a regular file
    (:class:`NotARegularFile`; the CLI turns these into exit 2); nothing inside the file
    is fatal. With a ``deadline`` (``time.monotonic()``), a file not read to its end by
    then raises :class:`ReadDeadlinePassed` (within a few milliseconds of it). The
    session starts at the start event's ``ts`` (else the earliest event's, else the
    file's modification time) and ends at the last end event's ``ts`` (else the latest
    event's, else now). The first start event with a ``version`` gives the version.
    """
    record, counts = _counter(time.time)  # every request passes its own time
    scan_once = _scan_once
    lines = skipped = unknown = 0
    start_ts: float | None = None
    end_ts: float | None = None
    earliest = math.inf
    latest = -math.inf
    version: str | None = None
    last_ts: object = _NOT_YET  # the previous line's ts string, parsed once
    seconds = 0.0
    stop_at = math.inf if deadline is None else deadline
    monotonic = time.monotonic
    check_mask = _DEADLINE_CHECK_LINES - 1

    descriptor = open_regular_file(path)
    with open(descriptor, encoding="utf-8", errors="surrogateescape") as events:
        mtime = os.fstat(descriptor).st_mtime
        readline = events.readline
        while True:
            line = readline(MAX_LINE_LENGTH)
            if not line:
                break
            lines += 1
            if not lines & check_mask and monotonic() >= stop_at:
                raise ReadDeadlinePassed(f"{lines:,} lines read when the deadline passed")
            if len(line) >= MAX_LINE_LENGTH and not line.endswith("\n"):
                skipped += 1
                while line and not line.endswith("\n"):  # drop the rest, a piece at a time
                    line = readline(MAX_LINE_LENGTH)
                    if monotonic() >= stop_at:  # once per 64 KiB piece: cheap enough
                        raise ReadDeadlinePassed("a line longer than the time allowed")
                continue
            if not line.isascii():
                try:  # surrogateescape turned invalid UTF-8 into lone surrogates
                    line.encode("utf-8")
                except UnicodeEncodeError:
                    skipped += 1
                    continue
            try:
                try:
                    event, end = scan_once(line, 0)
                except StopIteration:
                    if not line.strip(_JSON_SPACE):
                        continue  # a blank line: nothing to count
                    event, end = _decode_line(line), -1
                if end != -1 and end != len(line) - 1 and line[end:].strip(_JSON_SPACE):
                    event = _decode_line(line)  # raises: text after the object
            except (ValueError, RecursionError):
                skipped += 1
                continue
            if type(event) is not dict:
                skipped += 1
                continue

            kind = event.get("type")
            if kind != "request" and kind != "start" and kind != "end":
                if type(kind) is str:
                    unknown += 1
                else:
                    skipped += 1
                continue
            ts = event.get("ts")
            if ts != last_ts:
                parsed = _epoch_seconds(ts)
                if parsed is None:
                    skipped += 1
                    continue
                last_ts, seconds = ts, parsed

            if kind == "request":
                # An optional field that is null counts as absent.
                status = event.get("status")
                tokens = event.get("tokens")
                if not record(
                    event.get("endpoint"),  # type: ignore[arg-type]  # checked in there
                    status=200 if status is None else status,
                    latency_ms=event.get("latency_ms"),
                    tokens=0 if tokens is None else tokens,
                    model=event.get("model"),
                    user_agent=event.get("user_agent"),
                    at=seconds,
                ):
                    skipped += 1
                    continue
            elif kind == "start":
                raw_version = event.get("version")
                if raw_version is not None and type(raw_version) is not str:
                    skipped += 1
                    continue
                if start_ts is None:
                    start_ts = seconds
                if version is None:
                    version = _clean_version(raw_version)
            else:
                end_ts = seconds if end_ts is None else max(end_ts, seconds)
            # Only events that counted place the session in time.
            if seconds < earliest:
                earliest = seconds
            if seconds > latest:
                latest = seconds

    started = _moment(
        start_ts if start_ts is not None else earliest if earliest != math.inf else mtime
    )
    if end_ts is not None:
        ended = _moment(end_ts)
    elif latest != -math.inf:
        ended = _moment(latest)
    else:
        ended = clock()
    summary = _summarise(counts(), started, ended, version, env, root)
    return EventsReport(summary=summary, lines_read=lines, skipped=skipped, unknown_types=unknown)
