"""Where things live: DESIGN.md's table, and agreement with platformdirs."""

from __future__ import annotations

from pathlib import Path

import platformdirs
import pytest

from shimmy_onboard.paths import resolve_paths


def test_the_override_holds_config_and_metrics() -> None:
    paths = resolve_paths({"SHIMMY_CONFIG_DIR": "/srv/shimmy"}, "linux")

    assert paths.config_file == Path("/srv/shimmy/config.json")
    assert paths.ledger_file == Path("/srv/shimmy/metrics/consent.jsonl")
    assert paths.queue_file == Path("/srv/shimmy/metrics/queue.json")


def test_linux_uses_the_xdg_dirs() -> None:
    env = {"HOME": "/home/ada", "XDG_CONFIG_HOME": "/cfg", "XDG_STATE_HOME": "/state"}

    paths = resolve_paths(env, "linux")

    assert paths.config_file == Path("/cfg/shimmy/config.json")
    assert paths.metrics_dir == Path("/state/shimmy/metrics")


def test_a_relative_xdg_dir_is_ignored_as_the_xdg_spec_says() -> None:
    env = {"HOME": "/home/ada", "XDG_CONFIG_HOME": "relative/x", "XDG_STATE_HOME": "st"}

    paths = resolve_paths(env, "linux")

    assert paths.config_file == Path("/home/ada/.config/shimmy/config.json")
    assert paths.metrics_dir == Path("/home/ada/.local/state/shimmy/metrics")


@pytest.mark.parametrize("system", ["linux", "darwin"])
def test_without_xdg_the_config_is_in_dot_config_as_the_spec_says(system: str) -> None:
    paths = resolve_paths({"HOME": "/home/ada", "XDG_CONFIG_HOME": "  "}, system)

    assert paths.config_file == Path("/home/ada/.config/shimmy/config.json")


def test_macos_reads_the_legacy_file_from_application_support() -> None:
    paths = resolve_paths({"HOME": "/Users/ada"}, "darwin")

    assert paths.legacy_config_file == Path(
        "/Users/ada/Library/Application Support/shimmy/config.json"
    )


def test_linux_paths_agree_with_platformdirs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", "/home/ada")
    for variable in ("XDG_CONFIG_HOME", "XDG_STATE_HOME"):
        monkeypatch.delenv(variable, raising=False)
    ours = resolve_paths({"HOME": "/home/ada"}, "linux")

    assert ours.config_dir == Path(platformdirs.user_config_dir("shimmy", appauthor=False))
    assert ours.state_dir == Path(platformdirs.user_state_dir("shimmy", appauthor=False))
