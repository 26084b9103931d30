"""After a decision: what was recorded, where, and how to change it."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Button, Footer, Static

from shimmy_onboard import messages
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
        opt_out_by = state.opt_out_by
        with VerticalScroll(id="done", classes="pane"):
            title = messages.confirmation_title(enabled, opt_out_by)
            if enabled and opt_out_by is None:
                title = f"✔ {title} Thank you!"
            yield Static(title, id="done-title")
            detail = messages.confirmation_detail(enabled, opt_out_by)
            if not enabled:
                detail += " Shimmy will not ask again."  # said here, after the question
            yield Static(detail, classes="paragraph")
            # What went wrong on the way, though the decision itself was saved.
            if self.change.backup:
                kept = services.show_path(Path(self.change.backup))
                yield Static(messages.backup_notice(kept), classes="note")
            if self.change.ledger_error:
                yield Static(messages.ledger_warning(self.change.ledger_error), classes="note")
            recorded = [
                f"enabled          {str(metrics.enabled).lower()}",
                f"last_updated     {metrics.last_updated}",
                f"consent_version  {metrics.consent_version}",
            ]
            if enabled:
                recorded.insert(1, f"session_id       {metrics.session_id}")
            yield Static("Recorded:", classes="recorded")
            yield Static("\n".join(recorded), classes="recorded-values")
            where = [f"In {services.show_path(services.paths.config_file)}"]
            if not self.change.ledger_error:
                where.append(f"Logged in {services.show_path(services.paths.ledger_file)}")
            yield Static("\n".join(where), classes="where")
            yield Static(messages.change_hint(enabled), classes="hint")
            if opt_out_by and not enabled:
                yield Static(messages.opt_out_note(opt_out_by), classes="note")
        with Horizontal(id="actions"):
            yield ChoiceButton("Done", id="close", variant="primary")
        yield Footer()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "close":
            self.action_leave()

    def action_leave(self) -> None:
        app: OnboardingApp = self.app  # type: ignore[assignment]
        app.leave()
