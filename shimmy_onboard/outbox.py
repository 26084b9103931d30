"""The outbox: the queue of sessions waiting to be sent, and the log of what was sent.

Both live in the metrics state dir (DESIGN.md, "Delivery"):

- ``queue.json``: ``{"format": 1, "sessions": [{"id", "queued_at", "report"}, ...]}``,
  oldest first. ``id`` is a random local name for one queued session, never sent: it is
  how a successful send removes exactly the sessions it carried, even when another
  Shimmy process queued one more while the POST was in flight.
- ``sent.jsonl``: one line per successful POST, ``{"time", "sha256", "sessions"}``.

Both are bounded (50 entries, 30 days; the oldest go first) and rewritten atomically
under a short lock, so a crash or a second Shimmy shutting down at the same moment never
leaves a torn or half-merged file. A file that cannot be parsed reads as empty and is
replaced on the next write: a damaged queue never stops a send.

Sends themselves are serialised by a second lock that is only ever *tried*: when another
process is sending right now, this one skips its send and its session stays queued.

Standard library only (``json``, ``os``): ``preview`` and ``export`` read these files, and
the sender imports httpx itself, not here.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from shimmy_onboard.clock import format_utc, parse_utc
from shimmy_onboard.config import (
    lock_within,
    open_regular_file,
    remove_abandoned_temp_files,
    try_lock,
    write_bytes_atomically,
)
from shimmy_onboard.paths import ShimmyPaths

if TYPE_CHECKING:
    import logging

QUEUE_FORMAT = 1
MAX_QUEUED_SESSIONS = 50
MAX_SENT_LOG_ENTRIES = 50
MAX_AGE = timedelta(days=30)

# 50 sessions of under 1 KB each, with room to spare; anything bigger is not our file.
MAX_FILE_BYTES = 1024 * 1024

# Queue writes take milliseconds; a lock held longer than this belongs to a stuck process.
QUEUE_LOCK_PATIENCE_SECONDS = 1.0


# The sender's logger: what is dropped from the queue is part of what a send did.
LOGGER_NAME = "shimmy_onboard.delivery"

T = TypeVar("T")


class OutboxBusy(Exception):
    """The queue lock could not be had quickly; nothing was changed."""


@dataclass(frozen=True)
class QueuedSession:
    """One session waiting in the queue. ``entry_id`` stays local; ``report`` is what is sent."""

    entry_id: str
    queued_at: str
    report: dict[str, Any]

    def as_json(self) -> dict[str, Any]:
        return {"id": self.entry_id, "queued_at": self.queued_at, "report": self.report}


# --- reading -------------------------------------------------------------------------------


def load_queue(paths: ShimmyPaths) -> list[dict[str, Any]]:
    """The queued reports, oldest first: exactly what the next send transmits before its own.

    A missing or damaged queue file reads as empty; never raises.
    """
    return [entry.report for entry in load_entries(paths)]


def load_entries(paths: ShimmyPaths) -> list[QueuedSession]:
    """The queue with each session's local id and time; damaged entries are skipped."""
    document = _read_json(paths.queue_file)
    if not isinstance(document, dict) or not isinstance(document.get("sessions"), list):
        return []
    entries = []
    for item in document["sessions"]:
        entry = _entry_from_json(item)
        if entry is not None:
            entries.append(entry)
    return entries


def _entry_from_json(item: object) -> QueuedSession | None:
    if not isinstance(item, dict):
        return None
    entry_id, queued_at, report = item.get("id"), item.get("queued_at"), item.get("report")
    if not (isinstance(entry_id, str) and isinstance(queued_at, str) and isinstance(report, dict)):
        return None
    return QueuedSession(entry_id=entry_id, queued_at=queued_at, report=report)


def load_sent_log(paths: ShimmyPaths) -> list[dict[str, Any]]:
    """Every well-formed sent-log entry, oldest first; damaged lines are skipped."""
    raw = _read_bytes(paths.sent_log_file)
    if raw is None:
        return []
    entries = []
    for line in raw.splitlines():
        try:
            entry = json.loads(line.decode("utf-8"))
        except (ValueError, RecursionError):
            continue
        if _is_sent_entry(entry):
            entries.append(entry)
    return entries


