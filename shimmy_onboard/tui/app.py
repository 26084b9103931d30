"""The onboarding app: welcome and consent for the undecided, settings for the decided."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import PurePath
from typing import Any, ClassVar, NamedTuple

from textual.app import App
from textual.binding import Binding, BindingType
from textual.screen import Screen

from shimmy_onboard.consent import ConsentState, DecisionChange, load_state, record_decision
from shimmy_onboard.exits import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK
from shimmy_onboard.paths import ShimmyPaths
from shimmy_onboard.styles import stylesheet_paths
from shimmy_onboard.tui.services import Services, default_services
from shimmy_onboard.vocab import ConsentSource, Decision

#: Below 100 columns the panes stack; the styles key off these screen classes.
BREAKPOINTS = [(0, "-narrow"), (100, "-wide")]


def breakpoint_class(width: int) -> str:
    """The class ``HORIZONTAL_BREAKPOINTS`` gives a screen this wide."""
    return [name for minimum, name in BREAKPOINTS if width >= minimum][-1]


class Outcome(NamedTuple):
    """How the app ended: the decision recorded, if any, or why it could not be."""

    recorded: Decision | None = None
    error: str | None = None
    interrupted: bool = False  # left with Ctrl-C


class OnboardingApp(App[Outcome]):
    CSS_PATH: ClassVar[list[str | PurePath]] = [*stylesheet_paths()]
    HORIZONTAL_BREAKPOINTS = BREAKPOINTS
    TITLE = "Shimmy metrics"
    ENABLE_COMMAND_PALETTE = False
    BINDINGS: ClassVar[list[BindingType]] = [
        # Ctrl-C leaves, as it does at the plain prompt (Textual's default only says how
        # to quit). A priority binding: no focused widget can take it first.
        Binding("ctrl+c", "interrupt", "Interrupt", show=False, priority=True, system=True),
    ]

    def __init__(self, services: Services, *, light: bool = False) -> None:
        super().__init__()
        self.services = services
        if light:
            self.theme = "textual-light"
        self._session_id: str | None = None
        self.outcome = Outcome()

    @property
    def session_id(self) -> str:
        """The id the welcome preview shows, which is the id that enabling records.

        Minted on first use (after the first frame: uuid is not free to import)."""
        if self._session_id is None:
            self._session_id = self.services.mint_session_id()
        return self._session_id

    def get_default_screen(self) -> Screen[Any]:
        """The first screen: settings once decided, else welcome (it is the first frame)."""
        state = self.consent_state()
        screen: Screen[Any]
        if state.decided:
            from shimmy_onboard.tui.screens.settings import SettingsScreen

            screen = SettingsScreen()
        else:
            from shimmy_onboard.tui.screens.welcome import WelcomeScreen

            screen = WelcomeScreen(state)
        # The breakpoint class from the start, so the first resize does not restyle it all.
        screen.add_class(breakpoint_class(self.size.width))
        return screen

    def consent_state(self) -> ConsentState:
        return load_state(self.services.paths, self.services.env)

    def record(self, enable: bool) -> DecisionChange | None:
        """Write the decision to the config and the ledger (source ``tui``)."""
        from shimmy_onboard.config import ConfigWriteError

        try:
            change = record_decision(
                self.services.paths,
                enable=enable,
                source=ConsentSource.TUI,
                clock=self.services.clock,
                mint_id=lambda: self.session_id,
            )
        except ConfigWriteError as error:
            self.outcome = Outcome(error=str(error))
            self.notify(str(error), title="Could not save", severity="error", timeout=10)
            return None
        self.outcome = Outcome(recorded=change.after)
        if enable:
            # A later enable (after a disable) must mint a fresh id, as the CLI does.
            self._session_id = None
        return change

    def leave(self) -> None:
        self.exit(self.outcome)

    def action_interrupt(self) -> None:
        """Ctrl-C: leave at once. Nothing is recorded by it (a decision made before stays)."""
        self.outcome = self.outcome._replace(interrupted=True)
        self.exit(self.outcome, return_code=EXIT_INTERRUPTED)


def run_onboarding(paths: ShimmyPaths, env: Mapping[str, str] | None = None) -> int:
    """Run the app on this terminal; the exit code for ``shimmy-onboard``."""
    env = os.environ if env is None else env
    app = OnboardingApp(default_services(paths, env))
    return exit_code(app.run() or app.outcome)


def exit_code(outcome: Outcome) -> int:
    """0 when a decision was recorded or the person left; 3 when the config could not be
    written; 130 after Ctrl-C, as at the plain prompt."""
    if outcome.interrupted:
        return EXIT_INTERRUPTED
    return EXIT_FAILED if outcome.error else EXIT_OK
