"""The command line: ``shimmy-onboard``, its flags and the ``config --metrics`` verbs.

Shimmy runs ``--first-run`` at every start and ``send`` at every shutdown, and users run
``status``: those paths import only the standard library's light modules. Everything
else (Textual, pydantic, httpx, psutil) is imported inside the handler that needs it.
``tests/test_import_hygiene.py`` keeps it so.

Exit codes: 0 success; 1 ``validate`` found a violation; 2 usage error; 3 the command
could not do its work (the config could not be written). No input prints a traceback.
"""

from __future__ import annotations

import os
import sys

from shimmy_onboard import __version__
from shimmy_onboard.exits import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, PROG

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs the fast paths
if TYPE_CHECKING:
    import argparse
    from collections.abc import Sequence
    from typing import NoReturn

    from shimmy_onboard.consent import ConsentState
    from shimmy_onboard.paths import ShimmyPaths


METRICS_VERBS = ("enable", "disable", "status", "preview", "export", "validate", "schema")


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    # Shimmy's own calls must never fail Shimmy: whatever happens, they exit 0.
    never_fails = arguments[:1] in (["--first-run"], ["send"])
    failed = EXIT_OK if never_fails else EXIT_FAILED
    _escape_what_cannot_be_printed()
    try:
        return _run(arguments)
    except KeyboardInterrupt:
        _say(f"{PROG}: interrupted; nothing was changed by the interruption.")
        return EXIT_OK if never_fails else EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (``preview | head``); the answer was not wanted.
        _silence_stdout()
        return EXIT_OK
    except Exception as error:  # the last guard: a message, never a traceback
        if sys.stdout is None:
            _say(f"{PROG}: standard output is closed, so the answer could not be written.")
        elif isinstance(error, OSError):
            _say(f"{PROG}: cannot write the output: {error.strerror or error}")
        else:
            _say(f"{PROG}: internal error: {type(error).__name__}: {error}")
        return failed


def _say(message: str) -> None:
    """A line on stderr, if stderr can take it: the last guard must not fail in turn."""
    try:
        if sys.stderr is not None:
            print(message, file=sys.stderr)
    except Exception:
        pass


def _escape_what_cannot_be_printed() -> None:
    # A path or a message in a character the terminal's encoding lacks (PYTHONIOENCODING=
    # ascii, a C locale) is shown escaped rather than failing the command.
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            try:
                reconfigure(errors="backslashreplace")
            except (ValueError, OSError):
                pass


def _silence_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


# Whole, valid command lines that run often enough to skip argparse (and the ``re`` it
# imports); anything else, however close, goes through the parser and its messages.
_STATUS_COMMANDS = {
    ("config", "--metrics", "status"): False,
    ("config", "--metrics=status"): False,
    ("config", "--metrics", "status", "--json"): True,
    ("config", "--metrics=status", "--json"): True,
}


def _run(arguments: list[str]) -> int:
    if arguments == ["--first-run"]:
        # The hottest path: one file read and back to Shimmy.
        return first_run()
    as_json = _STATUS_COMMANDS.get(tuple(arguments))
    if as_json is not None:
        from shimmy_onboard.paths import resolve_paths

        return _status(resolve_paths(), as_json=as_json)
    if arguments[:1] == ["send"]:
        from shimmy_onboard.delivery import parse_send_arguments, run_send

        send_options = parse_send_arguments(arguments[1:])
        if send_options is not None:
            return run_send(*send_options)
    options = _parse(arguments)
    if options.command == "config":
        return _run_metrics_verb(options)
    if options.command == "send":
        from shimmy_onboard.delivery import run_send

        return run_send(options.events, options.shimmy_version)
    if options.first_run:
        return first_run()
    from shimmy_onboard.onboarding import open_interactive

    return open_interactive(headless=options.headless)


def first_run() -> int:
    """Ask for consent only when it is needed and somebody can answer; else return at once."""
    from shimmy_onboard.consent import is_terminal, load_state, nobody_to_ask
    from shimmy_onboard.paths import resolve_paths

    if nobody_to_ask(os.environ, is_terminal(sys.stdin), is_terminal(sys.stdout)) is not None:
        return EXIT_OK
    if load_state(resolve_paths()).decided:
        return EXIT_OK
    from shimmy_onboard.onboarding import ask_first_run

    return ask_first_run()


# --- arguments -------------------------------------------------------------------------


class _UsageError(Exception):
    pass


