"""The plain ``Enable metrics? [Y/n]: `` prompt, answered on a real pseudo-terminal.

Each test runs ``python -m shimmy_onboard`` as a real process whose terminal is a pty
(``pty.fork``): the terminal echoes, Ctrl-C raises SIGINT and Ctrl-D ends the input,
exactly as for a person at a keyboard.
"""

from __future__ import annotations

import sys

import pytest

if sys.platform == "win32":  # pseudo-terminals as tested here are POSIX's
    pytest.skip("the prompt's terminal tests need POSIX ptys", allow_module_level=True)

import errno
import fcntl
import io
import os
import pty
import select
import signal
import struct
import subprocess
import termios
import time
from collections.abc import Mapping

from shimmy_onboard.consent import load_state, read_ledger
from shimmy_onboard.onboarding import tui_unavailable
from shimmy_onboard.paths import ShimmyPaths
from shimmy_onboard.prompt import QUESTION, can_print_emoji, parse_answer
from shimmy_onboard.vocab import Decision
from tests.conftest import run_cli

WAIT_SECONDS = 20.0
CTRL_C = "\x03"
CTRL_D = "\x04"
LOCALE_VARIABLES = ("LC_ALL", "LC_CTYPE", "LANG", "LANGUAGE", "PYTHONIOENCODING", "NO_COLOR")


class Terminal:
    """A process on the slave side of a pty; the test types on the master side."""

    def __init__(
        self, arguments: list[str], env: Mapping[str, str], size: tuple[int, int] = (24, 80)
    ) -> None:
        pid, fd = pty.fork()
        if pid == 0:  # the child: its stdin, stdout and stderr are the pty
            try:
                rows, columns = size
                fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
                os.execve(sys.executable, [sys.executable, "-m", "shimmy_onboard", *arguments], env)
            finally:
                os._exit(127)
        self.pid = pid
        self.fd = fd
        self.output = b""
        self.exit_code: int | None = None

    @property
    def text(self) -> str:
        return self.output.decode("utf-8", errors="replace").replace("\r\n", "\n")

    def _read(self, timeout: float) -> bool:
        """Read what is there; False once the child has closed the terminal."""
        ready, _, _ = select.select([self.fd], [], [], timeout)
        if not ready:
            return True
        try:
            chunk = os.read(self.fd, 65536)
        except OSError as error:  # Linux reports the closed slave side as EIO
            if error.errno == errno.EIO:
                return False
            raise
        self.output += chunk
        return bool(chunk)

    def expect(self, text: str, after: int = 0) -> int:
        """Wait until ``text`` appears (after offset ``after``); returns where it ends."""
        wanted = text.encode("utf-8")
        deadline = time.monotonic() + WAIT_SECONDS
        while (found := self.output.find(wanted, after)) < 0:
            if time.monotonic() > deadline or not self._read(0.1):
                raise AssertionError(f"never saw {text!r}; the terminal showed:\n{self.text}")
        return found + len(wanted)

    def type(self, keys: str) -> None:
        os.write(self.fd, keys.encode("utf-8"))

    def finish(self) -> int:
        """Read to the end and return the exit code."""
        deadline = time.monotonic() + WAIT_SECONDS
        while self._read(0.1):
            if time.monotonic() > deadline:
                os.kill(self.pid, signal.SIGKILL)
                raise AssertionError(f"the process did not end; it showed:\n{self.text}")
        _, status = os.waitpid(self.pid, 0)
        os.close(self.fd)
        self.exit_code = os.waitstatus_to_exitcode(status)
        return self.exit_code


def terminal_env(**variables: str) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if name not in LOCALE_VARIABLES}
    env.update({"TERM": "dumb", "LANG": "C.UTF-8", "PYTHONUNBUFFERED": "1"})
    env.update(variables)
    return env


def answer(arguments: list[str], keys: str, **variables: str) -> Terminal:
    terminal = Terminal(arguments, terminal_env(**variables))
    terminal.expect(QUESTION)
    terminal.type(keys)
    terminal.finish()
    return terminal


def decision(paths: ShimmyPaths) -> Decision:
    return load_state(paths, {}).decision


@pytest.mark.parametrize(
    ("keys", "expected"),
    [
        ("y\r", Decision.ENABLED),
        ("yes\r", Decision.ENABLED),
        ("\r", Decision.ENABLED),
        ("Y\r", Decision.ENABLED),
        ("n\r", Decision.DISABLED),
        ("no\r", Decision.DISABLED),
        (" No \r", Decision.DISABLED),
    ],
    ids=["y", "yes", "enter", "capital-y", "n", "no", "spaced-no"],
)
def test_each_answer_records_its_decision_from_the_prompt(
    paths: ShimmyPaths, keys: str, expected: Decision
) -> None:
    terminal = answer(["--headless"], keys, TERM="xterm-256color")

    assert terminal.exit_code == 0
    assert decision(paths) is expected
    assert [(entry["to"], entry["source"]) for entry in read_ledger(paths)] == [
        (expected.value, "prompt")
    ]
    assert str(paths.config_file) in terminal.text


