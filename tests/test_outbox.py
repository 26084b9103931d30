"""The queue and the sent log on disk: bounded, atomic, never a crash on a damaged file."""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from shimmy_onboard.clock import format_utc
from shimmy_onboard.consent import record_decision
from shimmy_onboard.outbox import (
    MAX_QUEUED_SESSIONS,
    enqueue,
    load_entries,
    load_queue,
    load_sent_log,
    record_sent,
    remove_sent,
    send_slot,
)
from shimmy_onboard.paths import ShimmyPaths, resolve_paths
from shimmy_onboard.vocab import ConsentSource

NOW = datetime(2025, 1, 15, 10, 30, tzinfo=timezone.utc)


def report(number: int) -> dict[str, Any]:
    """A stand-in session object; the outbox stores whatever passed the validator."""
    return {"session_id": "550e8400-e29b-41d4-a716-446655440000", "n": number}


def test_an_empty_outbox_reads_as_nothing(paths: ShimmyPaths) -> None:
    assert load_queue(paths) == []
    assert load_sent_log(paths) == []


def test_queued_sessions_come_back_oldest_first(paths: ShimmyPaths) -> None:
    for number in range(3):
        enqueue(paths, report(number), NOW + timedelta(minutes=number))
    assert load_queue(paths) == [report(0), report(1), report(2)]


def test_the_queue_keeps_at_most_fifty_sessions_dropping_the_oldest(paths: ShimmyPaths) -> None:
    for number in range(MAX_QUEUED_SESSIONS + 1):
        enqueue(paths, report(number), NOW)
    queued = load_queue(paths)
    assert len(queued) == 50
    assert queued[0] == report(1)
    assert queued[-1] == report(50)


def test_a_session_queued_thirty_one_days_ago_is_dropped(paths: ShimmyPaths) -> None:
    enqueue(paths, report(0), NOW - timedelta(days=31))
    enqueue(paths, report(1), NOW - timedelta(days=29))
    enqueue(paths, report(2), NOW)
    assert load_queue(paths) == [report(1), report(2)]


def test_removing_sent_sessions_keeps_one_queued_meanwhile(paths: ShimmyPaths) -> None:
    enqueue(paths, report(0), NOW)
    enqueue(paths, report(1), NOW)
    in_flight = [entry.entry_id for entry in load_entries(paths)]
    enqueue(paths, report(2), NOW)  # another Shimmy shut down while the POST was out
    remove_sent(paths, in_flight)
    assert load_queue(paths) == [report(2)]


def test_removing_sent_sessions_does_not_bring_back_a_deleted_queue(paths: ShimmyPaths) -> None:
    enqueue(paths, report(0), NOW)
    in_flight = [entry.entry_id for entry in load_entries(paths)]
    paths.queue_file.unlink()  # metrics were disabled while the POST was out
    remove_sent(paths, in_flight)
    assert not paths.queue_file.exists()


def test_a_corrupt_queue_reads_as_empty_and_is_replaced_on_the_next_write(
    paths: ShimmyPaths,
) -> None:
    paths.metrics_dir.mkdir(parents=True)
    garbage_files = (b"", b"{not", b"\xff\xfe\x00", b"[1,2]", b'{"sessions": 7}', b"[" * 100000)
    for garbage in garbage_files:
        paths.queue_file.write_bytes(garbage)
        assert load_queue(paths) == []
    enqueue(paths, report(0), NOW)
    assert load_queue(paths) == [report(0)]
    assert json.loads(paths.queue_file.read_bytes())["format"] == 1


def test_damaged_entries_are_skipped_and_the_rest_kept(paths: ShimmyPaths) -> None:
    enqueue(paths, report(0), NOW)
    document = json.loads(paths.queue_file.read_bytes())
    document["sessions"][:0] = [42, {"id": 1}, {"id": "x", "queued_at": NOW.isoformat()}]
    paths.queue_file.write_text(json.dumps(document))
    assert load_queue(paths) == [report(0)]


def test_the_sent_log_records_the_sha256_time_and_count_of_each_body(paths: ShimmyPaths) -> None:
    body = b'[{"n":0}]'
    record_sent(paths, body, 1, NOW)
    assert load_sent_log(paths) == [
        {
            "time": "2025-01-15T10:30:00Z",
            "sha256": hashlib.sha256(body).hexdigest(),
            "sessions": 1,
        }
    ]


