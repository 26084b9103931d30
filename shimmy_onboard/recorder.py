"""Session aggregation: the counters of one Shimmy session, in constant memory.

Two ways in, one aggregation:

- :class:`SessionRecorder`, the Python API for callers in process
  (``record_request(...)`` per request, ``summary()`` at shutdown);
- :func:`read_events`, which streams Shimmy's JSON Lines events file (DESIGN.md,
  "Shimmy's events file") line by line for ``send --events``.

Both feed the same :class:`_Tally`, and :func:`_summarise` turns a tally into the
:class:`SessionSummary` that ``payload.py`` builds the payload's metrics from.

What is kept, whatever the session length: a few integers, a bit mask of the
endpoints, one counter per integration type, the request counts of the two most
recent clock hours, and one 64-bit keyed fingerprint per distinct model (at most
``MAX_MODELS`` of them). Model names, user agents and paths are never stored on a
recorder; the classification caches below hold endpoint and User-Agent strings (never
model names), are bounded, and never leave the process.

This module is imported by ``send``: it imports nothing heavy (no pydantic, httpx,
psutil or textual).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import secrets
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from shimmy_onboard.clock import Clock, parse_utc, system_clock
from shimmy_onboard.consent import ci_variable_set
from shimmy_onboard.vocab import DeploymentType, Endpoint, IntegrationType

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
#: A ``version`` longer than this is dropped (payload.py then says ``unknown``).
MAX_VERSION_LENGTH = 64
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
    if "://" in path:
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

# Bounded memo tables for the hot path: raw string -> endpoint bit / integration index.
# They hold endpoint and User-Agent strings (never model names), only short ones, at
# most _CACHE_ENTRIES of them; when full they are emptied and refilled.
_CACHE_ENTRIES = 1024
_CACHED_KEY_LENGTH = 256
_ENDPOINT_CACHE: dict[str, int] = {}
_UA_CACHE: dict[str | None, int] = {}


def _seed_caches() -> None:
    _ENDPOINT_CACHE.clear()
    _ENDPOINT_CACHE.update({e.value: _ENDPOINT_BIT[e] for e in _ROUTES})
    _UA_CACHE.clear()
    _UA_CACHE[None] = _INTEGRATION_INDEX[IntegrationType.OTHER]


_seed_caches()


def _endpoint_bit(path: str) -> int:
    bit = _ENDPOINT_BIT[classify_endpoint(path)]
    if len(path) <= _CACHED_KEY_LENGTH:
        if len(_ENDPOINT_CACHE) >= _CACHE_ENTRIES:
            _seed_caches()
        _ENDPOINT_CACHE[path] = bit
    return bit


def _integration_index(user_agent: str | None) -> int:
    index = _INTEGRATION_INDEX[classify_user_agent(user_agent)]
    if user_agent is not None and len(user_agent) <= _CACHED_KEY_LENGTH:
        if len(_UA_CACHE) >= _CACHE_ENTRIES:
            _seed_caches()
        _UA_CACHE[user_agent] = index
    return index


# --- Model fingerprints ----------------------------------------------------------------

# Distinct models are counted by a 64-bit keyed fingerprint of the name; the name itself
# is never stored. Normally that fingerprint is the interpreter's own str hash, which is
# SipHash keyed with a random per-process secret (and cached on the string, so it is
# nearly free). When PYTHONHASHSEED fixes that secret, anybody could recompute it, so
# the recorder uses BLAKE2b keyed with its own random per-process key instead.
_MODEL_KEY = secrets.token_bytes(16)


def _blake2b_fingerprint(model: str) -> int:
    digest = hashlib.blake2b(
        model.encode("utf-8", "surrogatepass"), digest_size=8, key=_MODEL_KEY
    ).digest()
    return int.from_bytes(digest, "big")


def _hash_seed_is_fixed() -> bool:
    seed = os.environ.get("PYTHONHASHSEED", "random")
    return sys.flags.hash_randomization == 0 or seed not in ("", "random")


_fingerprint = _blake2b_fingerprint if _hash_seed_is_fixed() else hash


# --- The tally -------------------------------------------------------------------------


class _Tally:
    """The counters themselves, fed one validated request at a time.

    Per-hour counts are kept for the two most recent clock hours seen (UTC) plus the
    running maximum. Events arrive in time order in practice; a late one from either of
    those two hours still counts there, one from an older hour counts in every total but
    not in the peak (its hour's count is gone).
    """

    __slots__ = (
        "_hour",
        "_hour_requests",
        "_models",
        "_previous_hour",
        "_previous_hour_requests",
        "endpoints",
        "integrations",
        "latency_count",
        "latency_total",
        "peak",
        "requests",
        "tokens",
    )

    def __init__(self) -> None:
        self.requests = 0
        self.tokens = 0
        self.latency_total = 0.0
        self.latency_count = 0
        self.endpoints = 0  # bit mask over _ENDPOINT_ORDER
        self.integrations = [0] * len(_INTEGRATION_ORDER)
        self._models: set[int] = set()
        self._hour = -(2**62)
        self._hour_requests = 0
        self._previous_hour = -(2**62)
        self._previous_hour_requests = 0
        self.peak = 0

    def __repr__(self) -> str:
        return (
            f"<_Tally requests={self.requests} tokens={self.tokens} "
            f"models={len(self._models)} peak={self.peak}>"
        )

    @property
    def models(self) -> int:
        return len(self._models)

    def add(
        self,
        endpoint: object,
        status: object,
        latency_ms: object,
        tokens: object,
        model: object,
        user_agent: object,
        hour: int,
    ) -> bool:
        """Count one request; False (and nothing counted) when any field is invalid.

        Invalid: a non-string endpoint, model or user agent; a status that is not an
        HTTP status code; tokens that are not a non-negative integer; a latency that is
        not a finite non-negative number. Booleans are not numbers here.
        """
        # Validate everything first, so an event is counted whole or not at all.
        if type(endpoint) is not str:
            return False
        if type(status) is not int or not 100 <= status <= 599:
            return False
        if type(tokens) is not int or tokens < 0:
            return False
        latency: float | None = None
        if latency_ms is not None:
            if type(latency_ms) is float:
                if not 0.0 <= latency_ms < math.inf:
                    return False  # negative, NaN or infinite
            elif type(latency_ms) is not int or latency_ms < 0:
                return False
            latency = latency_ms
        if model is not None and type(model) is not str:
            return False
        if user_agent is not None and type(user_agent) is not str:
            return False

        self.requests += 1
        self.tokens += tokens
        if latency is not None:
            self.latency_total += latency if latency <= MAX_LATENCY_MS else MAX_LATENCY_MS
            self.latency_count += 1
        bit = _ENDPOINT_CACHE.get(endpoint)
        self.endpoints |= bit if bit is not None else _endpoint_bit(endpoint)
        index = _UA_CACHE.get(user_agent)
        if index is None:
            index = _integration_index(user_agent)
        self.integrations[index] += 1
        if model and len(self._models) < MAX_MODELS:
            self._models.add(_fingerprint(model))
        self._count_hour(hour)
        return True

    def _count_hour(self, hour: int) -> None:
        if hour == self._hour:
            count = self._hour_requests = self._hour_requests + 1
        elif hour > self._hour:
            self._previous_hour, self._previous_hour_requests = self._hour, self._hour_requests
            self._hour = hour
            count = self._hour_requests = 1
        elif hour == self._previous_hour:
            count = self._previous_hour_requests = self._previous_hour_requests + 1
        else:
            return  # older than both kept hours: see the class docstring
        if count > self.peak:
            self.peak = count

    def integration(self) -> IntegrationType:
        if not self.requests:
            return IntegrationType.NONE
        counts = self.integrations
        # max() keeps the first of equal counts: the vocabulary's order breaks ties.
        best = max(range(len(counts)), key=counts.__getitem__)
        return _INTEGRATION_ORDER[best]

    def endpoint_list(self) -> tuple[Endpoint, ...]:
        used = [e for e in _ENDPOINT_ORDER if self.endpoints & _ENDPOINT_BIT[e]]
        return tuple(sorted(used, key=lambda e: e.value))

    def average_latency_ms(self) -> int:
        if not self.latency_count:
            return 0
        # Half up, not Python's half-to-even: 0.5 ms more reads as 1 ms more.
        return min(int(self.latency_total / self.latency_count + 0.5), MAX_LATENCY_MS)


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


def _clean_version(version: object) -> str | None:
    if isinstance(version, str) and 0 < len(version) <= MAX_VERSION_LENGTH:
        return version
    return None


def _summarise(
    tally: _Tally,
    started_at: datetime,
    ended_at: datetime,
    version: str | None,
    env: Mapping[str, str] | None,
    root: Path,
) -> SessionSummary:
    started_at = _utc(started_at)
    ended_at = max(_utc(ended_at), started_at)
    seconds = (ended_at - started_at).total_seconds()
    requests = min(tally.requests, MAX_REQUESTS)
    return SessionSummary(
        started_at=started_at,
        ended_at=ended_at,
        version=_clean_version(version),
        daily_active_usage=requests > 0,
        session_duration_minutes=min(int(seconds // 60), MAX_DURATION_MINUTES),
        requests_per_session=requests,
        total_tokens_generated=min(tally.tokens, MAX_TOKENS),
        models_used_count=min(tally.models, MAX_MODELS),
        api_endpoints_used=tally.endpoint_list(),
        integration_type=tally.integration(),
        deployment_type=deployment_type(
            requests, seconds, os.environ if env is None else env, root
        ),
        avg_response_time_ms=tally.average_latency_ms(),
        peak_requests_per_hour=min(tally.peak, MAX_REQUESTS),
    )


# --- The Python API --------------------------------------------------------------------


class SessionRecorder:
    """Aggregates one session's requests as they happen, in constant memory.

    >>> recorder = SessionRecorder()
    >>> recorder.record_request("/v1/chat/completions", latency_ms=850, tokens=42,
    ...                         model="some-model", user_agent="Continue/0.9")
    True
    >>> recorder.summary().requests_per_session
    1
    """

    __slots__ = ("_clock", "_env", "_root", "_started_at", "_tally", "version")

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
        self._tally = _Tally()
        self.version = version

    def __repr__(self) -> str:
        return f"<SessionRecorder since {self._started_at.isoformat()} {self._tally!r}>"

    def record_request(
        self,
        endpoint: str,
        *,
        status: int = 200,
        latency_ms: float | None = None,
        tokens: int = 0,
        model: str | None = None,
        user_agent: str | None = None,
        at: datetime | None = None,
    ) -> bool:
        """Count one request; returns False, counting nothing, when a value is invalid.

        Invalid values (never an exception): a non-string endpoint, model or user agent,
        a status outside 100-599, negative or non-integer tokens, a negative, NaN or
        infinite latency. ``at`` (default: now, by the recorder's clock) places the
        request in its clock hour for ``peak_requests_per_hour``.
        """
        if at is not None:
            seconds = _utc(at).timestamp() if at.tzinfo is not _UTC else at.timestamp()
        elif self._clock is system_clock:
            seconds = time.time()  # the same instant, without building a datetime
        else:
            seconds = _utc(self._clock()).timestamp()
        return self._tally.add(
            endpoint, status, latency_ms, tokens, model, user_agent, int(seconds // 3600)
        )

    def summary(self, ended_at: datetime | None = None) -> SessionSummary:
        """The session so far, ending now (by the recorder's clock) or at ``ended_at``."""
        end = ended_at if ended_at is not None else self._clock()
        return _summarise(self._tally, self._started_at, end, self.version, self._env, self._root)


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
    return _EPOCH + timedelta(seconds=round(seconds))


def read_events(
    path: str | Path,
    *,
    env: Mapping[str, str] | None = None,
    root: Path = Path("/"),
    clock: Clock = system_clock,
) -> EventsReport:
    """Stream Shimmy's events file into a summary.

    Raises OSError only when the file cannot be opened or read (the CLI turns that into
    exit 2); nothing inside the file is fatal. The session starts at the start event's
    ``ts`` (else the earliest event's, else the file's modification time) and ends at
    the last end event's ``ts`` (else the latest event's, else now). The first start
    event with a ``version`` gives the version.
    """
    tally = _Tally()
    add = tally.add
    scan_once = _scan_once
    lines = skipped = unknown = 0
    start_ts: float | None = None
    end_ts: float | None = None
    earliest = math.inf
    latest = -math.inf
    version: str | None = None
    last_ts: object = _NOT_YET  # the previous line's ts string, parsed once
    seconds = 0.0
    hour = 0

    with open(path, encoding="utf-8", errors="surrogateescape") as events:
        mtime = os.fstat(events.fileno()).st_mtime
        readline = events.readline
        while True:
            line = readline(MAX_LINE_LENGTH)
            if not line:
                break
            lines += 1
            if len(line) >= MAX_LINE_LENGTH and not line.endswith("\n"):
                skipped += 1
                while line and not line.endswith("\n"):  # drop the rest, a piece at a time
                    line = readline(MAX_LINE_LENGTH)
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
                last_ts, seconds, hour = ts, parsed, int(parsed // 3600)

            if kind == "request":
                if not add(
                    event.get("endpoint"),
                    event.get("status", 200),
                    event.get("latency_ms"),
                    event.get("tokens", 0),
                    event.get("model"),
                    event.get("user_agent"),
                    hour,
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
    summary = _summarise(tally, started, ended, version, env, root)
    return EventsReport(summary=summary, lines_read=lines, skipped=skipped, unknown_types=unknown)
