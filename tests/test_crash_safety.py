"""Writers killed at any moment, or racing each other, never leave a torn config."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time

from shimmy_onboard.paths import ShimmyPaths

SHIMMY_KEYS = {"port": 11435, "models": ["a", "b"], "note": "x" * 2000}

# Toggles the decision as fast as it can; says "ready" once it has written once.
TOGGLER = """
import sys
from shimmy_onboard.consent import record_decision
from shimmy_onboard.paths import resolve_paths
from shimmy_onboard.vocab import ConsentSource
paths = resolve_paths()
rounds = int(sys.argv[1])
enable = bool(int(sys.argv[2]))
for index in range(rounds):
    record_decision(paths, enable=enable, source=ConsentSource.CLI)
    enable = not enable
    if index == 0:
        print("ready", flush=True)
"""


def start_toggler(rounds: int, first: int = 1) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", TOGGLER, str(rounds), str(first)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def assert_intact(paths: ShimmyPaths) -> None:
    document = json.loads(paths.config_file.read_text(encoding="utf-8"))
    assert {key: document[key] for key in SHIMMY_KEYS} == SHIMMY_KEYS
    assert isinstance(document["metrics"]["enabled"], bool)


def test_a_writer_killed_at_random_moments_never_tears_the_config(paths: ShimmyPaths) -> None:
    paths.config_dir.mkdir(parents=True)
    paths.config_file.write_text(json.dumps({**SHIMMY_KEYS, "metrics": {"enabled": False}}))
    chance = random.Random(20261204)

    for _ in range(100):
        writer = start_toggler(rounds=1_000_000)
        assert writer.stdout is not None
        assert writer.stdout.readline() == "ready\n"
        time.sleep(chance.uniform(0, 0.015))
        writer.send_signal(signal.SIGKILL)
        writer.wait(timeout=10)
        assert writer.returncode == -signal.SIGKILL
        assert_intact(paths)

    # The next writer sweeps away the temp files the killed ones left behind.
    finisher = start_toggler(rounds=1)
    finisher.communicate(timeout=30)
    assert finisher.returncode == 0
    assert_intact(paths)
    assert list(paths.config_dir.glob(".*.tmp")) == []


def test_eight_writers_at_once_never_tear_the_config_or_the_ledger(paths: ShimmyPaths) -> None:
    paths.config_dir.mkdir(parents=True)
    paths.config_file.write_text(json.dumps({**SHIMMY_KEYS, "metrics": {"enabled": False}}))

    writers = [start_toggler(rounds=40, first=index % 2) for index in range(8)]
    reads = 0
    while any(writer.poll() is None for writer in writers):
        assert_intact(paths)
        reads += 1
    for writer in writers:
        _, errors = writer.communicate(timeout=60)
        assert writer.returncode == 0, errors

    assert reads > 0
    assert_intact(paths)
    ledger_lines = paths.ledger_file.read_text(encoding="utf-8").splitlines()
    assert ledger_lines, "every writer changed the decision at least once"
    for line in ledger_lines:
        entry = json.loads(line)
        assert entry["from"] != entry["to"]
    assert os.listdir(paths.config_dir).count("config.json") == 1
