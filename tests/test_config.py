"""The config store: bad files never crash anything, and nothing of the user's is lost."""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path

import pytest

from shimmy_onboard.config import read_config, update_metrics
from shimmy_onboard.consent import load_state
from shimmy_onboard.paths import ShimmyPaths
from shimmy_onboard.vocab import Decision
from tests.conftest import run_cli

VALID_ID = "550e8400-e29b-41d4-a716-446655440000"

BAD_FILES: dict[str, bytes] = {
    "empty file": b"",
    "only white space": b"  \n\t ",
    "truncated JSON": b'{"metrics": {"enabled": tr',
    "truncated JSON, mid-object": b'{"port": 11435, "metrics": {"enabled": true',
    "a missing comma": b'{"port": 11435 "metrics": {"enabled": true}}',
    "an unterminated string": b'{"theme": "dar',
    "text after the object": b'{"metrics": {"enabled": false}} and more',
    "a trailing comma": b'{"metrics": {"enabled": false},}',
    "binary garbage": bytes(range(256)) * 4,
    "a JSON array": b'[{"metrics": {"enabled": true}}]',
    "a JSON string": b'"enabled"',
    "metrics of the wrong type": b'{"metrics": "yes please", "shimmy_port": 11435}',
    "metrics as an array": b'{"metrics": [true], "shimmy_port": 11435}',
    "enabled of the wrong type": b'{"metrics": {"enabled": "true"}, "shimmy_port": 11435}',
    "enabled as a number": b'{"metrics": {"enabled": 1}, "shimmy_port": 11435}',
    "malformed session_id": (
        b'{"metrics": {"enabled": true, "session_id": "not-a-uuid"}, "shimmy_port": 11435}'
    ),
    "session_id not version 4": (
        b'{"metrics": {"enabled": true, "session_id": "550e8400-e29b-11d4-a716-446655440000"}}'
    ),
    "consent_version of the wrong type": (
        b'{"metrics": {"enabled": true, "session_id": "' + VALID_ID.encode() + b'",'
        b' "consent_version": "1"}}'
    ),
    "last_updated of the wrong type": b'{"metrics": {"enabled": false, "last_updated": 17}}',
    "enabled without session_id": b'{"metrics": {"enabled": true}}',
    "200,000-deep nesting": b"[" * 200_000 + b"]" * 200_000,
    "200,000-deep object nesting": b'{"a":' * 200_000 + b"1" + b"}" * 200_000,
    "invalid UTF-8": b'{"metrics": {"enabled": true}, "name": "\xff\xfe"}',
    "trailing NULs": b'{"metrics": {"enabled": false}}' + b"\x00" * 64,
    "a lone NUL": b"\x00",
}

SHIMMY_KEYS_BAD_FILES = {
    name: content for name, content in BAD_FILES.items() if b"shimmy_port" in content
}


def write_config(paths: ShimmyPaths, content: bytes) -> None:
    paths.config_dir.mkdir(parents=True, exist_ok=True)
    paths.config_file.write_bytes(content)


def corrupt_copies(paths: ShimmyPaths) -> list[Path]:
    return sorted(paths.config_dir.glob("config.json.corrupt-*"))


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_a_bad_config_is_reported_and_treated_as_disabled_without_being_touched(
    paths: ShimmyPaths, name: str
) -> None:
    write_config(paths, BAD_FILES[name])
    before = paths.config_file.read_bytes()

    result = run_cli(["config", "--metrics", "status"])

    assert result.returncode == 0
    assert "Traceback" not in result.stderr
    assert "cannot be used" in result.stderr
    assert str(paths.config_file) in result.stderr
    assert result.stdout.startswith("Metrics: disabled")
    assert paths.config_file.read_bytes() == before
    assert corrupt_copies(paths) == []


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_enabling_over_a_bad_config_keeps_the_bad_file_aside(paths: ShimmyPaths, name: str) -> None:
    write_config(paths, BAD_FILES[name])

    result = run_cli(["config", "--metrics", "enable"])

    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    [kept] = corrupt_copies(paths)
    assert kept.read_bytes() == BAD_FILES[name]
    assert str(kept) in result.stderr
    document = json.loads(paths.config_file.read_text())
    assert document["metrics"]["enabled"] is True
    assert load_state(paths).decision is Decision.ENABLED


@pytest.mark.parametrize("name", sorted(SHIMMY_KEYS_BAD_FILES))
def test_a_bad_metrics_section_does_not_lose_shimmys_keys(paths: ShimmyPaths, name: str) -> None:
    write_config(paths, BAD_FILES[name])

    assert run_cli(["config", "--metrics", "disable"]).returncode == 0

    document = json.loads(paths.config_file.read_text())
    assert document["shimmy_port"] == 11435
    assert document["metrics"]["enabled"] is False


