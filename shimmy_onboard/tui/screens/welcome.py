"""The welcome and consent screen: the spec's texts beside the live preview."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Container, Horizontal, VerticalScroll
from textual.widgets import Button, Static

from shimmy_onboard.consent import ConsentState
from shimmy_onboard.tui.screens._preview_worker import RAW_BINDINGS, PreviewingScreen
from shimmy_onboard.tui.widgets.choice import ChoiceButton
from shimmy_onboard.tui.widgets.consent_text import ConsentText
from shimmy_onboard.tui.widgets.preview import PreviewPane
from shimmy_onboard.vocab import SCHEMA_VERSION

#: What each payload schema version changed, for people asked again after a change.
SCHEMA_CHANGES: dict[int, str] = {
    1: "The first published payload: the fields in the preview.",
}


class WelcomeScreen(PreviewingScreen):
    # Focused as the screen mounts: Enter means yes, as the prompt's [Y/n].
    AUTO_FOCUS = "#enable"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "decide(True)", "Enable"),
        Binding("n", "decide(False)", "No thanks"),
        Binding("p", "policy", "Data policy"),
        *RAW_BINDINGS,
        Binding("q", "leave", "Not now"),
        Binding("escape", "leave", "Not now", show=False),
    ]

    def __init__(self, state: ConsentState) -> None:
        super().__init__()
        self.state = state

    def compose(self) -> ComposeResult:
        with Container(id="panes"):
            with VerticalScroll(id="consent", classes="pane"):
                yield from self._notes()
                yield ConsentText(id="consent-text")
            yield PreviewPane(id="preview-pane")
        with Horizontal(id="actions"):
            yield ChoiceButton("Enable metrics", id="enable", variant="success")
            yield ChoiceButton("No thanks", id="decline", variant="default")
        yield self.compose_footer_slot()

    def _notes(self) -> ComposeResult:
        if self.state.needs_reconsent:
            agreed = self.state.consent_version or 0
            changes = [
                f"  v{version}: {SCHEMA_CHANGES.get(version, 'see the preview')}"
                for version in range(agreed + 1, SCHEMA_VERSION + 1)
            ]
            yield Static(
                "\n".join(
                    [
                        f"The payload changed since you agreed (version {agreed}, now "
                        f"{SCHEMA_VERSION}). Nothing is sent until you agree again.",
                        *changes,
                    ]
                ),
                id="reconsent",
                classes="note",
            )
        if self.state.opt_out_by:
            yield Static(
                f"{self.state.opt_out_by} is set: nothing is sent while it is, "
                "whatever you choose here.",
                classes="note",
            )

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id in ("enable", "decline"):
            self.action_decide(event.button.id == "enable")

    def action_decide(self, enable: bool) -> None:
        from shimmy_onboard.tui.screens.done import DoneScreen

        change = self.onboarding.record(enable)
        if change is not None:
            self.app.push_screen(DoneScreen(change))

    def action_policy(self) -> None:
        from shimmy_onboard.tui.screens.policy import PolicyScreen

        self.app.push_screen(PolicyScreen())

    def action_leave(self) -> None:
        self.onboarding.leave()