def test_the_prompt_shows_the_specs_first_run_text_before_the_question(
    paths: ShimmyPaths,
) -> None:
    terminal = answer(["--headless"], "n\r", TERM="xterm-256color")

    assert terminal.text.startswith(
        "🚀 Welcome to Shimmy!\n\n📊 Help Improve Shimmy\n"
        "Shimmy can collect anonymous usage metrics to help improve performance \n"
        "and reliability. This data helps prioritize features and fix issues.\n\n"
        "What's collected: Performance metrics, error rates, feature usage\n"
        "What's NOT collected: Your prompts, responses, or personal data\n\n"
        "Enable metrics? [Y/n]: "
    )


def test_three_answers_that_are_neither_yes_nor_no_record_nothing(paths: ShimmyPaths) -> None:
    terminal = Terminal(["--headless"], terminal_env())
    seen = 0
    for word in ("maybe", "sure", "ok"):
        seen = terminal.expect(QUESTION, seen)
        terminal.type(word + "\r")
    terminal.finish()

    assert terminal.exit_code == 0
    assert terminal.text.count(QUESTION) == 3
    assert "No y or n after 3 tries: nothing was recorded" in terminal.text
    assert not paths.config_file.exists()
    assert read_ledger(paths) == []


def test_a_wrong_answer_asks_again_and_the_next_one_counts(paths: ShimmyPaths) -> None:
    terminal = Terminal(["--headless"], terminal_env())
    seen = terminal.expect(QUESTION)
    terminal.type("what?\r")
    terminal.expect(QUESTION, seen)
    terminal.type("n\r")
    terminal.finish()

    assert "Please answer y or n" in terminal.text
    assert decision(paths) is Decision.DISABLED


def test_end_of_input_records_nothing(paths: ShimmyPaths) -> None:
    terminal = answer(["--headless"], CTRL_D)

    assert terminal.exit_code == 0
    assert "No answer (end of input): nothing was recorded" in terminal.text
    assert not paths.config_file.exists()


def test_ctrl_c_records_nothing_and_exits_130_when_run_by_hand(paths: ShimmyPaths) -> None:
    terminal = answer(["--headless"], CTRL_C)

    assert terminal.exit_code == 130
    assert "Interrupted: nothing was recorded" in terminal.text
    assert "Traceback" not in terminal.text
    assert not paths.config_file.exists()


def test_ctrl_c_at_first_run_lets_shimmy_start(paths: ShimmyPaths) -> None:
    terminal = answer(["--first-run"], CTRL_C)

    assert terminal.exit_code == 0
    assert not paths.config_file.exists()


@pytest.mark.parametrize(
    "variables",
    [{"LC_ALL": "C"}, {"LANG": "POSIX"}, {"PYTHONIOENCODING": "ascii"}, {"TERM": "dumb"}],
    ids=["LC_ALL=C", "LANG=POSIX", "ascii-stdout", "TERM=dumb"],
)
def test_a_terminal_without_emoji_gets_the_same_words_without_them(
    paths: ShimmyPaths, variables: dict[str, str]
) -> None:
    env = {"TERM": "xterm-256color", **variables}
    terminal = answer(["--headless"], "y\r", **env)

    assert terminal.text.startswith("Welcome to Shimmy!\n\nHelp Improve Shimmy\n")
    assert terminal.output.isascii()
    assert decision(paths) is Decision.ENABLED


def test_first_run_on_a_dumb_terminal_asks_with_the_plain_prompt(paths: ShimmyPaths) -> None:
    terminal = answer(["--first-run"], "y\r", TERM="dumb")

    assert terminal.exit_code == 0
    assert decision(paths) is Decision.ENABLED
    assert read_ledger(paths)[-1]["source"] == "prompt"


def test_shimmy_onboard_on_a_dumb_terminal_falls_back_to_the_plain_prompt(
    paths: ShimmyPaths,
) -> None:
    terminal = answer([], "n\r", TERM="dumb")

    assert terminal.exit_code == 0
    assert decision(paths) is Decision.DISABLED


def test_first_run_with_a_decision_returns_at_once_without_a_word(paths: ShimmyPaths) -> None:
    answer(["--headless"], "n\r")
    terminal = Terminal(["--first-run"], terminal_env(TERM="xterm-256color"))
    terminal.finish()

    assert terminal.exit_code == 0
    assert terminal.output == b""


