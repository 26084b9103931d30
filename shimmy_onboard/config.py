"""The config store: ``config.json``, read without ever failing, written atomically.

The file is shared with Shimmy, which owns every key but ``metrics``: every write keeps
them. Reading never raises; a file that cannot be used comes back with a ``problem``
that read-only commands report while treating metrics as disabled. A write re-reads the
file under a lock, keeps an unusable file as ``config.json.corrupt-<UTC stamp>``, and
replaces the file atomically (temp file in the same folder, fsync, replace), so a crash
or a concurrent writer never leaves a torn file.

Only ``json`` and ``os`` here: ``--first-run`` and ``status`` read the config.
"""

from __future__ import annotations

import os
import sys

from shimmy_onboard.clock import file_stamp, system_clock

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime
    from pathlib import Path
    from typing import Any

    from shimmy_onboard.clock import Clock
    from shimmy_onboard.paths import ShimmyPaths

# The flat keys Shimmy's Rust code wrote at the top level before the nested form.
LEGACY_KEYS = ("enabled", "session_id", "last_updated")

# A config.json is a few hundred bytes; refuse to slurp a multi-gigabyte mistake.
MAX_CONFIG_BYTES = 4 * 1024 * 1024

_HEX_DIGITS = frozenset("0123456789abcdef")


class ConfigWriteError(Exception):
    """The config could not be written; the message says why, for stderr."""


def is_uuid4(text: object) -> bool:
    """A random UUID in its canonical lower-case form (``uuid.uuid4()``'s ``str``)."""
    if not isinstance(text, str) or len(text) != 36:
        return False
    groups = text.split("-")
    return (
        [len(group) for group in groups] == [8, 4, 4, 4, 12]
        and all(char in _HEX_DIGITS for group in groups for char in group)
        and groups[2][0] == "4"
        and groups[3][0] in "89ab"
    )


# Plain classes, not dataclasses: importing dataclasses costs more than --first-run may.
class MetricsSection:
    """The ``metrics`` section as this package understands it. Immutable by convention."""

    __slots__ = ("consent_version", "enabled", "last_updated", "session_id")

    def __init__(
        self,
        enabled: bool | None = None,  # None: no decision recorded
        session_id: str | None = None,
        last_updated: str | None = None,
        consent_version: int | None = None,
    ) -> None:
        self.enabled = enabled
        self.session_id = session_id
        self.last_updated = last_updated
        self.consent_version = consent_version

    def _key(self) -> tuple[bool | None, str | None, str | None, int | None]:
        return (self.enabled, self.session_id, self.last_updated, self.consent_version)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, MetricsSection):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        enabled, session_id, last_updated, version = self._key()
        return (
            f"MetricsSection(enabled={enabled!r}, session_id={session_id!r}, "
            f"last_updated={last_updated!r}, consent_version={version!r})"
        )

    def as_json(self) -> dict[str, Any]:
        fields: dict[str, Any] = {
            "enabled": self.enabled,
            "session_id": self.session_id,
            "last_updated": self.last_updated,
            "consent_version": self.consent_version,
        }
        return {key: value for key, value in fields.items() if value is not None}


class ConfigSnapshot:
    """What is on disk now. ``problem`` is set when the file exists but cannot be used."""

    __slots__ = ("document", "exists", "legacy", "metrics", "path", "problem")

    def __init__(
        self,
        path: str,
        exists: bool = False,
        document: dict[str, Any] | None = None,
        metrics: MetricsSection | None = None,
        problem: str | None = None,
        legacy: bool = False,
    ) -> None:
        self.path = path
        self.exists = exists
        self.document = document
        self.metrics = MetricsSection() if metrics is None else metrics
        self.problem = problem
        self.legacy = legacy


def read_config(paths: ShimmyPaths) -> ConfigSnapshot:
    """Read the config; never raises."""
    path = paths.config_file_path
    legacy = paths.legacy_config_path
    if legacy is not None and not _exists(path) and _exists(legacy):
        snapshot = _read_file(legacy)
        snapshot.path = path  # it will be written at the new place
        return snapshot
    return _read_file(path)


def _exists(path: str) -> bool:
    try:
        return os.path.lexists(path)
    except (OSError, ValueError):
        return False


class NotARegularFile(OSError):
    """A directory, FIFO, device or socket where a file of ours should be."""


