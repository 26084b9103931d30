"""A named pipe or a device planted where one of our files should be never hangs a command."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from shimmy_onboard.consent import record_decision
from shimmy_onboard.paths import ShimmyPaths
from shimmy_onboard.vocab import ConsentSource
from tests.conftest import run_cli

COMMANDS = [
    ["config", "--metrics", "preview"],
    ["config", "--metrics", "export"],
    ["config", "--metrics", "validate"],
    ["config", "--metrics", "status"],
    ["send"],
]


@pytest.mark.parametrize("file_name", ["queue.json", "sent.jsonl"])
@pytest.mark.parametrize("arguments", COMMANDS, ids=lambda a: " ".join(a))
def test_a_named_pipe_in_the_metrics_folder_never_hangs_a_command(
    paths: ShimmyPaths, file_name: str, arguments: list[str]
) -> None:
    record_decision(paths, enable=True, source=ConsentSource.CLI)
    os.mkfifo(paths.metrics_dir / file_name)

    # A closed port: send fails fast and keeps what it could queue.
    result = run_cli(arguments, env={"SHIMMY_METRICS_ENDPOINT": "http://127.0.0.1:9/"}, timeout=15)

    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("kind", ["fifo", "device"])
def test_validating_a_named_pipe_or_a_device_is_a_usage_error(tmp_path: Path, kind: str) -> None:
    target = tmp_path / "body.json"
    if kind == "fifo":
        os.mkfifo(target)
    else:
        target = Path("/dev/zero")

    result = run_cli(["config", "--metrics", "validate", "--file", str(target)], timeout=15)

    assert result.returncode == 2
    assert "not a regular file" in result.stderr