def test_the_sent_log_is_bounded_like_the_queue(paths: ShimmyPaths) -> None:
    record_sent(paths, b"[old]", 1, NOW - timedelta(days=40))
    for number in range(55):
        record_sent(paths, f"[{number}]".encode(), 1, NOW)
    entries = load_sent_log(paths)
    assert len(entries) == 50
    assert all(entry["time"] == "2025-01-15T10:30:00Z" for entry in entries)


def test_a_damaged_sent_log_line_is_skipped(paths: ShimmyPaths) -> None:
    record_sent(paths, b"[1]", 1, NOW)
    with open(paths.sent_log_file, "ab") as handle:
        handle.write(b"{torn\n\xff\n[]\n")
    record_sent(paths, b"[2]", 2, NOW)
    assert [entry["sessions"] for entry in load_sent_log(paths)] == [1, 2]


def test_outbox_files_are_private_to_the_user(paths: ShimmyPaths) -> None:
    enqueue(paths, report(0), NOW)
    record_sent(paths, b"[]", 0, NOW)
    assert paths.queue_file.stat().st_mode & 0o777 == 0o600
    assert paths.sent_log_file.stat().st_mode & 0o777 == 0o600


def test_disabling_metrics_deletes_the_queue(paths: ShimmyPaths) -> None:
    record_decision(paths, enable=True, source=ConsentSource.CLI)
    enqueue(paths, report(0), NOW)
    record_decision(paths, enable=False, source=ConsentSource.CLI)
    assert not paths.queue_file.exists()
    assert load_queue(paths) == []


def test_only_one_process_at_a_time_gets_the_send_slot(paths: ShimmyPaths) -> None:
    with send_slot(paths) as first, send_slot(paths) as second:
        assert (first, second) == (True, False)
    with send_slot(paths) as again:
        assert again is True


def _enqueue_many(config_dir: str, worker: int) -> None:
    os.environ["SHIMMY_CONFIG_DIR"] = config_dir
    paths = resolve_paths()
    for number in range(5):
        enqueue(paths, report(worker * 100 + number), NOW)


def test_concurrent_writers_lose_no_session(isolated_config: Path) -> None:
    context = multiprocessing.get_context("spawn")
    workers = [
        context.Process(target=_enqueue_many, args=(str(isolated_config), worker))
        for worker in range(6)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(30)
    queued = {item["n"] for item in load_queue(resolve_paths())}
    assert queued == {worker * 100 + number for worker in range(6) for number in range(5)}


# --- what a killed writer leaves behind, and what may be sent -----------------------------------


def test_temp_files_left_by_a_killed_writer_are_swept_at_the_next_queue_write(
    paths: ShimmyPaths,
) -> None:
    paths.metrics_dir.mkdir(parents=True)
    leftovers = [
        paths.metrics_dir / ".queue.json.4242.0badc0de.tmp",
        paths.metrics_dir / ".sent.jsonl.4242.0badc0de.tmp",
    ]
    for leftover in leftovers:
        leftover.write_text('{"half": ')
    unrelated = paths.metrics_dir / "consent.jsonl"
    unrelated.write_text("")
    enqueue(paths, report(0), NOW)
    assert [leftover.exists() for leftover in leftovers] == [False, False]
    assert unrelated.exists()
    assert load_queue(paths) == [report(0)]


def test_sendable_entries_drop_what_fails_a_check_or_the_bounds_and_prune_only_when_asked(
    paths: ShimmyPaths,
) -> None:
    from shimmy_onboard.outbox import sendable_entries
    from tests.test_transparency import GIVEN_ID, a_report, enable

    enable(paths, GIVEN_ID)  # the consent the queued sessions were made under
    now = datetime.now(timezone.utc)
    clean = a_report(1)
    planted = [
        ("2020-03-01T00:00:00Z", a_report(3)),  # long expired
        (format_utc(now), {**a_report(2), "user": "alice@example.com"}),
        (format_utc(now - timedelta(days=29)), clean),  # still within the 30 days
    ]
    document = {
        "format": 1,
        "sessions": [
            {"id": f"e{number}", "queued_at": queued_at, "report": queued}
            for number, (queued_at, queued) in enumerate(planted)
        ],
    }
    paths.metrics_dir.mkdir(parents=True, exist_ok=True)
    paths.queue_file.write_text(json.dumps(document))

    on_file = load_queue(paths)
    assert len(on_file) == 3
    previewed = sendable_entries(paths, now, prune=False)
    assert [entry.report for entry in previewed] == [clean]
    assert load_queue(paths) == on_file  # preview changes no file
    sent = sendable_entries(paths, now)
    assert sent == previewed
    assert load_queue(paths) == [clean]  # pruned, under the lock
