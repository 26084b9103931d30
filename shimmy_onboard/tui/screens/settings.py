"""The settings screen, for people who already decided: change it, see it, export it."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Container, Horizontal, VerticalScroll
from textual.widgets import Button, Label, Static, Switch

from shimmy_onboard.consent import ConsentState
from shimmy_onboard.tui.screens._preview_worker import RAW_BINDINGS, PreviewingScreen
from shimmy_onboard.tui.services import ValidatorResult, export_target
from shimmy_onboard.tui.widgets.choice import ChoiceButton
from shimmy_onboard.tui.widgets.preview import PreviewPane
from shimmy_onboard.vocab import Decision


class SettingsScreen(PreviewingScreen):
    AUTO_FOCUS = "#metrics-switch"
    validates = True
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("s", "switch", "Switch metrics on/off"),
        Binding("e", "export", "Export"),
        Binding("p", "policy", "Data policy"),
        *RAW_BINDINGS,
        Binding("q", "leave", "Quit"),
        Binding("escape", "leave", "Quit", show=False),
    ]

    def compose(self) -> ComposeResult:
        state = self.onboarding.consent_state()
        with Container(id="panes"):
            with VerticalScroll(id="settings", classes="pane"):
                yield Static("📊 Shimmy metrics settings", id="settings-title")
                with Horizontal(id="switch-row"):
                    yield Switch(
                        value=state.decision is Decision.ENABLED,
                        id="metrics-switch",
                        animate=False,
                    )
                    yield Label("Send anonymous usage metrics", id="switch-label")
                yield Static(self._status_text(state), id="status")
                yield Static("Privacy check: running…", id="validator")
                yield Static("", id="export-result")
            yield PreviewPane(id="preview-pane")
        with Horizontal(id="actions"):
            yield ChoiceButton("Export my data", id="export", variant="primary")
            yield ChoiceButton("Close", id="close", variant="default")
        yield self.compose_footer_slot()

    def _status_text(self, state: ConsentState) -> str:
        services = self.onboarding.services
        since = f" since {state.since}" if state.since else ""
        lines = [
            f"Your decision: {state.decision.value}{since}",
            f"Sending: {'yes' if state.sending else 'no'} — {state.explain()}",
        ]
        if state.opt_out_by:
            lines.append(f"Override: {state.opt_out_by} wins over the switch while it is set.")
        lines.append(f"Config: {services.show_path(services.paths.config_file)}")
        return "\n".join(lines)

    def on_switch_changed(self, event: Switch.Changed) -> None:
        state = self.onboarding.consent_state()
        if event.value == (state.decision is Decision.ENABLED):
            return  # already what the config says (the switch was set to match it)
        if self.onboarding.record(event.value) is None:
            event.switch.value = not event.value  # could not save: show what is true
            return
        self.query_one("#status", Static).update(self._status_text(self.onboarding.consent_state()))
        self.query_one(PreviewPane).show_pending()
        self.query_one("#validator", Static).update("Privacy check: running…")
        self.refresh_preview()

    def action_switch(self) -> None:
        """``s``: the same as flipping the switch (``on_switch_changed`` records it)."""
        self.query_one("#metrics-switch", Switch).toggle()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "export":
            self.action_export()
        elif event.button.id == "close":
            self.action_leave()

    def action_export(self) -> None:
        services = self.onboarding.services
        target = export_target(services.paths, services.clock)
        result = self.query_one("#export-result", Static)
        try:
            services.export(services.paths, target, services.clock)
        except OSError as error:
            message = f"Export failed: {error.strerror or error}"
            result.update(message)
            self.notify(message, title="Export", severity="error", timeout=10)
            return
        # The toast shows at any size; the line below the status stays for later reading.
        message = f"Exported to {target}"
        result.update(message)
        self.notify(message, title="Export", timeout=10)

    def show_verdict(self, verdict: ValidatorResult) -> None:
        label = self.query_one("#validator", Static)
        heading = "Privacy check passed" if verdict.passed else "Privacy check FOUND A PROBLEM"
        label.update(f"{heading} (the preview's body):\n" + "\n".join(verdict.lines))
        label.set_class(not verdict.passed, "-failed")

    def action_policy(self) -> None:
        from shimmy_onboard.tui.screens.policy import PolicyScreen

        self.app.push_screen(PolicyScreen())

    def action_leave(self) -> None:
        self.onboarding.leave()
