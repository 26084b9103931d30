"""Shared fixtures: every test runs against its own config dir and a clean environment."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

from shimmy_onboard.paths import ShimmyPaths, resolve_paths

# Variables that change what the product does; no test may inherit them from the machine.
PRODUCT_VARIABLES = (
    "DO_NOT_TRACK",
    "SHIMMY_NO_METRICS",
    "CI",
    "SHIMMY_METRICS_ENDPOINT",
    "SHIMMY_METRICS_DEBUG",
    "SHIMMY_VERSION",
    "XDG_CONFIG_HOME",
    "XDG_STATE_HOME",
    "KUBERNETES_SERVICE_HOST",
)


@pytest.fixture(autouse=True)
def isolated_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh SHIMMY_CONFIG_DIR for every test, and none of the product's variables set."""
    for name in PRODUCT_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    config_dir = tmp_path / "shimmy-config"
    monkeypatch.setenv("SHIMMY_CONFIG_DIR", str(config_dir))
    return config_dir


@pytest.fixture
def paths(isolated_config: Path) -> ShimmyPaths:
    return resolve_paths()


def run_cli(
    arguments: Sequence[str],
    env: dict[str, str] | None = None,
    input_text: str | None = None,
    timeout: float = 60,
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m shimmy_onboard`` as a real process, with the test's environment."""
    return subprocess.run(
        [sys.executable, "-m", "shimmy_onboard", *arguments],
        env={**os.environ, **(env or {})},
        input=input_text,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=None if input_text is not None else subprocess.DEVNULL,
    )
