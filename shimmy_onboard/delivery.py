"""Delivery: ``shimmy-onboard send``, what Shimmy runs at shutdown, and the bounded sender.

DESIGN.md, "Delivery" and "Overrides". In order:

1. The consent gate, with light imports only: unless metrics are enabled for the current
   schema and not suppressed (``DO_NOT_TRACK``, ``SHIMMY_NO_METRICS``), return 0 at once.
   Nothing is read (not even the events file: it is not looked at, so a wrong path is not
   reported either), nothing is queued, no connection is opened, httpx and pydantic are
   never imported.
2. This session's object: the events file aggregated (or an empty session without one),
   the machine detected locally, the version from ``--shimmy-version``, ``SHIMMY_VERSION``
   or the events' start event. It must pass the privacy validator or it is dropped.
3. It joins the queue, and the whole queue goes out in one POST, oldest first, built by
   :func:`shimmy_onboard.payload.serialize_body` (the one serializer, as in ``preview``).
4. A 2xx takes exactly the sent sessions out of the queue and logs the body's SHA-256;
   anything else leaves the queue as it was, silently, for the next session.

The whole command has ONE total deadline of 5 s, from Shimmy starting the process to its
exit: the interpreter's start, imports, detection, DNS, connect, TLS, upload and the
answer all share it. httpx's timeouts are per phase (a server that drips one byte a
second never trips its read timeout), so the request runs on a daemon thread and this
thread waits for it with the deadline; when that passes, the connection's socket is shut
down from outside, which wakes the blocked read at once, and the attempt counts as
failed. No process is spawned and no thread outlives the deadline by more than a moment
(DNS resolution excepted: the OS resolver cannot be interrupted, and a daemon thread
never keeps the process alive).

Nothing is ever written to stdout. Failures are logged at debug level on the
``shimmy_onboard.delivery`` logger: an embedding caller sees them through its own logging
setup; ``send`` shows them on stderr only when ``SHIMMY_METRICS_DEBUG`` is set. With that
variable the exact body goes to stderr instead of the network and no file is changed
(this session is not queued either: it is a dry run). One case is said on stderr without
it: a ``SHIMMY_METRICS_ENDPOINT`` that is refused (not https, nor http to loopback),
because the user set it and would otherwise never learn why nothing arrives.
"""

from __future__ import annotations

import os
import sys
import time

from shimmy_onboard.exits import EXIT_OK, EXIT_USAGE, PROG

# Not typing.TYPE_CHECKING, and no dataclasses: ``send`` with metrics off must cost close
# to a bare interpreter, and this module is imported before the consent gate.
TYPE_CHECKING = False
if TYPE_CHECKING:
    import logging
    import socket
    import threading
    from collections.abc import Callable, Mapping
    from datetime import datetime
    from typing import Any

    from shimmy_onboard.paths import ShimmyPaths
    from shimmy_onboard.recorder import SessionRecorder, SessionSummary

DEFAULT_ENDPOINT = "https://metrics.shimmy-ai.dev/v1/usage"
DEADLINE_SECONDS = 5.0
# ``send`` is a process Shimmy waits for: the interpreter's start before ``run_send`` and
# its exit after it come out of the same 5 s, so the command itself keeps this much back.
PROCESS_START_AND_EXIT_SECONDS = 0.25
# How long an aborted request thread is given to notice its socket was shut down.
ABORT_GRACE_SECONDS = 0.2
# Reading the events file stops this long before the deadline: what is left is for the
# rest of the work (pydantic's import, detection, building, the privacy check, queueing:
# about 0.5 s) and the POST (about 2 s: DNS, connect, TLS, upload, answer). From the
# 4.75 s ``send`` has, the file gets about 2.2 s, a few million lines on a laptop; a
# bigger one is not counted this time (see deliver_events).
AFTER_READING_SECONDS = 2.5


LOGGER_NAME = "shimmy_onboard.delivery"


