"""The paths Shimmy runs at every start and stop import nothing heavy.

As harlequin does: run the path in a fresh interpreter and look at ``sys.modules``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = ("textual", "pydantic", "httpx", "psutil", "rich", "platformdirs")

PROBE = """
import json, sys
from shimmy_onboard.cli import main
code = main(json.loads(sys.argv[1]))
loaded = sorted({name.split(".")[0] for name in sys.modules} & set(json.loads(sys.argv[2])))
with open(sys.argv[3], "w") as report:
    json.dump({"code": code, "heavy": loaded}, report)
"""


def loaded_heavy_modules(
    arguments: list[str], config_dir: Path, on_a_terminal: bool = False, **env: str
) -> list[str]:
    """Run the CLI with ``arguments`` in a fresh interpreter; the heavy modules it loaded.

    ``on_a_terminal`` gives it a real pseudo-terminal, as Shimmy started by hand has:
    without one, ``--first-run`` returns before it even reads the config.
    """
    report_file = config_dir.parent / "hygiene-report.json"
    primary, secondary = os.openpty() if on_a_terminal else (None, None)
    try:
        result = subprocess.run(
            [sys.executable, "-c", PROBE, json.dumps(arguments), json.dumps(HEAVY), report_file],
            env={**os.environ, "SHIMMY_CONFIG_DIR": str(config_dir), **env},
            stdin=secondary if on_a_terminal else subprocess.DEVNULL,
            stdout=secondary if on_a_terminal else subprocess.PIPE,
            stderr=subprocess.PIPE,
            timeout=30,
        )
    finally:
        for descriptor in (primary, secondary):
            if descriptor is not None:
                os.close(descriptor)
    assert result.returncode == 0, result.stderr
    assert b"internal error" not in result.stderr, result.stderr
    report = json.loads(report_file.read_text())
    heavy: list[str] = report["heavy"]
    return heavy


def write_decision(config_dir: Path, enabled: bool) -> None:
    config_dir.mkdir(parents=True, exist_ok=True)
    metrics = {
        "enabled": enabled,
        "session_id": "550e8400-e29b-41d4-a716-446655440000",
        "last_updated": "2025-01-15T10:30:00Z",
        "consent_version": 1,
    }
    (config_dir / "config.json").write_text(json.dumps({"metrics": metrics}))


@pytest.mark.parametrize(
    "arguments",
    [
        ["--first-run"],
        ["config", "--metrics", "status"],
        ["config", "--metrics", "status", "--json"],
        ["send"],
        ["send", "--events", "/nonexistent/events.jsonl", "--shimmy-version", "1.3.2"],
    ],
)
@pytest.mark.parametrize("decision", ["undecided", "disabled", "enabled-but-do-not-track"])
def test_the_fast_paths_import_nothing_heavy(
    isolated_config: Path, arguments: list[str], decision: str
) -> None:
    env = {}
    if decision != "undecided":
        write_decision(isolated_config, enabled=decision.startswith("enabled"))
    if decision == "enabled-but-do-not-track":
        env["DO_NOT_TRACK"] = "1"

    assert loaded_heavy_modules(arguments, isolated_config, **env) == []


@pytest.mark.parametrize("enabled", [True, False])
def test_first_run_on_a_terminal_with_a_decision_imports_nothing_heavy(
    isolated_config: Path, enabled: bool
) -> None:
    write_decision(isolated_config, enabled=enabled)

    assert loaded_heavy_modules(["--first-run"], isolated_config, on_a_terminal=True) == []
    assert loaded_heavy_modules(["config", "--metrics", "status"], isolated_config, True) == []


def test_core_modules_never_import_textual() -> None:
    package = Path(__file__).resolve().parent.parent / "shimmy_onboard"
    offenders = [
        str(path.relative_to(package))
        for path in package.rglob("*.py")
        if "tui" not in path.relative_to(package).parts
        and ("import textual" in path.read_text() or "from textual" in path.read_text())
    ]

    assert offenders == []