def _is_sent_entry(entry: object) -> bool:
    return (
        isinstance(entry, dict)
        and isinstance(entry.get("time"), str)
        and isinstance(entry.get("sha256"), str)
        and isinstance(entry.get("sessions"), int)
    )


def _read_bytes(path: Path) -> bytes | None:
    try:
        with os.fdopen(open_regular_file(path), "rb") as handle:
            raw = handle.read(MAX_FILE_BYTES + 1)
    except OSError:  # missing, unreadable, or a FIFO or device planted in its place
        return None
    return raw if len(raw) <= MAX_FILE_BYTES else None


def _read_json(path: Path) -> object:
    raw = _read_bytes(path)
    if raw is None:
        return None
    try:
        return json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError):
        return None


# --- writing -------------------------------------------------------------------------------


def enqueue(
    paths: ShimmyPaths,
    report: Mapping[str, Any],
    now: datetime,
    still_allowed: Callable[[], bool] | None = None,
) -> QueuedSession | None:
    """Append one session's report to the queue, dropping what is over the bounds.

    ``still_allowed`` is asked under the queue lock, just before the write: when it says
    no (metrics were disabled meanwhile), nothing is written and None is returned. Under
    the same lock, disabling deletes the queue, so a session is never queued after it.
    Raises OSError when the state dir cannot be written, OutboxBusy when the lock is held.
    """
    entry = QueuedSession(
        entry_id=os.urandom(8).hex(), queued_at=format_utc(now), report=dict(report)
    )
    with queue_lock(paths):
        if still_allowed is not None and not still_allowed():
            return None
        entries = [*load_entries(paths), entry]
        _write_queue(paths, bounded(entries, now))
    return entry


def sendable_entries(
    paths: ShimmyPaths, now: datetime, *, prune: bool = True
) -> list[QueuedSession]:
    """The queued sessions the next send transmits, oldest first: THE one filter.

    Within the bounds (50 sessions, 30 days), carrying the config's current
    ``session_id``, and passing every privacy check: anything else in queue.json (planted
    by hand, left by an older version, expired, or queued under a consent since withdrawn,
    whose id must never be linked to the new one) is never sent. ``send`` and ``preview``
    both use this list, so preview shows what is sent.
    With ``prune``, the dropped sessions are also taken out of the file, under the lock;
    without it (preview) nothing is written. Never raises for a busy lock or a
    read-only state dir: the filtered list is what matters.
    """
    entries = load_entries(paths)
    kept = _passing(bounded(entries, now), _current_session_id(paths))
    if prune and len(kept) < len(entries):
        _prune_queue(paths, now)
    return kept


def _current_session_id(paths: ShimmyPaths) -> str | None:
    from shimmy_onboard.config import read_config

    return read_config(paths).metrics.session_id


def _passing(entries: list[QueuedSession], session_id: str | None) -> list[QueuedSession]:
    if not entries:
        return []
    from shimmy_onboard.privacy import check_report  # pydantic: only with a queue to check

    kept = []
    for entry in entries:
        if entry.report.get("session_id") != session_id:
            _log().debug("a queued session of an earlier consent was dropped, never sent")
            continue
        failed = [check for check in check_report(entry.report) if not check.passed]
        if failed:
            reasons = "; ".join(f"{check.name}: {check.detail}" for check in failed)
            _log().debug("a queued session was dropped, never sent: %s", reasons)
        else:
            kept.append(entry)
    return kept


def _prune_queue(paths: ShimmyPaths, now: datetime) -> None:
    try:
        with queue_lock(paths):
            if not os.path.exists(paths.queue_file):
                return  # disabled meanwhile: not brought back
            # Read again under the lock: another process may have queued one since.
            kept = _passing(bounded(load_entries(paths), now), _current_session_id(paths))
            _write_queue(paths, kept)
    except (OSError, OutboxBusy) as error:
        _log().debug("the dropped sessions could not be taken out of the queue: %s", error)


