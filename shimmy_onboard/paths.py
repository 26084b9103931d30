"""Where every file lives: the one paths module.

DESIGN.md, "Where things live":

- config: ``$SHIMMY_CONFIG_DIR``, else ``$XDG_CONFIG_HOME/shimmy`` or ``~/.config/shimmy`` on
  Linux and macOS (the spec says ``~/.config`` on macOS too), ``%APPDATA%\\shimmy`` on Windows.
- queue, sent log, consent ledger: ``metrics/`` under the user state dir for ``shimmy``,
  or ``$SHIMMY_CONFIG_DIR/metrics`` when that override is set.

On Linux and macOS the directories are computed here with the same rules platformdirs
applies, because importing platformdirs costs more than the whole ``--first-run`` budget;
``tests/test_paths.py`` checks that the two agree. Windows asks platformdirs itself.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

APP_NAME = "shimmy"
CONFIG_FILE_NAME = "config.json"


@dataclass(frozen=True)
class ShimmyPaths:
    config_dir: Path
    state_dir: Path
    #: Where Shimmy's Rust code wrote its flat config, when that differs from ``config_file``.
    legacy_config_file: Path | None = None

    @property
    def config_file(self) -> Path:
        return self.config_dir / CONFIG_FILE_NAME

    @property
    def lock_file(self) -> Path:
        # A separate file, so the lock survives the atomic replace of config.json.
        return self.config_dir / ".config.json.lock"

    @property
    def metrics_dir(self) -> Path:
        return self.state_dir / "metrics"

    @property
    def ledger_file(self) -> Path:
        return self.metrics_dir / "consent.jsonl"

    @property
    def queue_file(self) -> Path:
        return self.metrics_dir / "queue.json"

    @property
    def sent_log_file(self) -> Path:
        return self.metrics_dir / "sent.jsonl"


def _xdg(env: Mapping[str, str], name: str, fallback: Path) -> Path:
    # platformdirs ignores an XDG variable that is empty or only white space.
    value = env.get(name, "").strip()
    return Path(value) if value else fallback


def _home(env: Mapping[str, str]) -> Path:
    home = env.get("HOME", "").strip()
    return Path(home) if home else Path.home()


def resolve_paths(
    env: Mapping[str, str] | None = None, system: str | None = None
) -> ShimmyPaths:
    """The paths for this user, given the environment and ``sys.platform``."""
    env = os.environ if env is None else env
    system = sys.platform if system is None else system

    override = env.get("SHIMMY_CONFIG_DIR", "").strip()
    if override:
        root = Path(override).expanduser()
        return ShimmyPaths(config_dir=root, state_dir=root)

    if system == "win32":
        return _windows_paths()

    home = _home(env)
    config_dir = _xdg(env, "XDG_CONFIG_HOME", home / ".config") / APP_NAME
    if system == "darwin":
        app_support = home / "Library" / "Application Support" / APP_NAME
        return ShimmyPaths(
            config_dir=config_dir,
            state_dir=app_support,
            legacy_config_file=app_support / CONFIG_FILE_NAME,
        )
    state_dir = _xdg(env, "XDG_STATE_HOME", home / ".local" / "state") / APP_NAME
    return ShimmyPaths(config_dir=config_dir, state_dir=state_dir)


def _windows_paths() -> ShimmyPaths:
    import platformdirs

    return ShimmyPaths(
        config_dir=Path(platformdirs.user_config_dir(APP_NAME, appauthor=False, roaming=True)),
        state_dir=Path(platformdirs.user_state_dir(APP_NAME, appauthor=False)),
    )
