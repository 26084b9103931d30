"""Consent: decisions, the session id, the ledger and the overrides."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from shimmy_onboard.config import read_config
from shimmy_onboard.consent import (
    load_state,
    nobody_to_ask,
    opt_out_variable,
    read_ledger,
    record_decision,
)
from shimmy_onboard.paths import ShimmyPaths
from shimmy_onboard.vocab import SCHEMA_VERSION, ConsentSource, Decision


def fixed_clock() -> datetime:
    return datetime(2025, 1, 15, 10, 30, tzinfo=timezone.utc)


def test_nothing_recorded_means_undecided_and_not_sending(paths: ShimmyPaths) -> None:
    state = load_state(paths, {})

    assert state.decision is Decision.UNDECIDED
    assert not state.decided
    assert not state.sending
    assert not paths.config_file.exists()


def test_enabling_records_consent_for_the_current_schema(paths: ShimmyPaths) -> None:
    record_decision(paths, enable=True, source=ConsentSource.CLI, clock=fixed_clock)

    state = load_state(paths, {})
    assert state.decision is Decision.ENABLED
    assert state.consent_version == SCHEMA_VERSION
    assert state.since == "2025-01-15T10:30:00Z"
    assert state.sending


def test_every_enable_mints_a_new_session_id(paths: ShimmyPaths) -> None:
    record_decision(paths, enable=True, source=ConsentSource.CLI)
    first = load_state(paths, {}).session_id
    record_decision(paths, enable=False, source=ConsentSource.CLI)
    assert load_state(paths, {}).session_id == first
    record_decision(paths, enable=True, source=ConsentSource.CLI)

    second = load_state(paths, {}).session_id
    assert first and second and first != second


def test_repeating_a_decision_changes_nothing_and_logs_nothing(paths: ShimmyPaths) -> None:
    record_decision(paths, enable=True, source=ConsentSource.CLI)
    before = paths.config_file.read_bytes()

    change = record_decision(paths, enable=True, source=ConsentSource.CLI)

    assert not change.changed
    assert paths.config_file.read_bytes() == before
    assert len(read_ledger(paths)) == 1


def test_the_ledger_records_each_change_with_its_source(paths: ShimmyPaths) -> None:
    record_decision(paths, enable=True, source=ConsentSource.PROMPT, clock=fixed_clock)
    record_decision(paths, enable=False, source=ConsentSource.TUI, clock=fixed_clock)

    entries = read_ledger(paths)
    assert [(e["from"], e["to"], e["source"]) for e in entries] == [
        ("undecided", "enabled", "prompt"),
        ("enabled", "disabled", "tui"),
    ]
    assert all(e["time"] == "2025-01-15T10:30:00Z" for e in entries)
    assert all(e["consent_version"] == SCHEMA_VERSION for e in entries)
    assert all("package_version" in e for e in entries)


def test_a_damaged_ledger_line_is_skipped_not_fatal(paths: ShimmyPaths) -> None:
    record_decision(paths, enable=True, source=ConsentSource.CLI)
    with open(paths.ledger_file, "ab") as ledger:
        ledger.write(b'{"time": "2025-01-1\n\xff\xfe\n[1]\n')
    record_decision(paths, enable=False, source=ConsentSource.CLI)

    assert [entry["to"] for entry in read_ledger(paths)] == ["enabled", "disabled"]


def test_disable_deletes_the_queue(paths: ShimmyPaths) -> None:
    record_decision(paths, enable=True, source=ConsentSource.CLI)
    paths.queue_file.parent.mkdir(parents=True, exist_ok=True)
    paths.queue_file.write_text("[]")

    record_decision(paths, enable=False, source=ConsentSource.CLI)

    assert not paths.queue_file.exists()


def test_an_older_consent_is_asked_again_when_the_schema_moves_on(
    paths: ShimmyPaths, monkeypatch: pytest.MonkeyPatch
) -> None:
    record_decision(paths, enable=True, source=ConsentSource.CLI)
    monkeypatch.setattr("shimmy_onboard.consent.SCHEMA_VERSION", SCHEMA_VERSION + 1)

    state = load_state(paths, {})
    assert state.needs_reconsent
    assert not state.sending
    assert "changed" in state.explain()

    old_id = state.session_id
    record_decision(paths, enable=True, source=ConsentSource.TUI)
    assert read_config(paths).metrics.consent_version == SCHEMA_VERSION + 1
    assert load_state(paths, {}).session_id != old_id


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"DO_NOT_TRACK": "1"}, "DO_NOT_TRACK"),
        ({"DO_NOT_TRACK": "true"}, "DO_NOT_TRACK"),
        ({"DO_NOT_TRACK": "0"}, None),
        ({"DO_NOT_TRACK": ""}, None),
        ({"DO_NOT_TRACK": " "}, "DO_NOT_TRACK"),  # white space is not "empty": the safe side
        ({"SHIMMY_NO_METRICS": "1"}, "SHIMMY_NO_METRICS"),
        ({"DO_NOT_TRACK": "0", "SHIMMY_NO_METRICS": "yes"}, "SHIMMY_NO_METRICS"),
        ({}, None),
    ],
)
def test_the_opt_out_variables_win_with_any_value_but_empty_or_zero(
    env: dict[str, str], expected: str | None
) -> None:
    assert opt_out_variable(env) == expected


def test_an_opt_out_variable_beats_an_enabled_config(paths: ShimmyPaths) -> None:
    record_decision(paths, enable=True, source=ConsentSource.CLI)

    state = load_state(paths, {"DO_NOT_TRACK": "1"})

    assert state.decision is Decision.ENABLED
    assert not state.sending
    assert "DO_NOT_TRACK" in state.explain()


@pytest.mark.parametrize(
    ("env", "stdin", "stdout", "reason"),
    [
        ({}, True, True, None),
        ({"CI": "true"}, True, True, "CI is set"),
        ({"CI": "false"}, True, True, None),
        ({}, False, True, "there is no terminal"),
        ({}, True, False, "there is no terminal"),
        ({"SHIMMY_NO_METRICS": "1"}, True, True, "SHIMMY_NO_METRICS is set"),
    ],
)
def test_nobody_is_asked_in_ci_or_without_a_terminal(
    env: dict[str, str], stdin: bool, stdout: bool, reason: str | None
) -> None:
    assert nobody_to_ask(env, stdin, stdout) == reason


def test_status_reads_the_latest_change_from_a_huge_ledger(paths: ShimmyPaths) -> None:
    record_decision(paths, enable=True, source=ConsentSource.CLI)
    old = json.dumps({"time": "2020-01-01T00:00:00Z", "from": "a", "to": "b", "source": "cli"})
    with open(paths.ledger_file, "w") as ledger:
        ledger.write((old + "\n") * 20_000)  # well over the 1 MiB that is read
    record_decision(paths, enable=False, source=ConsentSource.TUI, clock=fixed_clock)

    entries = read_ledger(paths)

    assert entries[-1]["to"] == "disabled"
    assert entries[-1]["source"] == "tui"


def test_a_writer_stuck_holding_the_lock_does_not_hang_the_next_one(
    paths: ShimmyPaths, monkeypatch: pytest.MonkeyPatch
) -> None:
    import fcntl

    from shimmy_onboard.config import ConfigWriteError

    monkeypatch.setattr("shimmy_onboard.config.LOCK_WAIT_SECONDS", 0.3)
    paths.config_dir.mkdir(parents=True)
    with open(paths.lock_file, "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # as a stopped writer would hold it
        with pytest.raises(ConfigWriteError, match="try again"):
            record_decision(paths, enable=True, source=ConsentSource.CLI)

    assert not paths.config_file.exists()
    record_decision(paths, enable=True, source=ConsentSource.CLI)
    assert load_state(paths, {}).sending
