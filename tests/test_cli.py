"""The command line as a user meets it: real processes, exit codes, stdout and stderr."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from shimmy_onboard import __version__
from shimmy_onboard.paths import ShimmyPaths
from tests.conftest import run_cli


def test_help_names_every_command() -> None:
    result = run_cli(["--help"])

    assert result.returncode == 0
    for word in ("config", "send", "--first-run", "--headless"):
        assert word in result.stdout


def test_version_prints_the_package_version() -> None:
    result = run_cli(["--version"])

    assert result.returncode == 0
    assert result.stdout.strip() == f"shimmy-onboard {__version__}"


@pytest.mark.parametrize(
    "arguments",
    [
        ["--bogus"],
        ["config"],
        ["config", "--metrics"],
        ["config", "--metrics", "maybe"],
        ["config", "--metrics", "enable", "--json"],
        ["config", "--metrics", "status", "--file", "x.json"],
        ["send", "--nope"],
        ["frobnicate"],
        ["--first-run", "--headless"],
    ],
)
def test_a_usage_error_exits_2_with_a_message_and_no_traceback(arguments: list[str]) -> None:
    result = run_cli(arguments)

    assert result.returncode == 2
    assert "error:" in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_enable_then_status_says_enabled_since_when(paths: ShimmyPaths) -> None:
    enable = run_cli(["config", "--metrics", "enable"])
    status = run_cli(["config", "--metrics", "status"])

    assert enable.returncode == 0
    assert "Metrics enabled" in enable.stderr
    assert enable.stdout == ""
    assert status.stdout.startswith("Metrics: enabled")
    assert "since 20" in status.stdout
    assert str(paths.config_file) in status.stdout


def test_status_json_is_machine_readable_on_stdout(paths: ShimmyPaths) -> None:
    run_cli(["config", "--metrics", "disable"])

    result = run_cli(["config", "--metrics", "status", "--json"])

    document = json.loads(result.stdout)
    assert document["decision"] == "disabled"
    assert document["sending"] is False
    assert document["config_path"] == str(paths.config_file)
    assert document["last_change"]["to"] == "disabled"


@pytest.mark.parametrize("variable", ["DO_NOT_TRACK", "SHIMMY_NO_METRICS"])
def test_status_names_the_variable_that_wins(variable: str) -> None:
    run_cli(["config", "--metrics", "enable"])

    text = run_cli(["config", "--metrics", "status"], env={variable: "1"})
    document = json.loads(
        run_cli(["config", "--metrics", "status", "--json"], env={variable: "1"}).stdout
    )

    assert text.stdout.startswith("Metrics: disabled")
    assert f"Override:      {variable}" in text.stdout
    assert document["override"] == variable
    assert document["decision"] == "enabled"
    assert document["sending"] is False


def test_enabling_under_do_not_track_records_it_but_says_nothing_is_sent(
    paths: ShimmyPaths,
) -> None:
    result = run_cli(["config", "--metrics", "enable"], env={"DO_NOT_TRACK": "1"})

    assert result.returncode == 0
    assert result.stderr.startswith(
        "Metrics enabled: recorded.\nDO_NOT_TRACK is set, so nothing is sent while it is.\n"
    )
    assert "report is sent" not in result.stderr  # no promise that contradicts the variable
    assert json.loads(paths.config_file.read_text())["metrics"]["enabled"] is True


@pytest.mark.parametrize(("verb", "opposite"), [("enable", "disable"), ("disable", "enable")])
def test_enable_and_disable_say_how_to_undo_them(verb: str, opposite: str) -> None:
    result = run_cli(["config", "--metrics", verb])

    assert f"Change it any time: shimmy config --metrics {opposite}," in result.stderr


def test_enable_says_where_an_unusable_config_was_kept_and_warns_about_the_ledger(
    paths: ShimmyPaths,
) -> None:
    paths.config_dir.mkdir(parents=True)
    paths.config_file.write_text("{broken")
    paths.metrics_dir.write_text("a file where the metrics folder should be")

    result = run_cli(["config", "--metrics", "enable"])

    [kept] = paths.config_dir.glob("config.json.corrupt-*")
    assert result.returncode == 0
    assert f"shimmy-onboard: The old config could not be used, so it was kept as {kept}" in (
        result.stderr
    )
    assert "shimmy-onboard: Warning: cannot write the consent ledger" in result.stderr
    assert json.loads(paths.config_file.read_text())["metrics"]["enabled"] is True


@pytest.mark.parametrize(
    "env",
    [{"DO_NOT_TRACK": "1"}, {"SHIMMY_NO_METRICS": "1"}, {"CI": "true"}, {}],
    ids=["do-not-track", "shimmy-no-metrics", "ci", "no-terminal"],
)
def test_first_run_returns_at_once_when_nobody_can_be_asked(
    paths: ShimmyPaths, env: dict[str, str]
) -> None:
    result = run_cli(["--first-run"], env=env, timeout=10)

    assert result.returncode == 0
    assert result.stdout == ""
    assert not paths.config_dir.exists(), "nothing is recorded when nobody was asked"


def test_first_run_with_a_decision_recorded_is_silent(paths: ShimmyPaths) -> None:
    run_cli(["config", "--metrics", "disable"])
    before = paths.config_file.read_bytes()

    result = run_cli(["--first-run"], timeout=10)

    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    assert paths.config_file.read_bytes() == before


def shell(command: str, **env: str) -> subprocess.CompletedProcess[str]:
    """A command line through ``sh``, for redirections a Python pipe cannot make."""
    program = f"{sys.executable} -m shimmy_onboard"
    return subprocess.run(
        ["sh", "-c", command.replace("PROGRAM", program)],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_send_exits_0_even_when_stderr_cannot_be_written() -> None:
    run_cli(["config", "--metrics", "enable"])

    result = shell("PROGRAM send 2>/dev/full", SHIMMY_METRICS_ENDPOINT="ftp://127.0.0.1/")

    assert result.returncode == 0


@pytest.mark.parametrize(
    ("redirect", "message"),
    [(">&-", "standard output is closed"), (">/dev/full", "cannot write the output")],
)
def test_an_answer_that_cannot_be_written_is_reported_not_a_traceback(
    redirect: str, message: str
) -> None:
    result = shell(f"PROGRAM config --metrics export {redirect}")

    assert result.returncode == 3
    assert message in result.stderr
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr


def test_a_path_the_terminal_cannot_print_is_shown_escaped(tmp_path: Path) -> None:
    config_dir = tmp_path / "café"

    result = run_cli(
        ["config", "--metrics", "status"],
        env={"SHIMMY_CONFIG_DIR": str(config_dir), "PYTHONIOENCODING": "ascii"},
    )

    assert result.returncode == 0
    assert "caf\\xe9" in result.stdout


def test_status_never_replays_terminal_escapes_planted_in_the_ledger(paths: ShimmyPaths) -> None:
    run_cli(["config", "--metrics", "enable"])
    planted = {"time": "\x1b[2J\x1b[31mPWNED", "from": "a", "to": "b", "source": "c"}
    with open(paths.ledger_file, "a") as ledger:
        ledger.write(json.dumps(planted) + "\n")

    result = run_cli(["config", "--metrics", "status"])

    assert "\x1b" not in result.stdout
    assert "\\x1b[2J" in result.stdout


@pytest.mark.parametrize(
    "arguments", [["send", "--ev", "events.jsonl"], ["config", "--met", "status"]]
)
def test_abbreviated_flags_are_usage_errors(arguments: list[str]) -> None:
    assert run_cli(arguments).returncode == 2