def remove_sent(paths: ShimmyPaths, sent_ids: Iterable[str]) -> None:
    """Take exactly the sessions that were sent out of the queue; later ones stay.

    A queue that is gone (metrics were disabled meanwhile) is not brought back.
    """
    sent = set(sent_ids)
    with queue_lock(paths):
        if not os.path.exists(paths.queue_file):
            return
        entries = load_entries(paths)
        _write_queue(paths, [entry for entry in entries if entry.entry_id not in sent])


def record_sent(paths: ShimmyPaths, body: bytes, sessions: int, now: datetime) -> None:
    """Append the body's SHA-256 and time to the sent log (bounded like the queue)."""
    import hashlib  # only a successful send needs it

    entry = {
        "time": format_utc(now),
        "sha256": hashlib.sha256(body).hexdigest(),
        "sessions": sessions,
    }
    with queue_lock(paths):
        entries = [*load_sent_log(paths), entry]
        kept = _within_bounds(entries, now, lambda item: item["time"], MAX_SENT_LOG_ENTRIES)
        lines = "".join(json.dumps(item, separators=(",", ":")) + "\n" for item in kept)
        write_bytes_atomically(paths.sent_log_file, lines.encode("utf-8"))


def bounded(entries: list[QueuedSession], now: datetime) -> list[QueuedSession]:
    """At most 50 sessions, none queued more than 30 days ago; the oldest go first."""
    return _within_bounds(entries, now, lambda entry: entry.queued_at, MAX_QUEUED_SESSIONS)


def _within_bounds(
    entries: list[T], now: datetime, time_of: Callable[[T], str], limit: int
) -> list[T]:
    oldest_allowed = now - MAX_AGE
    fresh = []
    for entry in entries:
        moment = parse_utc(time_of(entry))
        # An entry with no readable time cannot be shown to be fresh: it goes.
        if moment is not None and moment >= oldest_allowed:
            fresh.append(entry)
    return fresh[-limit:]


def _write_queue(paths: ShimmyPaths, entries: list[QueuedSession]) -> None:
    document = {"format": QUEUE_FORMAT, "sessions": [entry.as_json() for entry in entries]}
    text = json.dumps(document, separators=(",", ":"), ensure_ascii=False) + "\n"
    write_bytes_atomically(paths.queue_file, text.encode("utf-8"))


# --- locks ---------------------------------------------------------------------------------


def _lock_path(paths: ShimmyPaths, name: str) -> Path:
    return paths.metrics_dir / f".{name}.lock"


def _open_lock(paths: ShimmyPaths, name: str) -> int:
    paths.metrics_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    return os.open(_lock_path(paths, name), os.O_RDWR | os.O_CREAT, 0o600)


@contextmanager
def queue_lock(paths: ShimmyPaths) -> Iterator[None]:
    """Held for the few milliseconds of a read-modify-write of the queue or the sent log.

    Waits at most QUEUE_LOCK_PATIENCE_SECONDS, then raises OutboxBusy; raises OSError
    when the state dir cannot be created. Once held, the temp files of a writer killed
    mid-write are swept: every writer of these two files holds this lock while its temp
    file exists, so any found now is abandoned.
    """
    descriptor = _open_lock(paths, "queue")
    try:
        if not lock_within(descriptor, QUEUE_LOCK_PATIENCE_SECONDS):
            raise OutboxBusy("the metrics queue is locked by another process")
        remove_abandoned_temp_files(paths.queue_file)
        remove_abandoned_temp_files(paths.sent_log_file)
        yield
    finally:
        os.close(descriptor)  # closing the descriptor releases the lock


@contextmanager
def send_slot(paths: ShimmyPaths) -> Iterator[bool]:
    """Whether this process may send now: True unless another process is sending.

    Never waits: Shimmy is shutting down and must not be held up by a sibling's send.
    """
    try:
        descriptor = _open_lock(paths, "send")
    except OSError:
        yield False
        return
    try:
        yield try_lock(descriptor)
    finally:
        os.close(descriptor)


def _log() -> logging.Logger:
    import logging

    return logging.getLogger(LOGGER_NAME)