def test_first_run_on_a_real_terminal_opens_the_tui_and_y_enables(paths: ShimmyPaths) -> None:
    terminal = Terminal(
        ["--first-run"], terminal_env(TERM="xterm-256color", LANG="C.UTF-8"), size=(30, 100)
    )
    terminal.expect("Enable metrics")  # the button: the TUI is up
    terminal.type("y")
    terminal.expect("Metrics enabled")
    terminal.type("\r")  # Done
    terminal.finish()

    assert terminal.exit_code == 0
    assert decision(paths) is Decision.ENABLED
    assert read_ledger(paths)[-1]["source"] == "tui"


def test_answers_piped_to_headless_are_read_for_scripts(paths: ShimmyPaths) -> None:
    result = run_cli(["--headless"], input_text="n\n")

    assert result.returncode == 0
    assert decision(paths) is Decision.DISABLED


def test_without_a_terminal_nobody_is_asked(paths: ShimmyPaths) -> None:
    result = run_cli([], input_text="y\n")

    assert result.returncode == 0
    assert "no terminal to ask on" in result.stderr
    assert not paths.config_file.exists()


def test_parse_answer_accepts_the_designs_words_only() -> None:
    assert [parse_answer(word) for word in ("", "y", "YES", " n ", "No")] == [
        True,
        True,
        True,
        False,
        False,
    ]
    assert [parse_answer(word) for word in ("yep", "nope", "1", "q")] == [None] * 4


def test_emoji_are_printed_only_where_the_terminal_can_show_them() -> None:
    utf8 = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
    latin1 = io.TextIOWrapper(io.BytesIO(), encoding="latin-1")
    assert can_print_emoji(utf8, {"LANG": "en_US.UTF-8", "TERM": "xterm"})
    assert not can_print_emoji(latin1, {"LANG": "en_US.UTF-8", "TERM": "xterm"})
    assert not can_print_emoji(utf8, {"LC_ALL": "C", "LANG": "en_US.UTF-8"})
    assert can_print_emoji(utf8, {"LC_ALL": "C.UTF-8", "TERM": "xterm"})
    # Python sets LC_CTYPE=C.UTF-8 itself under a C locale; the terminal is still plain.
    assert not can_print_emoji(utf8, {"LANG": "POSIX", "LC_CTYPE": "C.UTF-8"})
    assert not can_print_emoji(utf8, {"LANG": "en_US.UTF-8", "TERM": "dumb"})


@pytest.mark.parametrize(
    ("term", "stdin_tty", "stdout_tty", "can_run"),
    [
        ("xterm-256color", True, True, True),
        ("", True, True, False),
        ("dumb", True, True, False),
        ("unknown", True, True, False),
        ("xterm-256color", False, True, False),
        ("xterm-256color", True, False, False),
    ],
)
def test_the_tui_runs_only_on_a_capable_terminal(
    term: str, stdin_tty: bool, stdout_tty: bool, can_run: bool
) -> None:
    reason = tui_unavailable({"TERM": term}, stdin_tty, stdout_tty, platform="linux")
    assert (reason is None) is can_run


def test_windows_consoles_run_the_tui_without_term() -> None:
    assert tui_unavailable({}, True, True, platform="win32") is None


def test_no_answer_leaves_an_earlier_decision_standing(paths: ShimmyPaths) -> None:
    answer(["--headless"], "y\r")
    terminal = answer(["--headless"], CTRL_D)

    assert "your earlier decision stands" in terminal.text
    assert decision(paths) is Decision.ENABLED


@pytest.mark.parametrize(
    ("answer_keys", "hint", "not_hint"),
    [("n\n", "--metrics enable", "--metrics disable"), ("y\n", "--metrics disable", None)],
    ids=["after-no", "after-yes"],
)
def test_the_change_hint_names_the_opposite_of_the_answer(
    paths: ShimmyPaths, answer_keys: str, hint: str, not_hint: str | None
) -> None:
    result = run_cli(["--headless"], input_text=answer_keys)

    [line] = [line for line in result.stdout.splitlines() if line.startswith("Change it")]
    assert line == f"Change it any time: shimmy config {hint}, or run shimmy-onboard again."
    assert not_hint is None or not_hint not in result.stdout


OVERRIDES = [
    ("DO_NOT_TRACK", "1"),
    ("SHIMMY_NO_METRICS", "yes"),
    ("CI", "true"),
]


@pytest.mark.parametrize(("variable", "value"), OVERRIDES, ids=[name for name, _ in OVERRIDES])
def test_under_an_override_headless_asks_nobody_and_records_nothing(
    paths: ShimmyPaths, variable: str, value: str
) -> None:
    result = run_cli(["--headless"], env={variable: value}, input_text="y\n")

    assert result.returncode == 0
    assert QUESTION not in result.stdout
    assert result.stderr == (
        f"shimmy-onboard: {variable} is set, so nobody is asked. "
        "To record a choice anyway: shimmy config --metrics enable|disable.\n"
    )
    assert not paths.config_file.exists()
    assert read_ledger(paths) == []


