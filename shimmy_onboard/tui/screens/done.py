"""After a decision: what was recorded, where, and how to change it."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Button, Footer, Static

from shimmy_onboard.consent import DecisionChange
from shimmy_onboard.tui.widgets.choice import ChoiceButton
from shimmy_onboard.vocab import Decision

if TYPE_CHECKING:
    from shimmy_onboard.tui.app import OnboardingApp


class DoneScreen(Screen[None]):
    AUTO_FOCUS = "#close"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "leave", "Quit"),
        Binding("escape", "leave", "Quit", show=False),
    ]

    def __init__(self, change: DecisionChange) -> None:
        super().__init__()
        self.change = change

    def compose(self) -> ComposeResult:
        app: OnboardingApp = self.app  # type: ignore[assignment]
        services = app.services
        enabled = self.change.after is Decision.ENABLED
        metrics = self.change.metrics
        state = app.consent_state()
        with VerticalScroll(id="done", classes="pane"):
            if enabled:
                yield Static("✔ Metrics enabled. Thank you!", id="done-title")
                yield Static(
                    "One anonymous report is sent when Shimmy shuts down, at most once a "
                    "session. See it first any time: shimmy config --metrics preview",
                    classes="paragraph",
                )
            else:
                yield Static("Metrics disabled.", id="done-title")
                yield Static(
                    "Nothing is collected or sent. Shimmy will not ask again.",
                    classes="paragraph",
                )
            recorded = [
                f"enabled          {str(metrics.enabled).lower()}",
                f"last_updated     {metrics.last_updated}",
                f"consent_version  {metrics.consent_version}",
            ]
            if enabled:
                recorded.insert(1, f"session_id       {metrics.session_id}")
            yield Static("Recorded:", classes="recorded")
            yield Static("\n".join(recorded), classes="recorded-values")
            yield Static(
                f"In {services.show_path(services.paths.config_file)}\n"
                f"Logged in {services.show_path(services.paths.ledger_file)}",
                classes="where",
            )
            verb = "disable" if enabled else "enable"
            yield Static(
                f"Change it any time: shimmy config --metrics {verb}, or run shimmy-onboard again.",
                classes="hint",
            )
            if state.opt_out_by:
                yield Static(
                    f"{state.opt_out_by} is set: nothing is sent while it is.", classes="note"
                )
        with Horizontal(id="actions"):
            yield ChoiceButton("Done", id="close", variant="primary")
        yield Footer()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "close":
            self.action_leave()

    def action_leave(self) -> None:
        app: OnboardingApp = self.app  # type: ignore[assignment]
        app.leave()
