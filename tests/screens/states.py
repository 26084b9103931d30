"""Every screen of the TUI in a fixed state: the same machine, clock, id and home folder.

``tests/test_snapshots.py`` compares these with the stored snapshots; ``make screenshots``
(``python -m tests.screens.render screenshots``) writes them to ``screenshots/``. The
preview and validator are the real ones: only what varies between machines and moments
is fixed (the detector's answer, the clock, the session id, the home folder).
"""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from textual.pilot import Pilot

from shimmy_onboard.consent import record_decision
from shimmy_onboard.hardware import MachineFacts
from shimmy_onboard.paths import ShimmyPaths, resolve_paths
from shimmy_onboard.tui.app import OnboardingApp
from shimmy_onboard.tui.services import (
    Services,
    build_preview,
    run_validator,
    write_export,
)
from shimmy_onboard.vocab import ConsentSource, GpuVendor, HardwareTier, Platform, Region

FIXED_NOW = datetime(2025, 1, 15, 10, 30, tzinfo=timezone.utc)
FIXED_SESSION_ID = "550e8400-e29b-41d4-a716-446655440000"
# Long enough for any real detector in a test; a pending scene is released well before.
PENDING_LIMIT_SECONDS = 20.0


def fixed_clock() -> datetime:
    return FIXED_NOW


def fixed_machine() -> MachineFacts:
    return MachineFacts(
        platform=Platform.LINUX_X64,
        hardware_tier=HardwareTier.WORKSTATION,
        gpu_vendor=GpuVendor.NVIDIA,
        region_indicator=Region.EMEA,
    )


def home_paths(home: Path) -> ShimmyPaths:
    """The files of a Linux user whose home is ``home``: shown on screen as ``~/...``."""
    return resolve_paths(env={"HOME": str(home)}, system="linux")


def make_services(
    home: Path,
    *,
    env: Mapping[str, str] | None = None,
    detect: Callable[[], MachineFacts] = fixed_machine,
) -> Services:
    return Services(
        paths=home_paths(home),
        env={"HOME": str(home), **(env or {})},
        detect=detect,
        preview=build_preview,
        validate=run_validator,
        export=write_export,
        mint_session_id=lambda: FIXED_SESSION_ID,
        clock=fixed_clock,
        system_root=home,  # no container markers: the deployment type is "development"
    )


def decide(home: Path, enable: bool) -> None:
    """Record a decision beforehand, as an earlier run would have."""
    record_decision(
        home_paths(home),
        enable=enable,
        source=ConsentSource.PROMPT,
        clock=fixed_clock,
        mint_id=lambda: FIXED_SESSION_ID,
    )


async def first_frame_done(pilot: Pilot[object]) -> None:
    """Wait until the screen has taken its footer (it does so right after its first frame)."""
    from textual.widgets import Footer

    for _ in range(100):
        await pilot.pause()
        if pilot.app.screen.query(Footer):
            return
    raise AssertionError("the screen never mounted its footer")


async def settle(pilot: Pilot[object]) -> None:
    """Wait until detection, the preview and the validator have finished and been drawn."""
    await first_frame_done(pilot)
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


@dataclass
class Scene:
    """One app in one state, and how to bring it there."""

    app: OnboardingApp
    run_before: Callable[[Pilot[object]], Awaitable[None]] = settle
    release: Callable[[], None] = field(default=lambda: None)


@dataclass(frozen=True)
class ScreenState:
    name: str  # the screenshot's file name, without .svg
    caption: str
    size: tuple[int, int]
    build: Callable[[Path], Scene]


def _welcome(home: Path, *, light: bool = False) -> Scene:
    return Scene(OnboardingApp(make_services(home), light=light))


class _DetectionHeldApp(OnboardingApp):
    """The app while detection has not finished; detection finishes when the app exits
    (Textual waits for a thread worker before it shuts down)."""

    def __init__(self, home: Path) -> None:
        self.detection_done = threading.Event()
        super().__init__(make_services(home, detect=self._detect_later))

    def _detect_later(self) -> MachineFacts:
        self.detection_done.wait(PENDING_LIMIT_SECONDS)
        return fixed_machine()

    def exit(self, *args: Any, **kwargs: Any) -> None:
        self.detection_done.set()
        super().exit(*args, **kwargs)


def _welcome_pending(home: Path) -> Scene:
    app = _DetectionHeldApp(home)

    return Scene(app, run_before=first_frame_done, release=app.detection_done.set)


def _after_keys(*keys: str) -> Callable[[Path], Scene]:
    def build(home: Path) -> Scene:
        async def press(pilot: Pilot[object]) -> None:
            await settle(pilot)
            await pilot.press(*keys)
            await settle(pilot)

        return Scene(OnboardingApp(make_services(home)), run_before=press)

    return build


def _settings(enable: bool, env: Mapping[str, str] | None = None) -> Callable[[Path], Scene]:
    def build(home: Path) -> Scene:
        decide(home, enable)
        return Scene(OnboardingApp(make_services(home, env=env)))

    return build


STATES: tuple[ScreenState, ...] = (
    ScreenState("welcome-80x24", "Welcome and consent, 80x24 (panes stacked)", (80, 24), _welcome),
    ScreenState("welcome-120x40", "Welcome and consent, 120x40", (120, 40), _welcome),
    ScreenState(
        "welcome-pending", "Welcome while detection is still running", (120, 40), _welcome_pending
    ),
    ScreenState("welcome-60x20", "Welcome in a small terminal, 60x20", (60, 20), _welcome),
    ScreenState(
        "welcome-light",
        "Welcome in Textual's light theme",
        (120, 40),
        lambda home: _welcome(home, light=True),
    ),
    ScreenState("policy", "The full data policy (p)", (100, 30), _after_keys("p")),
    ScreenState("done-enabled", "After Enable", (100, 30), _after_keys("y")),
    ScreenState("done-disabled", "After No thanks", (100, 30), _after_keys("n")),
    ScreenState("settings-enabled", "Settings, metrics enabled", (120, 40), _settings(True)),
    ScreenState("settings-disabled", "Settings, metrics disabled", (120, 40), _settings(False)),
    ScreenState("settings-80x24", "Settings at 80x24 (panes stacked)", (80, 24), _settings(True)),
    ScreenState(
        "settings-suppressed",
        "Settings, enabled but DO_NOT_TRACK=1 wins",
        (120, 40),
        _settings(True, env={"DO_NOT_TRACK": "1"}),
    ),
)

STATES_BY_NAME = {state.name: state for state in STATES}
