"""Detection and the payload preview run in a worker: the first frame never waits for them."""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Static
from textual.worker import Worker, WorkerState

from shimmy_onboard.tui.services import ValidatorResult
from shimmy_onboard.tui.widgets.preview import PreviewPane
from shimmy_onboard.vocab import Decision

if TYPE_CHECKING:
    from shimmy_onboard.hardware import MachineFacts as Machine
    from shimmy_onboard.tui.app import OnboardingApp

PREVIEW_GROUP = "preview"

#: ``r`` switches the preview between readable JSON and the raw bytes; the footer shows
#: the one that applies (``PreviewingScreen.check_action``).
RAW_BINDINGS = [
    Binding("r", "show_raw", "Raw bytes"),
    Binding("r", "show_readable", "Readable"),
]


class Preview(NamedTuple):
    machine: Machine | None
    body: bytes  # exactly what the next send would transmit
    is_example: bool
    verdict: ValidatorResult | None  # the privacy validator over ``body``, when asked for


class PreviewingScreen(Screen[None]):
    """A screen with a ``PreviewPane`` that fills in once detection finishes.

    Its first frame carries everything needed to decide; right after it, the footer
    takes the row reserved for it (``#footer-slot``) and detection starts. Both wait
    so the first frame does not (Textual's Footer costs about a fifth of it).
    """

    def compose_footer_slot(self) -> Static:
        return Static("", id="footer-slot")

    def on_mount(self) -> None:
        self.call_after_refresh(self._after_first_frame)

    async def _after_first_frame(self) -> None:
        from textual.widgets import Footer

        if not self.is_attached:
            return  # the app closed within its first frame
        self.refresh_preview()
        await self.query_one("#footer-slot").remove()
        if self.is_attached:
            await self.mount(Footer())
            self.refresh_bindings()  # a footer shows the bindings once told they are ready

    machine: Machine | None = None
    #: Whether the privacy validator runs over each new preview (the settings screen).
    validates = False

    @property
    def onboarding(self) -> OnboardingApp:
        from shimmy_onboard.tui.app import OnboardingApp

        assert isinstance(self.app, OnboardingApp)
        return self.app

    def preview_session_id(self) -> str | None:
        """The id the preview carries: the recorded one while that consent is current, else
        the one that enabling here would record (a disable kept the old id, and consent to
        an older schema is asked again: enabling mints a new one in both cases)."""
        state = self.onboarding.consent_state()
        current_consent = state.decision is Decision.ENABLED and not state.needs_reconsent
        if current_consent and state.session_id is not None:
            return state.session_id
        return self.onboarding.session_id

    def refresh_preview(self) -> None:
        session_id = self.preview_session_id()
        services = self.onboarding.services
        known = self.machine
        validates = self.validates

        def detect_and_build() -> Preview:
            machine = known if known is not None else services.detect()
            body, is_example = services.preview(services, machine, session_id)
            verdict = services.validate(services.paths, body) if validates else None
            return Preview(machine, body, is_example, verdict)

        self.run_worker(
            detect_and_build, thread=True, exclusive=True, group=PREVIEW_GROUP, exit_on_error=False
        )

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group != PREVIEW_GROUP:
            return
        pane = self.query_one(PreviewPane)
        if event.state is WorkerState.SUCCESS:
            preview = event.worker.result
            assert isinstance(preview, Preview)
            self.machine = preview.machine
            pane.show(preview.machine, preview.body, preview.is_example)
            if preview.verdict is not None:
                self.show_verdict(preview.verdict)
        elif event.state is WorkerState.ERROR:
            error = event.worker.error
            pane.show_error(f"{type(error).__name__}: {error}")

    def show_verdict(self, verdict: ValidatorResult) -> None:
        """Screens that set ``validates`` show the privacy validator's result."""

    #: Whether the preview shows the raw bytes; the footer's ``r`` offers the other form.
    raw_shown = False

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # Two ``r`` bindings, one shown at a time: the footer names what ``r`` does now.
        if action == "show_raw":
            return not self.raw_shown
        if action == "show_readable":
            return self.raw_shown
        return True

    def action_show_raw(self) -> None:
        self._set_raw(True)

    def action_show_readable(self) -> None:
        self._set_raw(False)

    def _set_raw(self, raw: bool) -> None:
        self.raw_shown = raw
        self.query_one(PreviewPane).set_raw(raw)
        self.refresh_bindings()