def open_regular_file(
    path: str | os.PathLike[str], flags: int = os.O_RDONLY, mode: int = 0o600
) -> int:
    """``os.open`` for our own files, refusing anything but a regular file.

    O_NONBLOCK so that a FIFO planted where a file should be cannot block the open
    (reading one would wait for a writer forever: ``--first-run`` would hang Shimmy);
    the type is checked on the open descriptor, so nothing can be swapped in between.
    """
    descriptor = os.open(path, flags | os.O_NONBLOCK, mode)
    try:
        mode = os.fstat(descriptor).st_mode
        kind = _file_kind(mode)
        if kind is not None:
            import errno

            reason = f"it is not a regular file: it is {kind}"
            raise NotARegularFile(errno.EINVAL, reason, os.fspath(path))
        if hasattr(os, "set_blocking"):
            os.set_blocking(descriptor, True)
    except BaseException:
        os.close(descriptor)
        raise
    return descriptor


def _file_kind(mode: int) -> str | None:
    import stat

    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a named pipe"
    return "a device or socket"


def _read_file(path: str) -> ConfigSnapshot:
    try:
        with os.fdopen(open_regular_file(path), "rb") as handle:
            raw = handle.read(MAX_CONFIG_BYTES + 1)
    except FileNotFoundError:
        return ConfigSnapshot(path=path)
    except NotARegularFile as error:
        return ConfigSnapshot(path=path, exists=True, problem=error.strerror)
    except OSError as error:
        unreadable = f"it cannot be read ({os_error_reason(error)})"
        return ConfigSnapshot(path=path, exists=True, problem=unreadable)
    if len(raw) > MAX_CONFIG_BYTES:
        return ConfigSnapshot(path=path, exists=True, problem="it is larger than 4 MiB")
    document, problem = _parse_document(raw)
    if document is None:
        return ConfigSnapshot(path=path, exists=True, problem=problem)
    metrics, legacy, problem = _parse_metrics(document)
    return ConfigSnapshot(
        path=path, exists=True, document=document, metrics=metrics, problem=problem, legacy=legacy
    )


def _parse_document(raw: bytes) -> tuple[dict[str, Any] | None, str | None]:
    if not raw.strip():
        return None, "it is empty"
    try:
        # utf-8-sig: a byte-order mark (Notepad writes one) is not an error.
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        return None, f"it is not UTF-8 text (bad byte at offset {error.start})"
    try:
        document = parse_json(text)
    except RecursionError:
        return None, "it is nested too deeply to be a config"
    except ValueError as error:
        return None, f"it is not valid JSON ({error})"
    if not isinstance(document, dict):
        return None, f"its top level is a JSON {_json_type(document)}, not an object"
    return document, None


_INFINITY = float("inf")


def _finite_float(text: str) -> float:
    # 1e999 is JSON, but Python reads it as infinity and would write it back as
    # Infinity, which is not: strict readers (Shimmy's own) would reject the file.
    value = float(text)
    if value in (_INFINITY, -_INFINITY):
        raise ValueError(f"the number {text[:20]} is too large to keep exactly")
    return value


def _no_constant(name: str) -> float:
    raise ValueError(f"{name} is not JSON")


