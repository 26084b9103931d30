"""Start-up cost of the paths Shimmy runs often, as ratios to a bare interpreter.

``shimmy-onboard --first-run`` runs at every Shimmy start and ``config --metrics status``
whenever a user looks: both must cost close to ``python -c pass``. Each command runs on a
real pseudo-terminal (as when Shimmy is started by hand; without one ``--first-run`` would
return before it even reads the config), with a decision recorded, alternating with the
floor, and the medians are compared.

Goals (issue 2): --first-run <= 2.0x, status <= 2.5x.
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

RUNS = 31
GOALS = {"--first-run": 2.0, "config --metrics status": 2.5}


def timed(command: list[str], env: dict[str, str]) -> float:
    primary, secondary = os.openpty()
    try:
        started = time.perf_counter()
        subprocess.run(
            command, env=env, stdin=secondary, stdout=secondary, stderr=secondary, check=True
        )
        return time.perf_counter() - started
    finally:
        os.close(primary)
        os.close(secondary)


def compile_package() -> None:
    """Byte-compile the package, as ``pip install`` does for a wheel.

    An editable install under PYTHONDONTWRITEBYTECODE (set on this machine) would otherwise
    recompile every module on every run, which no installed copy ever does.
    """
    import compileall

    import shimmy_onboard

    compileall.compile_dir(Path(shimmy_onboard.__file__).parent, quiet=1)


def main() -> int:
    compile_package()
    script = str(Path(sys.executable).parent / "shimmy-onboard")
    with tempfile.TemporaryDirectory() as config_dir:
        metrics = {
            "enabled": True,
            "session_id": "550e8400-e29b-41d4-a716-446655440000",
            "last_updated": "2025-01-15T10:30:00Z",
            "consent_version": 1,
        }
        Path(config_dir, "config.json").write_text(json.dumps({"port": 1, "metrics": metrics}))
        env = {**os.environ, "SHIMMY_CONFIG_DIR": config_dir}
        for variable in ("DO_NOT_TRACK", "SHIMMY_NO_METRICS", "CI"):
            env.pop(variable, None)
        commands = {
            "python -c pass": [sys.executable, "-c", "pass"],
            "--first-run": [script, "--first-run"],
            "config --metrics status": [script, "config", "--metrics", "status"],
        }
        samples: dict[str, list[float]] = {name: [] for name in commands}
        for command in commands.values():  # warm the file cache and the .pyc files
            timed(command, env)
        for _ in range(RUNS):
            for name, command in commands.items():
                samples[name].append(timed(command, env))

    floor = statistics.median(samples["python -c pass"])
    print(f"python -c pass: {floor * 1000:.1f} ms median of {RUNS}")
    failed = False
    for name, goal in GOALS.items():
        median = statistics.median(samples[name])
        ratio = median / floor
        verdict = "OK" if ratio <= goal else "MISS"
        failed |= verdict == "MISS"
        print(
            f"shimmy-onboard {name}: {ratio:.2f}x python -c pass "
            f"({median * 1000:.1f} ms; goal <= {goal}x) {verdict}"
        )
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