def run_send(events: str | None, shimmy_version: str | None) -> int:
    """``shimmy-onboard send``: 0 whatever happens on the network, 2 for an unreadable file."""
    deadline = time.monotonic() + DEADLINE_SECONDS - PROCESS_START_AND_EXIT_SECONDS
    from shimmy_onboard.consent import is_flag_set, load_state
    from shimmy_onboard.paths import resolve_paths

    paths = resolve_paths()
    state = load_state(paths)
    if not state.sending or state.session_id is None:
        if is_flag_set(os.environ.get("SHIMMY_METRICS_DEBUG")):
            # The dry run explains itself even when there is nothing to show.
            print(f"{PROG}: nothing read, queued or sent: {state.explain()}", file=sys.stderr)
        return EXIT_OK
    _show_debug_log_on_stderr()
    version = shimmy_version or os.environ.get("SHIMMY_VERSION") or None
    try:
        deliver_events(paths, state.session_id, events, version, deadline, os.environ)
    except OSError as error:
        from shimmy_onboard.config import os_error_reason

        reason = os_error_reason(error)
        print(f"{PROG}: cannot read the events file {events}: {reason}", file=sys.stderr)
        return EXIT_USAGE
    return EXIT_OK


SEND_FLAGS = ("--events", "--shimmy-version")


def parse_send_arguments(arguments: list[str]) -> tuple[str | None, str | None] | None:
    """``send``'s two flags without argparse, which (with the ``re`` it imports) would
    double what ``send`` costs Shimmy when metrics are off.

    Returns ``(events, shimmy_version)`` for a plain, valid command line, else None: then
    the caller goes through argparse, for ``--help``, unknown or repeated flags and the
    messages that go with them.
    """
    values: dict[str, str] = {}
    rest = list(arguments)
    while rest:
        flag, separator, value = rest.pop(0).partition("=")
        if flag not in SEND_FLAGS or flag in values:
            return None
        if not separator:
            if not rest or rest[0].startswith("-"):
                return None
            value = rest.pop(0)
        values[flag] = value
    return values.get("--events"), values.get("--shimmy-version")


def deliver_events(
    paths: ShimmyPaths,
    session_id: str,
    events: str | None,
    version: str | None,
    deadline: float,
    env: Mapping[str, str],
) -> None:
    """What ``send`` does once past the consent gate: read, then :func:`deliver`.

    The events file is read until ``AFTER_READING_SECONDS`` before ``deadline``. A file
    not read to its end by then is not counted: this session is not queued (a partial
    count would be an estimate), and the queue is still sent with the time left. Raises
    OSError (nothing sent) when the file cannot be opened or is not a regular file.
    """
    summary = _summary_of(events, deadline - AFTER_READING_SECONDS)
    deliver(paths, session_id, summary, version, deadline, env)


def _summary_of(events: str | None, read_deadline: float) -> SessionSummary | None:
    from shimmy_onboard.recorder import ReadDeadlinePassed, SessionRecorder, read_events

    if events is None:
        # No events file: an empty session, ending now.
        return SessionRecorder().summary()
    try:
        return read_events(events, deadline=read_deadline).summary
    except ReadDeadlinePassed as error:
        _log().debug(
            "this session was not queued: its events file could not be counted in time "
            "(%s); the queue is still sent",
            error,
        )
        return None


def finish_in_background(
    recorder: SessionRecorder,
    shimmy_version: str | None = None,
    ended_at: datetime | None = None,
    *,
    deadline_seconds: float = DEADLINE_SECONDS,
) -> threading.Thread | None:
    """What ``send`` does, for a caller that embeds the package: at shutdown, in the background.

    Returns the daemon thread doing it (join it with a timeout if you want to wait), or
    None when metrics are not sending (then nothing was read, queued or sent). The thread
    ends within ``deadline_seconds`` (5 s, as ``send``) of this call, whatever the network
    does; being a daemon, it never keeps the process alive.
    """
    deadline = time.monotonic() + deadline_seconds
    import threading

    from shimmy_onboard.consent import load_state
    from shimmy_onboard.paths import resolve_paths

    paths = resolve_paths()
    state = load_state(paths)
    session_id = state.session_id
    if not state.sending or session_id is None:
        return None
    summary = recorder.summary(ended_at=ended_at)
    environment = dict(os.environ)
    version = shimmy_version or environment.get("SHIMMY_VERSION") or None

    def work() -> None:
        try:
            deliver(paths, session_id, summary, version, deadline, environment)
        except Exception as error:  # an embedding caller must never see metrics fail
            _log().debug("metrics delivery failed: %s: %s", type(error).__name__, error)

    thread = threading.Thread(target=work, name="shimmy-metrics-finish", daemon=True)
    thread.start()
    return thread


