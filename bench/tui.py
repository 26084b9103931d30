"""Process start to the first frame of the welcome screen, against a minimal Textual app.

Each app runs as a fresh process on a pseudo-terminal (80x24), as a person would start
it. The child notes the monotonic clock once Textual has painted its first frame and
exits; the figure is that moment minus the moment the parent spawned it. The floor is a
Textual app with one ``Static``, measured in the same run, alternating, median of
``RUNS`` each. Goal (issue 5): the welcome screen within 1.25x of that.

Run: ``.venv/bin/python bench/tui.py``. The welcome child goes through the product's
own decision (``onboarding.tui_unavailable``) and app, with detection in its worker as
always: the first frame must not wait for it.
"""

from __future__ import annotations

import fcntl
import os
import select
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import time
from pathlib import Path

RUNS = 11
GOAL = 1.25
SIZE = (24, 80)  # rows, columns
TIMEOUT_SECONDS = 30.0


# --- the children --------------------------------------------------------------------------


def _note_first_frame(stamp_file: str) -> None:
    # The wall clock (compared with the parent's) and the CPU time this process has used.
    Path(stamp_file).write_text(f"{time.monotonic()!r} {time.process_time()!r}")


def child_minimal(stamp_file: str) -> None:
    from textual.app import App, ComposeResult
    from textual.widgets import Static

    class Minimal(App[None]):
        def compose(self) -> ComposeResult:
            yield Static("Hello")

        def on_mount(self) -> None:
            self.call_after_refresh(self.first_frame)

        def first_frame(self) -> None:
            _note_first_frame(stamp_file)
            self.exit()

    Minimal().run()


def child_welcome(stamp_file: str) -> None:
    from shimmy_onboard.onboarding import tui_unavailable
    from shimmy_onboard.paths import resolve_paths

    assert tui_unavailable(os.environ, sys.stdin.isatty(), sys.stdout.isatty()) is None
    from shimmy_onboard.tui.app import OnboardingApp
    from shimmy_onboard.tui.services import default_services

    class FirstFrame(OnboardingApp):
        def on_mount(self) -> None:
            self.call_after_refresh(self.first_frame)

        def first_frame(self) -> None:
            _note_first_frame(stamp_file)
            self.exit()

    FirstFrame(default_services(resolve_paths(), os.environ)).run()


# --- the parent ----------------------------------------------------------------------------


def time_first_frame(kind: str, env: dict[str, str], stamp_file: Path) -> tuple[float, float]:
    """Seconds from spawning the child to its first painted frame, and its CPU seconds."""
    stamp_file.unlink(missing_ok=True)
    master, slave = os.openpty()
    rows, columns = SIZE
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
    started = time.monotonic()
    child = subprocess.Popen(
        [sys.executable, __file__, "--child", kind, str(stamp_file)],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
        start_new_session=True,
    )
    os.close(slave)
    try:
        _drain_until_exit(master, child)
    finally:
        os.close(master)
    if child.returncode != 0 or not stamp_file.exists():
        raise SystemExit(f"the {kind} app failed (exit {child.returncode})")
    painted, cpu = (float(value) for value in stamp_file.read_text().split())
    return painted - started, cpu


def _drain_until_exit(master: int, child: subprocess.Popen[bytes]) -> None:
    # Textual blocks if nobody reads the terminal: read everything it draws.
    deadline = time.monotonic() + TIMEOUT_SECONDS
    while child.poll() is None:
        if time.monotonic() > deadline:
            child.kill()
            raise SystemExit("a child app did not exit")
        ready, _, _ = select.select([master], [], [], 0.05)
        if ready:
            try:
                os.read(master, 65536)
            except OSError:
                pass


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="shimmy-bench-tui-") as folder:
        env = {
            **os.environ,
            "TERM": "xterm-256color",
            "SHIMMY_CONFIG_DIR": folder,  # nothing decided: the welcome screen
        }
        for variable in ("DO_NOT_TRACK", "SHIMMY_NO_METRICS", "CI", "NO_COLOR"):
            env.pop(variable, None)
        stamp = Path(folder) / "first-frame"
        samples: dict[str, list[tuple[float, float]]] = {"minimal": [], "welcome": []}
        for kind in samples:  # warm the file cache and the .pyc files
            time_first_frame(kind, env, stamp)
        for _ in range(RUNS):
            for kind in samples:
                samples[kind].append(time_first_frame(kind, env, stamp))

    floor, floor_cpu = _medians(samples["minimal"])
    welcome, welcome_cpu = _medians(samples["welcome"])
    ratio = welcome / floor
    verdict = "OK" if ratio <= GOAL else "MISS"
    print(
        f"minimal Textual app first frame: {floor * 1000:.0f} ms "
        f"({floor_cpu * 1000:.0f} ms CPU), median of {RUNS}"
    )
    print(
        f"welcome screen first frame: {welcome * 1000:.0f} ms "
        f"({welcome_cpu * 1000:.0f} ms CPU), median of {RUNS}"
    )
    # Wall time is the figure; the CPU ratio says the same when other work shares the machine.
    print(f"tui first frame, CPU time: {welcome_cpu / floor_cpu:.2f}x a minimal Textual app")
    print(f"tui first frame: {ratio:.2f}x a minimal Textual app (goal <= {GOAL}x) {verdict}")
    return 0 if verdict == "OK" else 1


def _medians(samples: list[tuple[float, float]]) -> tuple[float, float]:
    return (
        statistics.median(wall for wall, _ in samples),
        statistics.median(cpu for _, cpu in samples),
    )


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        kind, stamp_file = sys.argv[2], sys.argv[3]
        (child_welcome if kind == "welcome" else child_minimal)(stamp_file)
        raise SystemExit(0)
    raise SystemExit(main())
