"""The first-run consent experience: the TUI where one can run, the plain prompt elsewhere.

The choice between them is made here, before Textual is imported, because Textual
waits forever for a terminal that is not there. This module imports no Textual.

Exit codes (DESIGN.md: 0 ok, 3 could not do the work):

- ``ask_first_run()`` (Shimmy's ``--first-run``) always returns 0: Shimmy must start
  whatever the answer, and an unanswered question is asked again next time.
- ``open_interactive()`` returns 0 when a decision was recorded and when the person left
  without answering (``q``/Esc, end of input, three answers that were neither y nor n):
  nothing was recorded and nothing is wrong. Ctrl-C returns 130, as shells expect. A config
  that cannot be written returns 3.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping

from shimmy_onboard import messages
from shimmy_onboard.consent import (
    ci_variable_set,
    is_terminal,
    load_state,
    opt_out_variable,
)
from shimmy_onboard.exits import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, PROG
from shimmy_onboard.paths import ShimmyPaths, resolve_paths
from shimmy_onboard.prompt import Ending, PromptResult, run_prompt

#: TERM values that promise no cursor movement or colours: the TUI cannot draw there.
PLAIN_TERMS = ("", "dumb", "unknown")


def tui_unavailable(
    env: Mapping[str, str],
    stdin_is_terminal: bool,
    stdout_is_terminal: bool,
    platform: str = sys.platform,
) -> str | None:
    """Why the TUI cannot run here, or None when it can."""
    if not (stdin_is_terminal and stdout_is_terminal):
        return "standard input or output is not a terminal"
    term = env.get("TERM", "").strip()
    # Windows consoles draw Textual without setting TERM at all.
    if platform != "win32" and term in PLAIN_TERMS:
        return f"TERM is {term!r}" if term else "TERM is not set"
    return None


def _terminals() -> tuple[bool, bool]:
    return is_terminal(sys.stdin), is_terminal(sys.stdout)


def _say(message: str) -> None:
    """One line on stderr, if there is a stderr: ``print(file=None)`` would use stdout."""
    if sys.stderr is not None:
        print(f"{PROG}: {message}", file=sys.stderr)


def ask_first_run() -> int:
    """Ask for consent on first run (the caller checked that somebody can answer)."""
    paths = resolve_paths()
    stdin_tty, stdout_tty = _terminals()
    if tui_unavailable(os.environ, stdin_tty, stdout_tty) is None:
        _run_tui(paths)
    else:
        run_prompt(paths)
    return EXIT_OK


def open_interactive(headless: bool) -> int:
    """``shimmy-onboard`` and ``shimmy-onboard --headless``.

    ``--headless`` always uses the plain prompt and reads the answer from standard input,
    whatever it is: ``echo y | shimmy-onboard --headless`` records a yes, for scripts.
    Without it, the TUI opens where it can; where it cannot but a person can still type,
    the plain prompt; with no terminal on standard input or output (``> file`` would hide
    the question from the person who must answer it), nobody is asked.

    Where an override says nobody is asked (``DO_NOT_TRACK``, ``SHIMMY_NO_METRICS``,
    ``CI``) and no current decision is recorded, neither asks: one line says why. With a
    decision recorded, the settings stay open to an explicit change.
    """
    paths = resolve_paths()
    if sys.stdin is None or sys.stdout is None:  # closed (``<&-``, ``>&-``): nobody to ask
        _say(messages.streams_closed())
        return EXIT_OK
    variable = _override_that_stops_asking(os.environ)
    if variable is not None and not load_state(paths, os.environ).decided:
        _say(messages.nobody_asked(variable))
        return EXIT_OK
    if headless:
        return _prompt_exit_code(run_prompt(paths))
    stdin_tty, stdout_tty = _terminals()
    if tui_unavailable(os.environ, stdin_tty, stdout_tty) is None:
        return _run_tui(paths)
    if not (stdin_tty and stdout_tty):
        _say(
            "there is no terminal to ask on, so nothing was asked or recorded.\n"
            "Use shimmy config --metrics enable|disable, or --headless to read y or n "
            "from standard input."
        )
        return EXIT_OK
    return _prompt_exit_code(run_prompt(paths))


def _override_that_stops_asking(env: Mapping[str, str]) -> str | None:
    """The variable under which nobody is asked (the resolver's rules), or None.

    Terminals do not count here: ``--headless`` reads its answer from whatever stdin is.
    """
    return opt_out_variable(env) or ("CI" if ci_variable_set(env) else None)


def _prompt_exit_code(result: PromptResult) -> int:
    if result.error is not None:
        return EXIT_FAILED
    if result.ending is Ending.INTERRUPTED:
        return EXIT_INTERRUPTED
    return EXIT_OK


def _run_tui(paths: ShimmyPaths) -> int:
    from shimmy_onboard.tui.app import run_onboarding

    return run_onboarding(paths)
