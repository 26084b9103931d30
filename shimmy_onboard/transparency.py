"""The transparency verbs: ``config --metrics preview``, ``export``, ``validate``, ``schema``.

The spec promises "See exactly what would be sent", "Export all your metrics data" and
"Validate no personal data". So:

- ``preview`` writes on stdout exactly the bytes the next send would POST, and nothing
  else (a newline is added only when stdout is a terminal, so that the shell prompt
  does not run on after the JSON): the queue when there is one, else this machine's
  object with this moment's counters, labelled on stderr as an example. Both come from
  :func:`preview_body`, which the TUI calls too, through the one serializer.
- ``export`` writes one JSON document on stdout: the config's metrics section, the
  consent ledger, the queue and the sent log.
- ``validate`` runs the privacy validator over this machine's object, the queue and the
  sent log (or over ``--file F``) and prints each check as ``PASS``/``FAIL`` lines on
  stdout, which are its output; errors about the file itself go to stderr. Exit 1 on any
  violation, 2 when the file cannot be read or is not JSON.
- ``schema`` prints the JSON Schema that ships in the package.

Messages go to stderr, machine output to stdout (DESIGN.md, "Commands").
"""

from __future__ import annotations

import json
import os
import sys
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shimmy_onboard.clock import Clock, format_utc, system_clock
from shimmy_onboard.exits import EXIT_FAILED, EXIT_OK, EXIT_USAGE, EXIT_VIOLATION, PROG

if TYPE_CHECKING:
    from shimmy_onboard.hardware import MachineFacts
    from shimmy_onboard.paths import ShimmyPaths
    from shimmy_onboard.privacy import CheckResult


# A body is at most 50 sessions of under 1 KB; a file far bigger is not a payload.
MAX_FILE_BYTES = 4 * 1024 * 1024


# --- preview ------------------------------------------------------------------------------


def preview_body(
    paths: ShimmyPaths,
    *,
    machine: MachineFacts | None = None,
    clock: Clock = system_clock,
    session_id: str | None = None,
    env: Mapping[str, str] | None = None,
    root: Path | None = None,
) -> tuple[bytes, bool]:
    """The exact body the next send would transmit, and whether it is only an example.

    With sessions queued, that is the queue, oldest first (``False``: not an example), as
    the sender filters it (:func:`shimmy_onboard.outbox.sendable_entries`: within the
    bounds, each passing the privacy check); preview itself changes no file.
    With an empty queue, it is this machine's object with this moment's counters: an
    empty session that starts and ends now (``True``: an example). Its ``session_id`` is
    the config's when there is one, else ``session_id``, else a fresh random one.
    """
    from shimmy_onboard.outbox import sendable_entries
    from shimmy_onboard.payload import serialize_body

    queued = [entry.report for entry in sendable_entries(paths, clock(), prune=False)]
    if queued:
        return serialize_body(queued), False
    report = example_report(
        paths, machine=machine, clock=clock, session_id=session_id, env=env, root=root
    )
    return serialize_body([report]), True


def example_report(
    paths: ShimmyPaths,
    *,
    machine: MachineFacts | None = None,
    clock: Clock = system_clock,
    session_id: str | None = None,
    env: Mapping[str, str] | None = None,
    root: Path | None = None,
) -> dict[str, Any]:
    """This machine's object for a session that starts and ends at this moment.

    ``env`` (default ``os.environ``) and ``root`` (default ``/``) are where the deployment
    type and the version are read from: the TUI's snapshots fix them. ``session_id`` is
    the id the caller knows will be used (the TUI's, for a consent about to be given);
    without it, the config's, else a random one.
    """
    from shimmy_onboard.config import read_config
    from shimmy_onboard.payload import build_report
    from shimmy_onboard.recorder import SessionRecorder

    if machine is None:
        from shimmy_onboard.hardware import detect_machine

        machine = detect_machine()
    now = clock()
    env = os.environ if env is None else env
    recorder = SessionRecorder(started_at=now, clock=clock, env=env, root=root or Path("/"))
    summary = recorder.summary(ended_at=now)
    configured = read_config(paths).metrics.session_id
    return build_report(
        session_id=session_id or configured or str(uuid.uuid4()),
        summary=summary,
        machine=machine,
        version=env.get("SHIMMY_VERSION") or None,
    )


