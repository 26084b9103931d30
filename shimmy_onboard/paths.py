"""Where every file lives: the one paths module.

DESIGN.md, "Where things live":

- config: ``$SHIMMY_CONFIG_DIR``, else ``$XDG_CONFIG_HOME/shimmy`` or ``~/.config/shimmy`` on
  Linux and macOS (the spec says ``~/.config`` on macOS too), ``%APPDATA%\\shimmy`` on Windows.
- queue, sent log, consent ledger: ``metrics/`` under the user state dir for ``shimmy``,
  or ``$SHIMMY_CONFIG_DIR/metrics`` when that override is set.

On Linux and macOS the directories are computed here with the same rules platformdirs
applies, because importing platformdirs costs more than the whole ``--first-run`` budget;
``tests/test_paths.py`` checks that the two agree. Windows asks platformdirs itself.

For the same reason this module imports neither pathlib nor dataclasses at import time:
the fast paths use the ``*_path`` strings; everything else gets ``pathlib.Path`` objects.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

APP_NAME = "shimmy"
CONFIG_FILE_NAME = "config.json"


def _as_path(location: str) -> Path:
    from pathlib import Path

    return Path(location)


class ShimmyPaths:
    """The directories of one user; the file names are fixed below."""

    __slots__ = ("config_dir_path", "legacy_config_path", "state_dir_path")

    def __init__(
        self,
        config_dir: str | os.PathLike[str],
        state_dir: str | os.PathLike[str],
        legacy_config_file: str | os.PathLike[str] | None = None,
    ) -> None:
        self.config_dir_path = os.fspath(config_dir)
        self.state_dir_path = os.fspath(state_dir)
        #: Where Shimmy's Rust code wrote its flat config, when that differs from config.json.
        self.legacy_config_path = (
            None if legacy_config_file is None else os.fspath(legacy_config_file)
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ShimmyPaths):
            return NotImplemented
        return (self.config_dir_path, self.state_dir_path, self.legacy_config_path) == (
            other.config_dir_path,
            other.state_dir_path,
            other.legacy_config_path,
        )

    def __hash__(self) -> int:
        return hash((self.config_dir_path, self.state_dir_path, self.legacy_config_path))

    def __repr__(self) -> str:
        return f"ShimmyPaths({self.config_dir_path!r}, {self.state_dir_path!r})"

    # Strings, for the paths that run at every Shimmy start.
    @property
    def config_file_path(self) -> str:
        return os.path.join(self.config_dir_path, CONFIG_FILE_NAME)

    @property
    def ledger_file_path(self) -> str:
        return os.path.join(self.state_dir_path, "metrics", "consent.jsonl")

    # pathlib objects, for everything else.
    @property
    def config_dir(self) -> Path:
        return _as_path(self.config_dir_path)

    @property
    def state_dir(self) -> Path:
        return _as_path(self.state_dir_path)

    @property
    def legacy_config_file(self) -> Path | None:
        return None if self.legacy_config_path is None else _as_path(self.legacy_config_path)

    @property
    def config_file(self) -> Path:
        return _as_path(self.config_file_path)

    @property
    def lock_file(self) -> Path:
        # A separate file, so the lock survives the atomic replace of config.json.
        return self.config_dir / ".config.json.lock"

    @property
    def metrics_dir(self) -> Path:
        return self.state_dir / "metrics"

    @property
    def ledger_file(self) -> Path:
        return _as_path(self.ledger_file_path)

    @property
    def queue_file(self) -> Path:
        return self.metrics_dir / "queue.json"

    @property
    def sent_log_file(self) -> Path:
        return self.metrics_dir / "sent.jsonl"


def _xdg(env: Mapping[str, str], name: str, fallback: str) -> str:
    # Empty, white space or a relative path: the XDG spec says such a value is ignored.
    value = env.get(name, "").strip()
    return value if value and os.path.isabs(value) else fallback


def _home(env: Mapping[str, str]) -> str:
    home = env.get("HOME", "").strip()
    return home if home else os.path.expanduser("~")


def resolve_paths(
    env: Mapping[str, str] | None = None, system: str | None = None
) -> ShimmyPaths:
    """The paths for this user, given the environment and ``sys.platform``."""
    env = os.environ if env is None else env
    system = sys.platform if system is None else system

    override = env.get("SHIMMY_CONFIG_DIR", "").strip()
    if override:
        root = os.path.expanduser(override)
        return ShimmyPaths(config_dir=root, state_dir=root)

    if system == "win32":
        return _windows_paths()

    home = _home(env)
    config_dir = os.path.join(_xdg(env, "XDG_CONFIG_HOME", os.path.join(home, ".config")), APP_NAME)
    if system == "darwin":
        app_support = os.path.join(home, "Library", "Application Support", APP_NAME)
        return ShimmyPaths(
            config_dir=config_dir,
            state_dir=app_support,
            legacy_config_file=os.path.join(app_support, CONFIG_FILE_NAME),
        )
    state_home = _xdg(env, "XDG_STATE_HOME", os.path.join(home, ".local", "state"))
    return ShimmyPaths(config_dir=config_dir, state_dir=os.path.join(state_home, APP_NAME))


def _windows_paths() -> ShimmyPaths:
    import platformdirs

    return ShimmyPaths(
        config_dir=platformdirs.user_config_dir(APP_NAME, appauthor=False, roaming=True),
        state_dir=platformdirs.user_state_dir(APP_NAME, appauthor=False),
    )