def _parse(arguments: list[str]) -> argparse.Namespace:
    import argparse

    class Parser(argparse.ArgumentParser):
        def error(self, message: str) -> NoReturn:
            self.print_usage(sys.stderr)
            self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")

    parser = Parser(
        prog=PROG,
        allow_abbrev=False,
        description="Shimmy's opt-in, anonymous usage metrics: consent, settings and delivery.",
        epilog="With no command: open the consent screen, or the settings if you already decided.",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--first-run",
        action="store_true",
        help="what Shimmy runs at start: ask only if undecided and a person can answer",
    )
    mode.add_argument(
        "--headless", action="store_true", help="use the plain Enable metrics? [Y/n] prompt"
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)

    config = commands.add_parser(
        "config", allow_abbrev=False, help="change or inspect the metrics setting"
    )
    config.add_argument(
        "--metrics",
        required=True,
        choices=METRICS_VERBS,
        metavar="VERB",
        help="one of: " + ", ".join(METRICS_VERBS),
    )
    config.add_argument("--json", action="store_true", help="status: print JSON on stdout")
    config.add_argument("--file", metavar="FILE", help="validate: check this file instead")

    send = commands.add_parser(
        "send", allow_abbrev=False, help="what Shimmy runs at shutdown: send this session"
    )
    send.add_argument("--events", metavar="FILE", help="Shimmy's events file (JSON Lines)")
    send.add_argument("--shimmy-version", metavar="V", help="Shimmy's version")

    options = parser.parse_args(arguments)
    if options.command == "config":
        if options.json and options.metrics != "status":
            config.error("--json goes with --metrics status")
        if options.file is not None and options.metrics != "validate":
            config.error("--file goes with --metrics validate")
    return options


# --- config --metrics VERB ---------------------------------------------------------------


def _run_metrics_verb(options: argparse.Namespace) -> int:
    from shimmy_onboard.paths import resolve_paths

    paths = resolve_paths()
    verb = options.metrics
    if verb in ("enable", "disable"):
        return _change_decision(paths, enable=verb == "enable")
    if verb == "status":
        return _status(paths, as_json=options.json)
    from shimmy_onboard import transparency

    if verb == "preview":
        return transparency.run_preview(paths)
    if verb == "export":
        return transparency.run_export(paths)
    if verb == "validate":
        return transparency.run_validate(paths, options.file)
    return transparency.run_schema()


def _change_decision(paths: ShimmyPaths, enable: bool) -> int:
    from shimmy_onboard import messages
    from shimmy_onboard.config import ConfigWriteError
    from shimmy_onboard.consent import opt_out_variable, record_decision
    from shimmy_onboard.vocab import ConsentSource

    try:
        change = record_decision(paths, enable=enable, source=ConsentSource.CLI)
    except ConfigWriteError as error:
        _say(f"{PROG}: {error}")
        return EXIT_FAILED
    if change.backup:
        _say(f"{PROG}: {messages.backup_notice(change.backup)}")
    if change.ledger_error:
        _say(f"{PROG}: {messages.ledger_warning(change.ledger_error)}")
    opt_out_by = opt_out_variable(os.environ)
    if not change.changed:
        _say(messages.already(enable))
        if enable and opt_out_by:
            _say(messages.opt_out_note(opt_out_by))
        return EXIT_OK
    # Through _say: the decision is on disk, and a message that cannot be shown (stderr
    # full or closed) must not make it look failed.
    _say(f"{messages.confirmation(enable, opt_out_by)}\n{messages.change_hint(enable)}")
    return EXIT_OK


def _status(paths: ShimmyPaths, as_json: bool) -> int:
    from shimmy_onboard.consent import load_state, read_ledger

    state = load_state(paths)
    ledger = read_ledger(paths)
    last_change = ledger[-1] if ledger else None
    if state.config.problem:
        _say(
            f"{PROG}: {state.config.path} cannot be used: {state.config.problem}. "
            "Metrics are treated as disabled."
        )
    if sys.stdout is None:  # print() would drop the answer without a word
        _say(f"{PROG}: standard output is closed, so the answer could not be written.")
        return EXIT_FAILED
    if as_json:
        import json

        print(json.dumps(_status_document(state, last_change), indent=2))
    else:
        print(_status_text(state, last_change))
    return EXIT_OK


def _status_document(
    state: ConsentState, last_change: dict[str, object] | None
) -> dict[str, object]:
    from shimmy_onboard.vocab import SCHEMA_VERSION

    return {
        "decision": state.decision.value,
        "sending": state.sending,
        "reason": state.explain(),
        "since": state.since,
        "session_id": state.session_id,
        "consent_version": state.consent_version,
        "schema_version": SCHEMA_VERSION,
        "override": state.opt_out_by,
        "config_path": str(state.config.path),
        "config_problem": state.config.problem,
        "last_change": last_change,
    }


def _printable(value: object) -> str:
    """The ledger is a file anyone could edit: its words reach the terminal, escapes never."""
    text = str(value)[:80]
    return "".join(char if char.isprintable() else repr(char)[1:-1] for char in text)


def _status_text(state: ConsentState, last_change: dict[str, object] | None) -> str:
    headline = "enabled" if state.sending else "disabled"
    lines = [f"Metrics: {headline}. Why: {state.explain()}"]
    decision = state.decision.value
    if state.since:
        decision += f" since {state.since}"
    lines.append(f"  Your decision: {decision}")
    if state.opt_out_by:
        lines.append(f"  Override:      {state.opt_out_by} (environment variable)")
    if state.session_id and state.sending:
        lines.append(f"  Session ID:    {state.session_id}")
    lines.append(f"  Config file:   {state.config.path}")
    if last_change:
        time, before, after, source = (
            _printable(last_change.get(key)) for key in ("time", "from", "to", "source")
        )
        lines.append(f"  Last change:   {time}: {before} -> {after} ({source})")
    lines.append(
        "  Change it:     shimmy config --metrics enable|disable, or run shimmy-onboard"
    )
    return "\n".join(lines)
