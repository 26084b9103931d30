"""The plain ``Enable metrics? [Y/n]: `` prompt, for wherever no TUI can run.

DESIGN.md, "The plain prompt": the spec's first-run text, then ``Enable metrics? [Y/n]: ``.
``y``, ``yes`` or Enter enable; ``n``, ``no`` disable; anything else asks again, three
times at most, then records nothing. End of input or Ctrl-C records nothing and leaves
metrics disabled. Where the terminal cannot print emoji (an encoding that lacks them, a
``C``/``POSIX`` locale, ``TERM=dumb``) the same words are printed without them.

The spec's texts live here, once: the TUI shows the same strings. No Textual here.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from enum import Enum
from typing import NamedTuple, TextIO

from shimmy_onboard import messages
from shimmy_onboard.clock import Clock, system_clock
from shimmy_onboard.exits import PROG
from shimmy_onboard.paths import ShimmyPaths

# --- the spec's texts ("First Run Experience", "What Is NOT Collected") -------------------

WELCOME_EMOJI = "🚀"
HELP_EMOJI = "📊"
NEVER_EMOJI = "❌"
WELCOME_TITLE = "Welcome to Shimmy!"
HELP_TITLE = "Help Improve Shimmy"
HELP_TEXT = (
    "Shimmy can collect anonymous usage metrics to help improve performance \n"
    "and reliability. This data helps prioritize features and fix issues."
)
COLLECTED_LINE = "What's collected: Performance metrics, error rates, feature usage"
NOT_COLLECTED_LINE = "What's NOT collected: Your prompts, responses, or personal data"
NEVER_COLLECTED_TITLE = "Never collected:"
NEVER_COLLECTED = (
    "Model names or content",
    "User prompts or AI responses",
    "File paths or directory structures",
    "IP addresses or network information",
    "Personal identification information",
    "API keys or authentication tokens",
    "Detailed system specifications (exact CPU/GPU models)",
)
QUESTION = "Enable metrics? [Y/n]: "
MAX_ATTEMPTS = 3

YES_WORDS = ("", "y", "yes")
NO_WORDS = ("n", "no")


def first_run_text(emoji: bool) -> str:
    """The spec's first-run text, up to (not including) the question."""
    welcome = f"{WELCOME_EMOJI} {WELCOME_TITLE}" if emoji else WELCOME_TITLE
    help_title = f"{HELP_EMOJI} {HELP_TITLE}" if emoji else HELP_TITLE
    return "\n".join(
        [welcome, "", help_title, HELP_TEXT, "", COLLECTED_LINE, NOT_COLLECTED_LINE, ""]
    )


def can_print_emoji(stream: TextIO, env: Mapping[str, str]) -> bool:
    """Whether this terminal shows the spec's emoji, rather than boxes or an error.

    Python coerces a ``C`` locale to UTF-8, so the stream's encoding alone is not enough:
    a ``C``/``POSIX`` locale or ``TERM=dumb`` says the terminal itself is plain.
    """
    if env.get("TERM", "").strip() == "dumb":
        return False
    if _is_plain_locale(_terminal_locale(env)):
        return False
    encoding = getattr(stream, "encoding", None) or "ascii"
    try:
        (WELCOME_EMOJI + HELP_EMOJI + NEVER_EMOJI).encode(encoding)
    except (UnicodeEncodeError, LookupError):
        return False
    return True


#: What Python itself puts in LC_CTYPE when it starts under a C locale (PEP 538).
COERCED_CTYPES = ("C.UTF-8", "C.utf8", "UTF-8")


def _terminal_locale(env: Mapping[str, str]) -> str:
    """The locale the terminal was set up with (LC_ALL, then LC_CTYPE, then LANG)."""
    ctype = env.get("LC_CTYPE", "")
    if ctype in COERCED_CTYPES and _is_plain_locale(env.get("LANG", "")):
        ctype = ""  # Python's coercion of a C locale, not the user's setting
    return env.get("LC_ALL") or ctype or env.get("LANG") or ""


def _is_plain_locale(locale: str) -> bool:
    language, _, codeset = locale.partition(".")
    return language in ("C", "POSIX") and codeset.lower().replace("-", "") != "utf8"


def parse_answer(text: str) -> bool | None:
    """True to enable, False to disable, None when the answer is neither."""
    word = text.strip().lower()
    if word in YES_WORDS:
        return True
    if word in NO_WORDS:
        return False
    return None