def run_preview(paths: ShimmyPaths) -> int:
    """``config --metrics preview``: the body on stdout, what it is on stderr."""
    from shimmy_onboard.consent import load_state

    body, is_example = preview_body(paths)
    state = load_state(paths)
    _say(_preview_label(body, is_example))
    if state.sending:
        _say("Metrics are enabled: " + state.explain())
    else:
        _say("Nothing would be sent now: " + state.explain())
    _write_stdout(body, newline=_isatty(sys.stdout))
    return EXIT_OK


def _preview_label(body: bytes, is_example: bool) -> str:
    if is_example:
        return (
            "The queue is empty. Below is an example: this machine's object with this "
            "moment's counters (a session that has served nothing yet). When Shimmy stops, "
            f"one like it, with that session's real counters, is what is sent ({len(body)} bytes)."
        )
    count = len(json.loads(body))
    sessions = "1 queued session" if count == 1 else f"{count} queued sessions"
    return (
        f"Below is the body the next send transmits, byte for byte: {sessions}, oldest first "
        f"({len(body)} bytes). The session running when Shimmy next stops joins them."
    )


# --- export -------------------------------------------------------------------------------


def export_document(paths: ShimmyPaths, clock: Clock = system_clock) -> dict[str, Any]:
    """Everything this package keeps about metrics on this machine, in one document."""
    from shimmy_onboard.consent import read_ledger
    from shimmy_onboard.outbox import load_entries, load_sent_log
    from shimmy_onboard.vocab import SCHEMA_VERSION

    return {
        "exported_at": format_utc(clock()),
        "schema_version": SCHEMA_VERSION,
        "metrics": _metrics_section(paths),
        "consent_ledger": read_ledger(paths),
        "queue": [entry.as_json() for entry in load_entries(paths)],
        "sent_log": load_sent_log(paths),
    }


def _metrics_section(paths: ShimmyPaths) -> dict[str, Any]:
    from shimmy_onboard.config import read_config

    snapshot = read_config(paths)
    section = (snapshot.document or {}).get("metrics")
    if isinstance(section, dict) and not snapshot.problem:
        return section  # as on disk, with any key a newer version may have added
    return snapshot.metrics.as_json()


def run_export(paths: ShimmyPaths) -> int:
    """``config --metrics export``: one JSON document on stdout."""
    from shimmy_onboard.config import read_config

    problem = read_config(paths).problem
    if problem:
        _say(f"{PROG}: the config cannot be used ({problem}); its metrics section is left out.")
    document = export_document(paths)
    text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    _write_stdout(text.encode("utf-8"), newline=False)
    changes = _plural(len(document["consent_ledger"]), "consent change")
    queued = _plural(len(document["queue"]), "queued session")
    sent = _plural(len(document["sent_log"]), "sent-log entry", "sent-log entries")
    _say(f"Exported the metrics setting, {changes}, {queued} and {sent}.")
    return EXIT_OK


# --- validate -----------------------------------------------------------------------------


def run_validate(paths: ShimmyPaths, file: str | None) -> int:
    """``config --metrics validate [--file F]``: each check, PASS or FAIL, on stdout."""
    if file is not None:
        return _validate_file(file)
    from shimmy_onboard.outbox import load_queue, load_sent_log, sendable_entries
    from shimmy_onboard.privacy import check_report, check_sessions

    clean = _print_section(
        "This machine's object, with this moment's counters (what preview shows "
        "while the queue is empty)",
        check_report(example_report(paths)),
    )
    queue = load_queue(paths)
    if queue:
        # The raw file is checked, so that whatever is in it is reported; the sender
        # filters it with the same checks, so a session failing one here is dropped.
        clean &= _print_section(
            f"The queue: {_plural(len(queue), 'session')} in the file",
            check_sessions(queue),
        )
        dropped = len(queue) - len(sendable_entries(paths, system_clock(), prune=False))
        if dropped:
            _print_line(
                f"  {_plural(dropped, 'queued session')} over the bounds (50 sessions, 30 days), "
                "from an earlier consent, or failing a check: the next send drops them, "
                "they are never sent."
            )
    else:
        _print_line("The queue: empty, nothing waiting to be sent.")
    sent = load_sent_log(paths)
    if sent:
        clean &= _print_section(
            f"The sent log: {_plural(len(sent), 'entry', 'entries')} (time, SHA-256 of the body "
            "and session count; bodies are not kept)",
            check_sent_log(sent),
        )
    else:
        _print_line("The sent log: empty, nothing was sent from this machine.")
    return _verdict(clean)