class _StrictJsonContext:
    """What CPython's C JSON scanner reads from a decoder: ``json.loads``'s own defaults."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = staticmethod(_finite_float)
    parse_int = int
    parse_constant = staticmethod(_no_constant)
    memo: dict[str, str] = {}  # noqa: RUF012 - the scanner's own cache, as in json.JSONDecoder


def parse_json(text: str) -> Any:
    """``json.loads`` for one document; raises ValueError (or RecursionError) as it does.

    Importing ``json`` (and the ``re`` it needs) costs ten milliseconds here, more than
    ``--first-run`` may spend in all, so a well-formed document goes through CPython's C
    scanner directly, which ``json.loads`` itself uses and which costs nothing to import.
    Anything else is handed to ``json.loads``: the scanner's own errors need
    ``json.decoder`` loaded (on 3.10 and 3.11 it fails with a SystemError otherwise), and
    ``json.loads`` says best what is wrong. A broken file may pay for the import.
    """
    try:
        return _scan_well_formed(text)
    except RecursionError:
        raise
    except Exception:
        pass
    import json

    try:
        return json.loads(text, parse_float=_finite_float, parse_constant=_no_constant)
    except json.JSONDecodeError as error:
        message = error.msg[:1].lower() + error.msg[1:]
        raise ValueError(f"{message}, {_position(text, error.pos)}") from None


def _scan_well_formed(text: str) -> Any:
    from _json import make_scanner

    start = len(text) - len(text.lstrip(" \t\n\r"))
    scan = make_scanner(_StrictJsonContext())  # type: ignore[arg-type]  # a duck-typed context
    value, end = scan(text, start)
    if text[end:].strip(" \t\n\r"):
        raise ValueError("extra data")
    return value


def _position(text: str, index: int) -> str:
    line = text.count("\n", 0, index) + 1
    column = index - text.rfind("\n", 0, index)
    return f"line {line}, column {column}"


def _parse_metrics(document: dict[str, Any]) -> tuple[MetricsSection, bool, str | None]:
    if "metrics" not in document and any(key in document for key in LEGACY_KEYS):
        return _parse_legacy(document)
    section = document.get("metrics")
    if section is None:
        return MetricsSection(), False, None
    if not isinstance(section, dict):
        return MetricsSection(), False, f'"metrics" is a JSON {_json_type(section)}, not an object'
    return _parse_section(section, consent_when_enabled=None)


def _parse_legacy(document: dict[str, Any]) -> tuple[MetricsSection, bool, str | None]:
    metrics, _, problem = _parse_section(document, consent_when_enabled=1)
    if problem is None and metrics.enabled is False:
        # The Rust code wrote enabled: false without asking anybody: that is no decision.
        metrics = MetricsSection(None, metrics.session_id, metrics.last_updated, None)
    return metrics, True, problem


def _parse_section(
    section: dict[str, Any], consent_when_enabled: int | None
) -> tuple[MetricsSection, bool, str | None]:
    enabled = section.get("enabled")
    session_id = section.get("session_id")
    last_updated = section.get("last_updated")
    version = section.get("consent_version", consent_when_enabled)
    problem = None
    if enabled is not None and not isinstance(enabled, bool):
        problem = '"enabled" must be true or false'
    elif session_id is not None and not is_uuid4(session_id):
        problem = '"session_id" is not a random UUID (version 4)'
    elif enabled is True and session_id is None:
        problem = 'metrics are enabled but there is no "session_id"'
    elif last_updated is not None and not isinstance(last_updated, str):
        problem = '"last_updated" must be a string'
    elif version is not None and (
        isinstance(version, bool) or not isinstance(version, int) or version < 1
    ):
        problem = '"consent_version" must be a whole number from 1'
    if problem is not None:
        return MetricsSection(), False, problem
    if enabled is not None and version is None:
        version = 1  # the spec's own file has no consent_version: it is schema version 1
    return MetricsSection(enabled, session_id, last_updated, version), False, None


def _json_type(value: object) -> str:
    names = {list: "array", str: "string", bool: "boolean", int: "number", float: "number"}
    return "null" if value is None else names.get(type(value), "value")


def os_error_reason(error: OSError) -> str:
    """What went wrong, in the OS's words (``Permission denied``), for a message."""
    return error.strerror or type(error).__name__


# --- writing ---------------------------------------------------------------------------


class WriteResult:
    __slots__ = ("backup", "before", "metrics")

    def __init__(self, before: ConfigSnapshot, metrics: MetricsSection, backup: Path | None):
        self.before = before
        self.metrics = metrics
        self.backup = backup  # where an unusable file was kept, if there was one


def update_metrics(
    paths: ShimmyPaths,
    change: Callable[[MetricsSection], MetricsSection],
    clock: Clock = system_clock,
) -> WriteResult:
    """Apply ``change`` to the metrics section and write the file; raises ConfigWriteError.

    Keys that Shimmy owns are kept; a legacy flat file is migrated to the nested form.
    """
    try:
        paths.config_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    except FileExistsError as error:
        raise ConfigWriteError(f"{paths.config_dir} is not a folder") from error
    except OSError as error:
        reason = os_error_reason(error)
        raise ConfigWriteError(f"cannot create {paths.config_dir}: {reason}") from error
    with _ConfigLock(paths):
        remove_abandoned_temp_files(paths.config_file)
        before = read_config(paths)
        backup = _keep_unusable(before, clock()) if before.problem else None
        metrics = change(before.metrics)
        _write_atomically(_write_target(paths, backup), _merged_document(before, metrics))
    return WriteResult(before=before, metrics=metrics, backup=backup)


def _write_target(paths: ShimmyPaths, backup: Path | None) -> Path:
    """Where the new config goes: through a symlink (dotfiles) to its target, if it has one.

    Replacing the link itself would leave the user's real file stale. An unusable file was
    moved aside (``backup``), link and all: then a plain file takes its place.
    """
    from pathlib import Path

    link = paths.config_file
    if backup is None and os.path.islink(link):
        return Path(os.path.realpath(link))
    return link


def _merged_document(before: ConfigSnapshot, metrics: MetricsSection) -> dict[str, Any]:
    document = dict(before.document or {})
    if before.legacy:
        for key in LEGACY_KEYS:
            document.pop(key, None)
    old_section = document.get("metrics")
    section = dict(old_section) if isinstance(old_section, dict) and not before.problem else {}
    for key in ("enabled", "session_id", "last_updated", "consent_version"):
        section.pop(key, None)
    # The spec's keys first, then anything a newer version may have added.
    document["metrics"] = {**metrics.as_json(), **section}
    return document