class Ending(str, Enum):
    """How the questioning ended."""

    ANSWERED = "answered"
    END_OF_INPUT = "end-of-input"
    INTERRUPTED = "interrupted"
    NO_VALID_ANSWER = "no-valid-answer"


class PromptResult(NamedTuple):
    # A NamedTuple: a dataclass costs milliseconds to define, on the TUI's way to its first frame.
    ending: Ending
    enable: bool | None  # the answer, when there was one
    recorded: bool = False  # the decision reached the config
    error: str | None = None  # the config could not be written


def ask(stdin: TextIO, stdout: TextIO, attempts: int = MAX_ATTEMPTS) -> PromptResult:
    """Ask the question until it gets an answer, at most ``attempts`` times. Records nothing."""
    for attempt in range(attempts):
        try:
            # Inside the try: Ctrl-C may come the moment the question is visible.
            stdout.write(QUESTION)
            stdout.flush()
            line = stdin.readline()
        except KeyboardInterrupt:
            stdout.write("\n")
            return PromptResult(Ending.INTERRUPTED, None)
        if not line:  # end of input: no newline at all, not even an empty answer
            stdout.write("\n")
            return PromptResult(Ending.END_OF_INPUT, None)
        answer = parse_answer(line)
        if answer is not None:
            return PromptResult(Ending.ANSWERED, answer)
        if attempt + 1 < attempts:
            stdout.write("Please answer y or n (Enter means yes).\n")
    return PromptResult(Ending.NO_VALID_ANSWER, None)


def run_prompt(
    paths: ShimmyPaths,
    *,
    env: Mapping[str, str] | None = None,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
    clock: Clock = system_clock,
) -> PromptResult:
    """Show the first-run text, ask, and record the answer (source ``prompt``)."""
    from shimmy_onboard.consent import load_state

    env = os.environ if env is None else env
    stdin = sys.stdin if stdin is None else stdin
    stdout = sys.stdout if stdout is None else stdout
    state = load_state(paths, env)
    stdout.write(first_run_text(can_print_emoji(stdout, env)) + "\n")
    if state.decided:
        stdout.write(f"Currently: {state.explain()}\n")
    if state.opt_out_by:
        stdout.write(f"Note: {messages.opt_out_note(state.opt_out_by)}\n")
    result = ask(stdin, stdout)
    if result.enable is None:
        stdout.write(_nothing_recorded(result.ending, state.decided) + "\n")
        stdout.flush()
        return result
    return _record(paths, result, stdout, clock, state.opt_out_by)


def _record(
    paths: ShimmyPaths,
    result: PromptResult,
    stdout: TextIO,
    clock: Clock,
    opt_out_by: str | None,
) -> PromptResult:
    from shimmy_onboard.config import ConfigWriteError
    from shimmy_onboard.consent import record_decision
    from shimmy_onboard.vocab import ConsentSource

    enable = bool(result.enable)
    try:
        change = record_decision(paths, enable=enable, source=ConsentSource.PROMPT, clock=clock)
    except ConfigWriteError as error:
        print(f"shimmy-onboard: {error}", file=sys.stderr)
        return PromptResult(Ending.ANSWERED, enable, recorded=False, error=str(error))
    # Warnings on stderr, as the settings commands print them; the answer's outcome on stdout.
    if change.backup:
        print(f"{PROG}: {messages.backup_notice(change.backup)}", file=sys.stderr)
    if change.ledger_error:
        print(f"{PROG}: {messages.ledger_warning(change.ledger_error)}", file=sys.stderr)
    stdout.write(
        f"{messages.confirmation(enable, opt_out_by)}\n"
        f"Recorded in {paths.config_file}\n{messages.change_hint(enable)}\n"
    )
    stdout.flush()
    return PromptResult(Ending.ANSWERED, enable, recorded=True)


def _nothing_recorded(ending: Ending, decided: bool) -> str:
    why = {
        Ending.END_OF_INPUT: "No answer (end of input)",
        Ending.INTERRUPTED: "Interrupted",
        Ending.NO_VALID_ANSWER: f"No y or n after {MAX_ATTEMPTS} tries",
    }.get(ending, "No answer")
    if decided:
        return f"{why}: nothing was recorded; your earlier decision stands."
    return f"{why}: nothing was recorded; metrics stay disabled. You will be asked again."