def _validate_file(file: str) -> int:
    from shimmy_onboard.config import open_regular_file, os_error_reason
    from shimmy_onboard.privacy import BodyError, check_sessions, parse_body

    try:
        with os.fdopen(open_regular_file(file), "rb") as handle:
            raw = handle.read(MAX_FILE_BYTES + 1)
    except OSError as error:
        _say(f"{PROG}: cannot read {file}: {os_error_reason(error)}")
        return EXIT_USAGE
    if len(raw) > MAX_FILE_BYTES:
        _say(f"{PROG}: {file} is larger than 4 MiB: not a metrics payload")
        return EXIT_USAGE
    try:
        sessions = parse_body(raw)
    except BodyError as error:
        _say(f"{PROG}: {file} is not a metrics payload: {error}")
        return EXIT_USAGE
    clean = _print_section(f"{file}: {_plural(len(sessions), 'session')}", check_sessions(sessions))
    return _verdict(clean)


def check_sent_log(entries: Sequence[Mapping[str, Any]]) -> list[CheckResult]:
    """The sent log holds a time, a SHA-256 and a count per send; check that is all it holds."""
    from shimmy_onboard.clock import parse_utc
    from shimmy_onboard.privacy import CheckResult, check_strings, located_strings

    problem = None
    strings = []
    for number, entry in enumerate(entries, 1):
        keys = set(entry)
        if keys != {"time", "sha256", "sessions"}:
            extra = sorted(str(key) for key in keys - {"time", "sha256", "sessions"})
            problem = f"entry {number} holds more: {', '.join(extra) or 'nothing'}"
        elif not _is_sha256(entry["sha256"]) or parse_utc(str(entry["time"])) is None:
            problem = f"entry {number} is not a time and a SHA-256"
        # The digest is hex by design; every other string is looked at.
        strings += [
            (f"entry {number}: {where}", text)
            for where, text in located_strings(entry)
            if where != '"sha256"'
        ]
    fmt = CheckResult(
        "format",
        problem is None,
        problem or "each entry is a time, a SHA-256 and a session count, nothing else",
    )
    return [fmt, *check_strings(strings)]


def _is_sha256(value: object) -> bool:
    return (
        isinstance(value, str) and len(value) == 64 and all(c in "0123456789abcdef" for c in value)
    )


def _print_section(title: str, results: Sequence[CheckResult]) -> bool:
    _print_line(f"{title}:")
    for result in results:
        _print_line(f"  {'PASS' if result.passed else 'FAIL'} {result.name}: {result.detail}")
    return all(result.passed for result in results)


def _verdict(clean: bool) -> int:
    if clean:
        _print_line("OK: every check passed; nothing personal found.")
        return EXIT_OK
    _print_line("VIOLATION: at least one check failed (see FAIL above).")
    return EXIT_VIOLATION


# --- schema -------------------------------------------------------------------------------


def run_schema() -> int:
    """``config --metrics schema``: the payload's JSON Schema, as shipped, on stdout."""
    from shimmy_onboard.payload import shipped_json_schema_text

    try:
        text = shipped_json_schema_text()
    except OSError as error:
        _say(f"{PROG}: the schema file is missing from this installation: {error}")
        return EXIT_FAILED
    _write_stdout(text.encode("utf-8"), newline=False)
    return EXIT_OK


# --- output -------------------------------------------------------------------------------


def _say(message: str) -> None:
    print(message, file=sys.stderr)


def _print_line(line: str) -> None:
    print(line)


def _write_stdout(data: bytes, *, newline: bool) -> None:
    sys.stdout.flush()
    stream = getattr(sys.stdout, "buffer", None)
    if stream is None:  # a text-only stdout (an embedding caller's): same characters
        sys.stdout.write(data.decode("utf-8") + ("\n" if newline else ""))
        sys.stdout.flush()
        return
    stream.write(data + (b"\n" if newline else b""))
    stream.flush()


def _isatty(stream: object) -> bool:
    try:
        return bool(stream.isatty())  # type: ignore[attr-defined]
    except (AttributeError, ValueError, OSError):
        return False


def _plural(count: int, one: str, many: str | None = None) -> str:
    return f"{count} {one if count == 1 else (many or one + 's')}"
