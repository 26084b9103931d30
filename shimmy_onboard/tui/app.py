"""The onboarding app: welcome and consent for the undecided, settings for the decided."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import PurePath
from typing import ClassVar

from textual.app import App

from shimmy_onboard.consent import ConsentState, DecisionChange, load_state, record_decision
from shimmy_onboard.paths import ShimmyPaths
from shimmy_onboard.styles import stylesheet_paths
from shimmy_onboard.tui.services import Services, default_services
from shimmy_onboard.vocab import ConsentSource, Decision

EXIT_OK = 0
EXIT_FAILED = 3

#: Below 100 columns the panes stack; the styles key off these screen classes.
BREAKPOINTS = [(0, "-narrow"), (100, "-wide")]


@dataclass(frozen=True)
class Outcome:
    """How the app ended: the decision recorded, if any, or why it could not be."""

    recorded: Decision | None = None
    error: str | None = None


class OnboardingApp(App[Outcome]):
    CSS_PATH: ClassVar[list[str | PurePath]] = [*stylesheet_paths()]
    HORIZONTAL_BREAKPOINTS = BREAKPOINTS
    TITLE = "Shimmy metrics"
    ENABLE_COMMAND_PALETTE = False

    def __init__(self, services: Services, *, light: bool = False) -> None:
        super().__init__()
        self.services = services
        if light:
            self.theme = "textual-light"
        # The id the welcome preview shows is the id that enabling records.
        self.session_id = services.mint_session_id()
        self.outcome = Outcome()

    def on_mount(self) -> None:
        from shimmy_onboard.tui.screens.settings import SettingsScreen
        from shimmy_onboard.tui.screens.welcome import WelcomeScreen

        state = self.consent_state()
        if state.decided:
            self.push_screen(SettingsScreen())
        else:
            self.push_screen(WelcomeScreen(state))

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
            self.session_id = self.services.mint_session_id()
        return change

    def leave(self) -> None:
        self.exit(self.outcome)


def run_onboarding(paths: ShimmyPaths, env: Mapping[str, str] | None = None) -> int:
    """Run the app on this terminal; the exit code for ``shimmy-onboard``."""
    env = os.environ if env is None else env
    app = OnboardingApp(default_services(paths, env))
    outcome = app.run() or app.outcome
    return EXIT_FAILED if outcome.error else EXIT_OK