# --- one session, from summary to sent ------------------------------------------------------


def deliver(
    paths: ShimmyPaths,
    session_id: str,
    summary: SessionSummary | None,
    version: str | None,
    deadline: float,
    env: Mapping[str, str],
) -> None:
    """Build, validate, queue and send this session (with the queue) before ``deadline``.

    ``summary`` None: there is no session to add (its file could not be counted in
    time); the queue is sent alone. Consent is looked at again under the queue lock
    before queueing and again right before the POST: metrics disabled while this runs
    (or re-enabled, with a new ``session_id``) means nothing is queued or sent.
    """
    from shimmy_onboard.clock import system_clock
    from shimmy_onboard.consent import is_flag_set

    report = None if summary is None else _checked_report(session_id, summary, version)
    if is_flag_set(env.get("SHIMMY_METRICS_DEBUG")):
        _write_debug_body(paths, report, env)
        return
    now = system_clock()
    if report is not None:
        _queue(paths, report, now, lambda: still_sending(paths, session_id, env))
    send_queue(paths, deadline, env, session_id)


def still_sending(paths: ShimmyPaths, session_id: str | None, env: Mapping[str, str]) -> bool:
    """Whether metrics are still sending, read afresh from the config (and for this id).

    ``session_id`` None accepts any id (a caller that only sends the queue).
    """
    from shimmy_onboard.consent import load_state

    state = load_state(paths, env)
    if not state.sending:
        return False
    return session_id is None or state.session_id == session_id


def _checked_report(
    session_id: str, summary: SessionSummary, version: str | None
) -> dict[str, Any] | None:
    """This session's object if it passes every privacy check; else None (and logged)."""
    from shimmy_onboard.hardware import detect_machine
    from shimmy_onboard.payload import build_report
    from shimmy_onboard.privacy import check_report

    try:
        report = build_report(
            session_id=session_id, summary=summary, machine=detect_machine(), version=version
        )
    except ValueError as error:  # pydantic's ValidationError is a ValueError
        _log().debug("this session was dropped: it does not fit the schema: %s", error)
        return None
    failed = [check for check in check_report(report) if not check.passed]
    if failed:
        reasons = "; ".join(f"{check.name}: {check.detail}" for check in failed)
        _log().debug("this session was dropped: it fails the privacy check (%s)", reasons)
        return None
    return report


def _queue(
    paths: ShimmyPaths, report: dict[str, Any], now: datetime, allowed: Callable[[], bool]
) -> None:
    from shimmy_onboard.outbox import OutboxBusy, enqueue

    try:
        if enqueue(paths, report, now, still_allowed=allowed) is None:
            _log().debug("this session was not queued: metrics were disabled meanwhile")
    except (OSError, OutboxBusy) as error:
        _log().debug("this session could not be queued: %s", error)


def _write_debug_body(
    paths: ShimmyPaths, report: dict[str, Any] | None, env: Mapping[str, str]
) -> None:
    from shimmy_onboard.clock import system_clock
    from shimmy_onboard.outbox import sendable_entries
    from shimmy_onboard.payload import serialize_body

    # A dry run changes no file: the queue as the next send would filter it, not pruned.
    queued = [entry.report for entry in sendable_entries(paths, system_clock(), prune=False)]
    reports = [*queued, *([report] if report is not None else [])]
    endpoint, _ = resolve_endpoint(env)
    print(
        f"{PROG}: SHIMMY_METRICS_DEBUG is set: this body would be POSTed to "
        f"{endpoint or DEFAULT_ENDPOINT}; nothing was sent or queued:",
        file=sys.stderr,
    )
    sys.stderr.flush()
    stream = sys.stderr.buffer if hasattr(sys.stderr, "buffer") else None
    body = serialize_body(reports)
    if stream is not None:
        stream.write(body + b"\n")
        stream.flush()
    else:  # an embedding caller replaced stderr with a text-only stream
        print(body.decode("utf-8"), file=sys.stderr)


