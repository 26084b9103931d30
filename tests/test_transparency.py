"""preview, export, validate and schema: what the user sees is what is sent and kept."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from shimmy_onboard.consent import new_session_id, record_decision
from shimmy_onboard.hardware import MachineFacts
from shimmy_onboard.outbox import enqueue, load_queue, record_sent
from shimmy_onboard.paths import ShimmyPaths
from shimmy_onboard.payload import (
    build_report,
    json_schema_text,
    report_json_schema,
    serialize_body,
    shipped_json_schema_text,
)
from shimmy_onboard.privacy import check_body
from shimmy_onboard.recorder import SessionRecorder
from shimmy_onboard.transparency import (
    preview_body,
    run_export,
    run_preview,
    run_validate,
)
from shimmy_onboard.vocab import ConsentSource, GpuVendor, HardwareTier, Platform, Region
from tests.conftest import run_cli

NOW = datetime(2025, 1, 15, 10, 30, tzinfo=timezone.utc)
MACHINE = MachineFacts(
    platform=Platform.MACOS_ARM64,
    hardware_tier=HardwareTier.LAPTOP,
    gpu_vendor=GpuVendor.APPLE,
    region_indicator=Region.EMEA,
)
GIVEN_ID = "f47ac10b-58cc-4372-a567-0e02b2c3d479"


def fixed_clock() -> datetime:
    return NOW


def a_report(requests: int = 3) -> dict[str, Any]:
    recorder = SessionRecorder(started_at=NOW, clock=fixed_clock, env={})
    for _ in range(requests):
        recorder.record_request("/v1/chat/completions", tokens=10, latency_ms=100, at=NOW)
    summary = recorder.summary(ended_at=NOW)
    return build_report(session_id=GIVEN_ID, summary=summary, machine=MACHINE, version="1.3.2")


def enable(paths: ShimmyPaths, session_id: str | None = None) -> str:
    mint = (lambda: session_id) if session_id else new_session_id
    change = record_decision(paths, enable=True, source=ConsentSource.CLI, mint_id=mint)
    assert change.metrics.session_id is not None
    return change.metrics.session_id


# --- preview -----------------------------------------------------------------------------


def test_with_an_empty_queue_the_preview_is_this_machines_object_byte_for_byte(
    paths: ShimmyPaths,
) -> None:
    body, is_example = preview_body(paths, machine=MACHINE, clock=fixed_clock, session_id=GIVEN_ID)
    expected = build_report(
        session_id=GIVEN_ID,
        summary=SessionRecorder(started_at=NOW, clock=fixed_clock).summary(ended_at=NOW),
        machine=MACHINE,
        version=None,
    )
    assert is_example is True
    assert body == serialize_body([expected])
    assert json.loads(body)[0]["timestamp"] == "2025-01-15T10:30:00Z"


def test_the_preview_carries_the_configs_session_id_once_there_is_one(paths: ShimmyPaths) -> None:
    without_config, _ = preview_body(paths, machine=MACHINE, clock=fixed_clock)
    assert json.loads(without_config)[0]["session_id"] != GIVEN_ID  # a fresh random one
    session_id = enable(paths)
    body, _ = preview_body(paths, machine=MACHINE, clock=fixed_clock)
    assert json.loads(body)[0]["session_id"] == session_id


def test_the_preview_carries_the_id_a_consent_about_to_be_given_will_record(
    paths: ShimmyPaths,
) -> None:
    enable(paths)  # an older id in the config, as after a disable or for an older schema

    body, _ = preview_body(paths, machine=MACHINE, clock=fixed_clock, session_id=GIVEN_ID)

    assert json.loads(body)[0]["session_id"] == GIVEN_ID


def test_with_sessions_queued_the_preview_is_the_queue(paths: ShimmyPaths) -> None:
    enable(paths, GIVEN_ID)  # the queued sessions were queued under this consent
    first, second = a_report(1), a_report(2)
    enqueue(paths, first, NOW)
    enqueue(paths, second, NOW)
    body, is_example = preview_body(paths, machine=MACHINE, clock=fixed_clock)
    assert is_example is False
    assert body == serialize_body([first, second])


def test_the_preview_command_prints_the_queue_exactly_and_says_so_on_stderr(
    paths: ShimmyPaths,
) -> None:
    enable(paths, GIVEN_ID)
    # Queued now: the command's clock is the real one, and the queue keeps 30 days.
    enqueue(paths, a_report(1), datetime.now(timezone.utc))
    enqueue(paths, a_report(5), datetime.now(timezone.utc))
    result = run_cli(["config", "--metrics", "preview"])
    assert result.returncode == 0, result.stderr
    assert result.stdout.encode("utf-8") == serialize_body(load_queue(paths))
    assert "2 queued sessions" in result.stderr
    assert "Metrics are enabled" in result.stderr


def test_the_preview_command_prints_pure_json_and_labels_the_example(paths: ShimmyPaths) -> None:
    session_id = enable(paths)
    result = run_cli(["config", "--metrics", "preview"])
    assert result.returncode == 0, result.stderr
    body = result.stdout.encode("utf-8")
    (report,) = json.loads(body)
    assert body == serialize_body([report])  # no newline, no label, no indentation
    assert report["session_id"] == session_id
    assert report["metrics"]["requests_per_session"] == 0
    assert "example" in result.stderr
    assert all(check.passed for check in check_body(body))


def test_preview_says_nothing_would_be_sent_while_metrics_are_off(paths: ShimmyPaths) -> None:
    undecided = run_cli(["config", "--metrics", "preview"])
    assert "Nothing would be sent now" in undecided.stderr
    enable(paths)
    suppressed = run_cli(["config", "--metrics", "preview"], env={"DO_NOT_TRACK": "1"})
    assert "Nothing would be sent now: DO_NOT_TRACK is set" in suppressed.stderr
    assert json.loads(suppressed.stdout)  # the body is still shown


def test_preview_in_process_writes_only_the_body_on_stdout(
    paths: ShimmyPaths, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    enable(paths, GIVEN_ID)
    enqueue(paths, a_report(), datetime.now(timezone.utc))  # preview's clock is the real one
    assert run_preview(paths) == 0
    captured = capsysbinary.readouterr()
    assert captured.out == serialize_body([a_report()])
    assert b"1 queued session" in captured.err


# --- export --------------------------------------------------------------------------------


def test_export_is_one_document_with_the_setting_the_ledger_the_queue_and_the_sent_log(
    paths: ShimmyPaths, capsys: pytest.CaptureFixture[str]
) -> None:
    session_id = enable(paths)
    sent_body = serialize_body([a_report(4)])
    record_sent(paths, sent_body, 1, NOW)
    queued = a_report(2)
    enqueue(paths, queued, NOW)
    assert run_export(paths) == 0
    captured = capsys.readouterr()
    document = json.loads(captured.out)
    assert document["metrics"]["enabled"] is True
    assert document["metrics"]["session_id"] == session_id
    assert [(entry["from"], entry["to"]) for entry in document["consent_ledger"]] == [
        ("undecided", "enabled")
    ]
    assert [entry["report"] for entry in document["queue"]] == [queued]
    (sent,) = document["sent_log"]
    assert sent["sessions"] == 1
    assert len(sent["sha256"]) == 64
    assert "1 consent change, 1 queued session and 1 sent-log entry" in captured.err


def test_export_from_the_command_line_on_a_fresh_machine(paths: ShimmyPaths) -> None:
    result = run_cli(["config", "--metrics", "export"])
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["metrics"] == {}
    assert document["consent_ledger"] == document["queue"] == document["sent_log"] == []


def test_export_reports_an_unusable_config_and_still_exports_the_rest(
    paths: ShimmyPaths, capsys: pytest.CaptureFixture[str]
) -> None:
    paths.config_dir.mkdir(parents=True)
    paths.config_file.write_text("{not json")
    assert run_export(paths) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["metrics"] == {}
    assert "cannot be used" in captured.err


# --- schema --------------------------------------------------------------------------------


def test_the_schema_command_prints_the_shipped_file_which_is_the_models_schema() -> None:
    result = run_cli(["config", "--metrics", "schema"])
    assert result.returncode == 0, result.stderr
    assert result.stdout == shipped_json_schema_text()
    assert result.stdout == json_schema_text(report_json_schema())
    assert json.loads(result.stdout)["additionalProperties"] is False


# --- validate ------------------------------------------------------------------------------


def test_validate_on_a_fresh_machine_passes_every_check(paths: ShimmyPaths) -> None:
    result = run_cli(["config", "--metrics", "validate"])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "PASS schema:" in result.stdout
    assert "PASS no e-mail addresses:" in result.stdout
    assert "The queue: empty" in result.stdout
    assert "The sent log: empty" in result.stdout
    assert "FAIL" not in result.stdout


def test_validate_checks_the_queue_and_the_sent_log_after_a_real_send(
    paths: ShimmyPaths, capsys: pytest.CaptureFixture[str]
) -> None:
    enqueue(paths, a_report(), NOW)
    record_sent(paths, serialize_body([a_report()]), 1, NOW)
    assert run_validate(paths, None) == 0
    out = capsys.readouterr().out
    assert "The queue: 1 session" in out
    assert "The sent log: 1 entry" in out
    assert "PASS format: each entry is a time, a SHA-256 and a session count" in out


def test_validate_fails_when_something_personal_got_into_the_queue(
    paths: ShimmyPaths, capsys: pytest.CaptureFixture[str]
) -> None:
    tampered = a_report()
    tampered["metrics"]["integration_type"] = "jo@example.com"
    enqueue(paths, a_report(), NOW)
    enqueue(paths, tampered, NOW)
    assert run_validate(paths, None) == 1
    out = capsys.readouterr().out
    assert 'FAIL no e-mail addresses: session 2: "metrics.integration_type" contains' in out
    assert "VIOLATION" in out


def test_validate_says_a_queued_session_failing_a_check_will_be_dropped_not_sent(
    paths: ShimmyPaths, capsys: pytest.CaptureFixture[str]
) -> None:
    enable(paths, GIVEN_ID)
    tampered = {**a_report(), "user": "alice@example.com"}
    now = datetime.now(timezone.utc)  # within the 30 days: only the check drops it
    enqueue(paths, a_report(), now)
    enqueue(paths, tampered, now)
    assert run_validate(paths, None) == 1
    out = capsys.readouterr().out
    assert "1 queued session over the bounds (50 sessions, 30 days), from an earlier" in out
    assert "the next send drops them, they are never sent" in out
    assert "the body the next send transmits" not in out
    body, _ = preview_body(paths, machine=MACHINE)
    assert body == serialize_body([a_report()])


def test_validate_fails_when_the_sent_log_holds_more_than_a_digest(
    paths: ShimmyPaths, capsys: pytest.CaptureFixture[str]
) -> None:
    paths.metrics_dir.mkdir(parents=True)
    entry = {"time": "2025-01-15T10:30:00Z", "sha256": "0" * 64, "sessions": 1, "to": "/home/jo"}
    paths.sent_log_file.write_text(json.dumps(entry) + "\n")
    assert run_validate(paths, None) == 1
    out = capsys.readouterr().out
    assert "FAIL format: entry 1 holds more: to" in out
    assert 'FAIL no file paths: entry 1: "to" contains "/home/jo"' in out


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "cannot read"),
        (b"", "not JSON"),
        (b"{oops", "not JSON (Expecting property name"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "not UTF-8"),
        (b"42", "a number, not a session object"),
        (b'"text"', "a string, not a session object"),
        (b"[" * 100000, "nested too deeply"),
    ],
)
def test_validate_file_exits_2_with_a_message_for_a_file_that_is_no_payload(
    tmp_path: Path,
    paths: ShimmyPaths,
    capsys: pytest.CaptureFixture[str],
    content: bytes | None,
    message: str,
) -> None:
    target = tmp_path / "payload.json"
    if content is not None:
        target.write_bytes(content)
    assert run_validate(paths, str(target)) == 2
    captured = capsys.readouterr()
    assert message in captured.err
    assert captured.out == ""


def test_validate_file_exits_2_for_a_directory(
    tmp_path: Path, paths: ShimmyPaths, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_validate(paths, str(tmp_path)) == 2
    assert "cannot read" in capsys.readouterr().err


@pytest.mark.parametrize("content", [None, b"{oops", b"\xff\xfe\x00"])
def test_the_real_command_exits_2_without_a_traceback_for_a_bad_file(
    tmp_path: Path, content: bytes | None
) -> None:
    target = tmp_path / "payload.json"
    if content is not None:
        target.write_bytes(content)
    result = run_cli(["config", "--metrics", "validate", "--file", str(target)])
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert str(target) in result.stderr
    assert result.stdout == ""


def test_validate_file_with_a_huge_file_exits_2(
    tmp_path: Path, paths: ShimmyPaths, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "huge.json"
    target.write_bytes(b"[" + b" " * (5 * 1024 * 1024) + b"]")
    assert run_validate(paths, str(target)) == 2
    assert "larger than 4 MiB" in capsys.readouterr().err