@pytest.mark.parametrize(("variable", "value"), OVERRIDES, ids=[name for name, _ in OVERRIDES])
def test_under_an_override_the_tui_does_not_open_on_a_real_terminal(
    paths: ShimmyPaths, variable: str, value: str
) -> None:
    terminal = Terminal([], terminal_env(TERM="xterm-256color", **{variable: value}))
    terminal.finish()  # no key pressed: it must end by itself

    assert terminal.exit_code == 0
    assert f"{variable} is set, so nobody is asked." in terminal.text
    assert "Enable metrics" not in terminal.text
    assert not paths.config_file.exists()


def test_with_a_decision_recorded_an_override_still_lets_the_settings_open(
    paths: ShimmyPaths,
) -> None:
    run_cli(["config", "--metrics", "enable"])
    terminal = Terminal([], terminal_env(TERM="xterm-256color", DO_NOT_TRACK="1"), size=(30, 100))
    terminal.expect("DO_NOT_TRACK wins over the switch")  # the settings screen says so
    terminal.type("q")
    terminal.finish()

    assert terminal.exit_code == 0
    assert decision(paths) is Decision.ENABLED


def test_ctrl_c_in_the_tui_records_nothing_and_exits_130(paths: ShimmyPaths) -> None:
    terminal = Terminal([], terminal_env(TERM="xterm-256color"), size=(30, 100))
    terminal.expect("Enable metrics")  # the TUI is up
    terminal.type(CTRL_C)
    terminal.finish()

    assert terminal.exit_code == 130
    assert "Traceback" not in terminal.text
    assert not paths.config_file.exists()


def test_the_prompt_warns_when_the_consent_ledger_cannot_be_written(paths: ShimmyPaths) -> None:
    paths.metrics_dir.parent.mkdir(parents=True, exist_ok=True)
    paths.metrics_dir.write_text("a file where the metrics folder should be")

    result = run_cli(["--headless"], input_text="y\n")

    assert result.returncode == 0
    assert "Warning: cannot write the consent ledger" in result.stderr
    assert "Your decision was saved in the config" in result.stderr
    assert decision(paths) is Decision.ENABLED


def test_the_prompt_says_where_an_unusable_config_was_kept(paths: ShimmyPaths) -> None:
    paths.config_dir.mkdir(parents=True)
    paths.config_file.write_text("[1, 2")

    result = run_cli(["--headless"], input_text="n\n")

    [kept] = paths.config_dir.glob("config.json.corrupt-*")
    assert f"kept as {kept}" in result.stderr
    assert decision(paths) is Decision.DISABLED


@pytest.mark.parametrize(
    ("redirections", "message"),
    [
        ("<&-", True),
        (">&-", True),
        ("<&- >&-", True),
        ("<&- >&- 2>&-", False),
    ],
    ids=["stdin-closed", "stdout-closed", "both-closed", "all-three-closed"],
)
@pytest.mark.parametrize("mode", [["--headless"], []], ids=["headless", "bare"])
def test_closed_standard_streams_ask_nobody_and_never_crash(
    paths: ShimmyPaths, redirections: str, message: bool, mode: list[str]
) -> None:
    import shlex
    import subprocess

    command = " ".join([shlex.quote(sys.executable), "-m", "shimmy_onboard", *mode, redirections])
    # The shell closes the descriptors: DEVNULL would be an open (if empty) stream.
    result = subprocess.run(
        ["sh", "-c", f"exec {command}"], capture_output=True, text=True, timeout=30
    )

    assert result.returncode == 0
    assert "Traceback" not in result.stderr and "Error" not in result.stderr
    if message:
        assert result.stderr.count("\n") == 1
        assert "nothing was asked or recorded" in result.stderr
    assert not paths.config_file.exists()


def test_a_redirected_stdout_hides_no_question_from_the_person_who_must_answer(
    paths: ShimmyPaths,
) -> None:
    primary, secondary = os.openpty()
    try:
        result = subprocess.run(
            [sys.executable, "-m", "shimmy_onboard"],
            stdin=secondary,
            capture_output=True,
            text=True,
            timeout=30,
            env={**os.environ, "TERM": "xterm-256color"},
        )
    finally:
        os.close(primary)
        os.close(secondary)

    assert result.returncode == 0
    assert result.stdout == ""  # no question written where nobody can see it
    assert "nothing was asked or recorded" in result.stderr
    assert not paths.config_file.exists()