def test_a_byte_order_mark_is_not_an_error(paths: ShimmyPaths) -> None:
    body = {"metrics": {"enabled": True, "session_id": VALID_ID, "consent_version": 1}}
    write_config(paths, b"\xef\xbb\xbf" + json.dumps(body).encode())

    result = run_cli(["config", "--metrics", "status"])

    assert result.returncode == 0
    assert result.stderr == ""
    assert result.stdout.startswith("Metrics: enabled")


def test_a_directory_where_the_config_should_be_is_reported_and_left_alone(
    paths: ShimmyPaths,
) -> None:
    paths.config_file.mkdir(parents=True)
    (paths.config_file / "keep.txt").write_text("mine")

    status = run_cli(["config", "--metrics", "status"])
    enable = run_cli(["config", "--metrics", "enable"])

    assert status.returncode == 0
    assert "is a directory" in status.stderr
    assert enable.returncode == 3
    assert "is a directory" in enable.stderr
    assert "Traceback" not in status.stderr + enable.stderr
    assert (paths.config_file / "keep.txt").read_text() == "mine"


def _without_root_file_powers() -> None:
    """In the child, before exec: drop the capabilities that let root ignore file modes.

    Tests run as root on CI, and root writes into a 0555 folder; without CAP_DAC_OVERRIDE,
    CAP_DAC_READ_SEARCH and CAP_FOWNER in the bounding set, the exec'd child cannot.
    """
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    pr_capbset_drop = 24
    for capability in (1, 2, 3):
        if libc.prctl(pr_capbset_drop, capability, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP) failed")


def test_a_read_only_config_dir_gives_a_clear_message_and_changes_nothing(tmp_path: Path) -> None:
    import subprocess

    config_dir = tmp_path / "read-only"
    config_dir.mkdir()
    config_file = config_dir / "config.json"
    original = b'{"shimmy_port": 11435, "metrics": {"enabled": false}}\n'
    config_file.write_bytes(original)
    config_dir.chmod(0o555)
    try:
        result = subprocess.run(
            [sys.executable, "-m", "shimmy_onboard", "config", "--metrics", "enable"],
            env={**os.environ, "SHIMMY_CONFIG_DIR": str(config_dir)},
            capture_output=True,
            text=True,
            timeout=60,
            preexec_fn=_without_root_file_powers if os.geteuid() == 0 else None,
        )
    finally:
        config_dir.chmod(stat.S_IRWXU)
    assert result.returncode == 3
    assert "Traceback" not in result.stderr
    assert str(config_dir) in result.stderr
    assert "Permission denied" in result.stderr
    assert config_file.read_bytes() == original
    assert sorted(path.name for path in config_dir.iterdir()) == ["config.json"]


def test_every_write_keeps_shimmys_own_keys(paths: ShimmyPaths) -> None:
    shimmy_keys = {"port": 11435, "models_dir": "~/models", "nested": {"a": [1, 2, {"b": None}]}}
    write_config(paths, json.dumps({**shimmy_keys, "metrics": {"enabled": False}}).encode())

    for verb in ("enable", "disable", "enable"):
        assert run_cli(["config", "--metrics", verb]).returncode == 0

    document = json.loads(paths.config_file.read_text())
    assert {key: document[key] for key in shimmy_keys} == shimmy_keys


def test_the_config_is_private_to_the_user(paths: ShimmyPaths) -> None:
    assert run_cli(["config", "--metrics", "enable"]).returncode == 0

    assert stat.S_IMODE(paths.config_file.stat().st_mode) == 0o600


def test_the_written_file_has_the_specs_shape(paths: ShimmyPaths) -> None:
    assert run_cli(["config", "--metrics", "enable"]).returncode == 0

    metrics = json.loads(paths.config_file.read_text())["metrics"]
    assert list(metrics) == ["enabled", "session_id", "last_updated", "consent_version"]
    assert metrics["consent_version"] == 1
    assert metrics["last_updated"].endswith("Z")


def test_a_legacy_flat_false_counts_as_undecided_and_is_migrated(paths: ShimmyPaths) -> None:
    legacy = {"enabled": False, "session_id": VALID_ID, "last_updated": "2025-01-15T10:30:00Z"}
    write_config(paths, json.dumps({**legacy, "port": 11435}).encode())

    assert load_state(paths).decision is Decision.UNDECIDED
    assert run_cli(["config", "--metrics", "disable"]).returncode == 0

    document = json.loads(paths.config_file.read_text())
    assert "enabled" not in document and "session_id" not in document
    assert document["port"] == 11435
    assert document["metrics"]["enabled"] is False