def send_queue(
    paths: ShimmyPaths, deadline: float, env: Mapping[str, str], session_id: str | None = None
) -> bool:
    """POST the whole queue, oldest first; True when it was delivered (2xx).

    Only while metrics are still sending (and, given ``session_id``, for that id): that is
    checked inside the send slot, right before the POST.
    """
    from shimmy_onboard.outbox import send_slot

    endpoint, problem = resolve_endpoint(env)
    if endpoint is None:
        # The user set a bad variable: worth one line; the queue waits for a good one.
        print(f"{PROG}: {problem}; nothing was sent (the queue is kept).", file=sys.stderr)
        return False
    with send_slot(paths) as ours:
        if not ours:
            _log().debug("another process is sending the queue; this one leaves it queued")
            return False
        return _send_locked(
            paths, endpoint, deadline, lambda: still_sending(paths, session_id, env)
        )


def _send_locked(
    paths: ShimmyPaths, endpoint: str, deadline: float, allowed: Callable[[], bool]
) -> bool:
    from shimmy_onboard.clock import system_clock
    from shimmy_onboard.outbox import OutboxBusy, record_sent, remove_sent, sendable_entries
    from shimmy_onboard.payload import serialize_body

    # The same list preview shows: bounded, every session passing the privacy check.
    entries = sendable_entries(paths, system_clock())
    if not entries:
        return False
    if not allowed():
        _log().debug("metrics were disabled meanwhile: nothing is sent")
        return False
    body = serialize_body([entry.report for entry in entries])
    outcome = post_body(endpoint, body, deadline)
    if not outcome.delivered:
        _log().debug("the metrics were not delivered (%s); they stay queued", outcome.detail)
        return False
    try:
        remove_sent(paths, [entry.entry_id for entry in entries])
        record_sent(paths, body, len(entries), system_clock())
    except (OSError, OutboxBusy) as error:
        _log().debug("sent, but the queue could not be updated: %s", error)
    return True


# --- the endpoint -------------------------------------------------------------------------


def resolve_endpoint(env: Mapping[str, str]) -> tuple[str | None, str | None]:
    """The URL to POST to, or None and why it is refused.

    ``SHIMMY_METRICS_ENDPOINT`` replaces the default: https anywhere, plain http only to a
    loopback address (127.0.0.0/8, ::1, localhost), for tests and self-hosting on this
    machine. Checked before any connection: metrics never travel unencrypted off the host.
    """
    raw = env.get("SHIMMY_METRICS_ENDPOINT", "").strip()
    if not raw:
        return DEFAULT_ENDPOINT, None
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(raw)
        host = parts.hostname
        _ = parts.port  # raises ValueError for a port that is not a number
    except ValueError:
        return None, "SHIMMY_METRICS_ENDPOINT is not a valid URL"
    if not host:
        return None, "SHIMMY_METRICS_ENDPOINT has no host"
    if parts.scheme == "https":
        return raw, None
    if parts.scheme == "http" and is_loopback_host(host):
        return raw, None
    if parts.scheme == "http":
        return None, "SHIMMY_METRICS_ENDPOINT uses plain http to a host that is not this machine"
    return None, "SHIMMY_METRICS_ENDPOINT must be an https:// URL"


def is_loopback_host(host: str) -> bool:
    """127.0.0.0/8, ::1 or localhost, without asking any resolver."""
    import ipaddress

    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# --- the sender: one POST, one total deadline ----------------------------------------------


class SendOutcome:
    """Whether one POST was delivered (2xx), and what happened, for the debug log."""

    __slots__ = ("delivered", "detail")

    def __init__(self, delivered: bool, detail: str) -> None:
        self.delivered = delivered
        self.detail = detail  # "HTTP 204", "no complete answer before the deadline", ...

    def __repr__(self) -> str:
        return f"SendOutcome(delivered={self.delivered}, detail={self.detail!r})"