def _keep_unusable(before: ConfigSnapshot, now: datetime) -> Path | None:
    """Move an unusable config aside before it is replaced; returns where it went.

    A rename, not a copy: atomic, and whatever the file's size. Until the new file is
    written (under the same lock, a moment later) there is no config, which reads as
    undecided: the safe side.
    """
    from pathlib import Path

    path = Path(before.path)
    if not os.path.lexists(path):
        return None
    if os.path.isdir(path):
        raise ConfigWriteError(f"{path} is a directory, not a file; move it away and try again")
    target = _free_name(path.with_name(f"{path.name}.corrupt-{file_stamp(now)}"))
    try:
        os.rename(path, target)
    except OSError as error:
        raise ConfigWriteError(
            f"{path} is unusable and could not be kept aside ({os_error_reason(error)}); "
            "nothing was changed"
        ) from error
    return target


def _temp_name(path: str) -> str:
    folder, name = os.path.split(path)
    return os.path.join(folder, f".{name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")


def remove_abandoned_temp_files(path: Path) -> None:
    """Delete temp files a killed writer left behind.

    Writers hold the lock while their temp file exists, so under the lock every temp file
    of this name belongs to a writer that died mid-write.
    """
    try:
        leftovers = list(path.parent.glob(f".{path.name}.*.tmp"))
    except OSError:
        return
    for leftover in leftovers:
        try:
            leftover.unlink()
        except OSError:
            pass


def _free_name(candidate: Path) -> Path:
    number = 1
    base = candidate
    while os.path.lexists(candidate):
        candidate = base.with_name(f"{base.name}-{number}")
        number += 1
    return candidate


def _write_atomically(path: Path, document: dict[str, Any]) -> None:
    import json

    try:
        # allow_nan=False: never write NaN or Infinity, which are not JSON.
        text = json.dumps(document, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    except ValueError as error:
        raise ConfigWriteError(f"cannot write {path}: {error}") from error
    try:
        write_bytes_atomically(path, text.encode("utf-8"))
    except OSError as error:
        raise ConfigWriteError(f"cannot write {path}: {os_error_reason(error)}") from error


def write_bytes_atomically(path: str | os.PathLike[str], content: bytes) -> None:
    """Write ``content`` to ``path`` so that readers see the old file or the new, never half."""
    target = os.fspath(path)
    temporary = _temp_name(target)
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, target)
    except BaseException:
        # Even on KeyboardInterrupt: no temp file is left behind in the user's folder.
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise
    _fsync_directory(os.path.dirname(target) or ".")


def _fsync_directory(directory: str) -> None:
    # Makes the rename itself durable; not possible (nor needed) on Windows.
    if sys.platform == "win32":
        return
    try:
        descriptor = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


#: How long a writer waits for another to finish before giving up with a message.
LOCK_WAIT_SECONDS = 5.0


class _ConfigLock:
    """An exclusive lock on the config, across processes. The OS drops it if we are killed.

    Waits at most LOCK_WAIT_SECONDS: a writer that was stopped (not killed) holding it
    must not hang every other command.
    """

    def __init__(self, paths: ShimmyPaths) -> None:
        self._paths = paths
        self._descriptor = -1

    def __enter__(self) -> None:
        try:
            self._descriptor = os.open(self._paths.lock_file, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as error:
            raise ConfigWriteError(
                f"cannot write in {self._paths.config_dir}: {os_error_reason(error)}"
            ) from error
        try:
            locked = lock_within(self._descriptor, LOCK_WAIT_SECONDS)
        except BaseException:
            os.close(self._descriptor)
            raise
        if not locked:
            os.close(self._descriptor)
            raise ConfigWriteError(
                f"another program has been changing {self._paths.config_file} for "
                f"{LOCK_WAIT_SECONDS:.0f} s; nothing was changed, try again"
            )

    def __exit__(self, *exc_info: object) -> None:
        os.close(self._descriptor)


def lock_within(descriptor: int, wait_seconds: float) -> bool:
    """Take an exclusive lock on ``descriptor``, trying again for ``wait_seconds``.

    False if it could not be had by then. The config and the outbox lock alike: the OS
    releases the lock when the descriptor is closed or the process dies.
    """
    import time

    give_up = time.monotonic() + wait_seconds
    while True:
        if try_lock(descriptor):
            return True
        if time.monotonic() >= give_up:
            return False
        time.sleep(0.01)


if sys.platform == "win32":  # pragma: no cover - exercised on Windows only

    def try_lock(descriptor: int) -> bool:
        import msvcrt

        try:
            msvcrt.locking(descriptor, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True

else:

    def try_lock(descriptor: int) -> bool:
        import fcntl

        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True