def test_a_legacy_flat_true_counts_as_consent_to_schema_version_one(paths: ShimmyPaths) -> None:
    write_config(paths, json.dumps({"enabled": True, "session_id": VALID_ID}).encode())

    state = load_state(paths)

    assert state.decision is Decision.ENABLED
    assert state.consent_version == 1
    assert state.session_id == VALID_ID


def test_a_legacy_file_at_the_macos_platform_dir_is_read(tmp_path: Path) -> None:
    legacy = tmp_path / "Library" / "Application Support" / "shimmy" / "config.json"
    legacy.parent.mkdir(parents=True)
    legacy.write_text(json.dumps({"enabled": True, "session_id": VALID_ID}))
    paths = ShimmyPaths(
        config_dir=tmp_path / ".config" / "shimmy",
        state_dir=legacy.parent,
        legacy_config_file=legacy,
    )

    assert read_config(paths).metrics.enabled is True
    update_metrics(paths, lambda metrics: metrics)

    assert json.loads(paths.config_file.read_text())["metrics"]["session_id"] == VALID_ID


def test_unknown_keys_inside_metrics_survive_a_write(paths: ShimmyPaths) -> None:
    write_config(paths, b'{"metrics": {"enabled": false, "future_key": [1]}}')

    assert run_cli(["config", "--metrics", "enable"]).returncode == 0

    assert json.loads(paths.config_file.read_text())["metrics"]["future_key"] == [1]


def test_deleting_the_file_means_undecided_again(paths: ShimmyPaths) -> None:
    assert run_cli(["config", "--metrics", "enable"]).returncode == 0
    paths.config_file.unlink()

    assert load_state(paths).decision is Decision.UNDECIDED


@pytest.mark.parametrize("verb", ["status", "enable"])
def test_a_named_pipe_where_the_config_should_be_never_hangs(paths: ShimmyPaths, verb: str) -> None:
    paths.config_dir.mkdir(parents=True)
    os.mkfifo(paths.config_file)

    result = run_cli(["config", "--metrics", verb], timeout=10)

    assert result.returncode == 0
    assert ("named pipe" if verb == "status" else "kept as") in result.stderr
    assert "Traceback" not in result.stderr


def test_first_run_on_a_terminal_never_hangs_on_a_named_pipe(paths: ShimmyPaths) -> None:
    import subprocess

    paths.config_dir.mkdir(parents=True)
    os.mkfifo(paths.config_file)
    primary, secondary = os.openpty()
    try:
        # With TERM=dumb and a pty, --first-run reads the config, then asks on the prompt.
        process = subprocess.Popen(
            [sys.executable, "-m", "shimmy_onboard", "--first-run"],
            stdin=secondary,
            stdout=secondary,
            stderr=secondary,
            env={**os.environ, "TERM": "dumb"},
        )
        os.write(primary, b"n\n")
        assert process.wait(timeout=10) == 0
    finally:
        os.close(primary)
        os.close(secondary)


def test_a_named_pipe_as_the_ledger_never_hangs(paths: ShimmyPaths) -> None:
    paths.metrics_dir.mkdir(parents=True)
    os.mkfifo(paths.ledger_file)

    status = run_cli(["config", "--metrics", "status"], timeout=10)
    enable = run_cli(["config", "--metrics", "enable"], timeout=10)

    assert status.returncode == 0
    assert enable.returncode == 0
    assert "consent ledger" in enable.stderr
    assert json.loads(paths.config_file.read_text())["metrics"]["enabled"] is True


@pytest.mark.parametrize("number", [b"1e999", b"-1e999", b"NaN", b"Infinity"])
def test_numbers_json_cannot_hold_are_never_written_back(paths: ShimmyPaths, number: bytes) -> None:
    original = b'{"shimmy": {"max_tokens": ' + number + b'}, "metrics": {}}'
    write_config(paths, original)

    assert run_cli(["config", "--metrics", "enable"]).returncode == 0

    written = paths.config_file.read_text()
    assert "Infinity" not in written and "NaN" not in written
    json.loads(written, parse_constant=lambda name: pytest.fail(f"{name} written"))
    [kept] = corrupt_copies(paths)
    assert kept.read_bytes() == original


def test_a_symlinked_config_is_written_through_the_link(paths: ShimmyPaths, tmp_path: Path) -> None:
    dotfiles = tmp_path / "dotfiles" / "shimmy.json"
    dotfiles.parent.mkdir()
    dotfiles.write_text('{"port": 11435}')
    paths.config_dir.mkdir(parents=True)
    paths.config_file.symlink_to(dotfiles)

    assert run_cli(["config", "--metrics", "enable"]).returncode == 0

    assert paths.config_file.is_symlink()
    document = json.loads(dotfiles.read_text())
    assert document["port"] == 11435
    assert document["metrics"]["enabled"] is True
