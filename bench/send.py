"""What ``shimmy-onboard send`` costs Shimmy at shutdown, as ratios measured in one run.

- With metrics disabled (the default for everybody who never opted in) it must cost close
  to a bare interpreter: the venv's ``shimmy-onboard send --events F --shimmy-version V``
  against the same venv's ``python -c pass``, alternating, medians. Goal <= 2.0x.
- Against a server that accepts and never answers, the whole command must end by its
  5 s deadline: median wall time, goal <= 5.2 s.
- Against a refused port it must not cost more than a successful send: the median
  against a closed port over the median against a server answering 200. Goal <= 1.3x.

The servers are the test suite's real loopback servers (tests/loopback_servers.py).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.loopback_servers import answering, never_answering, refused_port, serving  # noqa: E402

DISABLED_RUNS = 21
NETWORK_RUNS = 11
SILENT_RUNS = 3
GOAL_DISABLED = 2.0
GOAL_SILENT_SECONDS = 5.2
GOAL_REFUSED = 1.3

EVENTS = [
    {"type": "start", "ts": "2025-01-15T08:30:00Z", "version": "1.3.2"},
    {"type": "request", "ts": "2025-01-15T08:31:02Z", "endpoint": "/v1/chat/completions",
     "status": 200, "latency_ms": 1250, "tokens": 50, "model": "m", "user_agent": "curl/8"},
    {"type": "end", "ts": "2025-01-15T10:30:00Z"},
]


def compile_package() -> None:
    """Byte-compile the package, as ``pip install`` does for a wheel.

    Under PYTHONDONTWRITEBYTECODE an editable install would otherwise recompile every
    module on every run, which no installed copy ever does.
    """
    import compileall

    import shimmy_onboard

    compileall.compile_dir(Path(shimmy_onboard.__file__).parent, quiet=1)


def timed(command: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(
        command, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL, check=True,
    )
    return time.perf_counter() - started


def write_config(config_dir: Path, enabled: bool) -> None:
    config_dir.mkdir(parents=True, exist_ok=True)
    metrics = {
        "enabled": enabled,
        "session_id": "550e8400-e29b-41d4-a716-446655440000",
        "last_updated": "2025-01-15T10:30:00Z",
        "consent_version": 1,
    }
    (config_dir / "config.json").write_text(json.dumps({"metrics": metrics}))


def verdict(ok: bool) -> str:
    return "OK" if ok else "MISSED"


def main() -> int:
    compile_package()
    script = str(Path(sys.executable).parent / "shimmy-onboard")
    base_env = {
        name: value
        for name, value in os.environ.items()
        if name not in ("DO_NOT_TRACK", "SHIMMY_NO_METRICS", "SHIMMY_METRICS_DEBUG", "CI")
    }
    with tempfile.TemporaryDirectory() as scratch:
        events = Path(scratch) / "events.jsonl"
        events.write_text("".join(json.dumps(event) + "\n" for event in EVENTS))
        send = [script, "send", "--events", str(events), "--shimmy-version", "1.3.2"]
        disabled_dir = Path(scratch) / "disabled"
        enabled_dir = Path(scratch) / "enabled"
        write_config(disabled_dir, enabled=False)
        write_config(enabled_dir, enabled=True)

        disabled_env = {**base_env, "SHIMMY_CONFIG_DIR": str(disabled_dir)}
        floor, disabled = [], []
        for _ in range(DISABLED_RUNS):
            floor.append(timed([sys.executable, "-c", "pass"], disabled_env))
            disabled.append(timed(send, disabled_env))
        ratio = statistics.median(disabled) / statistics.median(floor)
        print(
            f"send (disabled): {ratio:.2f}x python -c pass "
            f"(goal <= {GOAL_DISABLED}x) {verdict(ratio <= GOAL_DISABLED)}"
        )

        def enabled_env(url: str) -> dict[str, str]:
            return {**base_env, "SHIMMY_CONFIG_DIR": str(enabled_dir),
                    "SHIMMY_METRICS_ENDPOINT": url}

        with serving(answering(200)) as ok_server:
            refused_url = f"http://127.0.0.1:{refused_port()}/v1/usage"
            ok, refused = [], []
            for _ in range(NETWORK_RUNS):
                ok.append(timed(send, enabled_env(ok_server.url)))
                refused.append(timed(send, enabled_env(refused_url)))
        ratio = statistics.median(refused) / statistics.median(ok)
        print(
            f"send (refused port): {ratio:.2f}x send to a 200 server "
            f"({statistics.median(refused) * 1000:.0f} ms vs {statistics.median(ok) * 1000:.0f} ms)"
            f" (goal <= {GOAL_REFUSED}x) {verdict(ratio <= GOAL_REFUSED)}"
        )

        with serving(never_answering) as silent:
            walls = [timed(send, enabled_env(silent.url)) for _ in range(SILENT_RUNS)]
        wall = statistics.median(walls)
        print(
            f"send (server never answers): {wall:.2f} s wall, worst {max(walls):.2f} s "
            f"(goal <= {GOAL_SILENT_SECONDS} s) {verdict(wall <= GOAL_SILENT_SECONDS)}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