def post_body(url: str, body: bytes, deadline: float) -> SendOutcome:
    """POST ``body`` to ``url`` and read the answer, all before ``deadline`` (monotonic).

    No redirect is followed (a 3xx is a failure), nothing is retried, certificates are
    checked. Returns by the deadline (plus a moment) whatever the server does.
    """
    import threading

    attempt = _Attempt(url, body, deadline)
    worker = threading.Thread(target=attempt.run, name="shimmy-metrics-post", daemon=True)
    worker.start()
    worker.join(max(0.0, deadline - time.monotonic()))
    if worker.is_alive():
        attempt.abort()
        worker.join(ABORT_GRACE_SECONDS)
        return SendOutcome(False, "no complete answer before the deadline")
    return attempt.outcome


class _Attempt:
    """One request on a worker thread, with a handle on its socket so it can be cut short."""

    def __init__(self, url: str, body: bytes, deadline: float) -> None:
        import threading

        self.url = url
        self.body = body
        self.deadline = deadline
        self.outcome = SendOutcome(False, "not attempted")
        self._guard = threading.Lock()
        self._aborted = False
        self._watched: socket.socket | None = None

    def run(self) -> None:
        try:
            self.outcome = self._post()
        except Exception as error:  # on a worker thread: any failure is just "not delivered"
            self.outcome = SendOutcome(False, f"{type(error).__name__}: {error}")
        finally:
            self._forget_socket()

    def _post(self) -> SendOutcome:
        import httpx

        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            return SendOutcome(False, "the deadline passed before the request started")
        secure = self.url.startswith("https:")
        with httpx.Client(
            timeout=httpx.Timeout(remaining),
            follow_redirects=False,
            verify=True,
            # Proxies and CA bundles from the environment apply to https only: plain http
            # to loopback must never be handed to a proxy on the network.
            trust_env=secure,
        ) as client:
            response = client.post(
                self.url,
                content=self.body,
                headers={"Content-Type": "application/json", "User-Agent": PROG},
                extensions={"trace": self._trace},
            )
        status = response.status_code
        return SendOutcome(200 <= status < 300, f"HTTP {status}")

    def _trace(self, event: str, info: dict[str, Any]) -> None:
        # httpcore reports each new connection; keep a duplicate of its socket, so that
        # abort() can shut the connection down even after TLS has wrapped the original.
        if event != "connection.connect_tcp.complete":
            return
        stream = info.get("return_value")
        raw = stream.get_extra_info("socket") if stream is not None else None
        if raw is None:
            return
        try:
            watched = raw.dup()
        except OSError:  # out of descriptors: the per-phase timeouts still bound each wait
            return
        with self._guard:
            self._close_watched()
            self._watched = watched
            if self._aborted:
                _shut_down(watched)

    def abort(self) -> None:
        """Wake the worker: whatever it is waiting for on the socket ends now."""
        with self._guard:
            self._aborted = True
            if self._watched is not None:
                _shut_down(self._watched)

    def _forget_socket(self) -> None:
        with self._guard:
            self._close_watched()

    def _close_watched(self) -> None:
        import contextlib

        if self._watched is not None:
            with contextlib.suppress(OSError):
                self._watched.close()
            self._watched = None


def _shut_down(connection: socket.socket) -> None:
    import contextlib
    import socket

    # OSError: already closed by the other side or by the worker.
    with contextlib.suppress(OSError):
        connection.shutdown(socket.SHUT_RDWR)


# --- small things ---------------------------------------------------------------------------


def _log() -> logging.Logger:
    import logging

    return logging.getLogger(LOGGER_NAME)


def _show_debug_log_on_stderr() -> None:
    """For the ``send`` command: debug lines go to stderr only with SHIMMY_METRICS_DEBUG."""
    import logging

    from shimmy_onboard.consent import is_flag_set

    logger = logging.getLogger(LOGGER_NAME)
    logger.propagate = False  # never through a root handler somebody else configured
    if is_flag_set(os.environ.get("SHIMMY_METRICS_DEBUG")):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(f"{PROG}: debug: %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)
    else:
        logger.addHandler(logging.NullHandler())
