"""The live preview: what was detected, and the exact body the next send would transmit.

The body is shown pretty-printed for reading, with a note that it is sent compact and
byte-for-byte this content; ``r`` shows the compact bytes themselves, as they go out.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

if TYPE_CHECKING:
    from shimmy_onboard.hardware import MachineFacts as Machine

PENDING = "detecting…"


class PreviewPane(VerticalScroll):
    """Detected facts above the syntax-highlighted payload; it all scrolls together."""

    BORDER_TITLE = "Preview: exactly what would be sent"

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, classes="pane")
        self.body: bytes | None = None
        self.is_example = False
        self.raw = False

    def compose(self) -> ComposeResult:
        yield Static(self._facts_text(None), id="detected")
        yield Static(f"Building the payload: {PENDING}", id="payload")
        yield Static("", id="payload-note")

    def show_pending(self) -> None:
        self.body = None
        self.query_one("#detected", Static).update(self._facts_text(None))
        self.query_one("#payload", Static).update(f"Building the payload: {PENDING}")
        self.query_one("#payload-note", Static).update("")

    def show(self, machine: Machine | None, body: bytes, is_example: bool) -> None:
        self.body = body
        self.is_example = is_example
        self.query_one("#detected", Static).update(self._facts_text(machine))
        self._render_body()

    def show_error(self, message: str) -> None:
        self.query_one("#payload", Static).update(f"The preview could not be built: {message}")
        self.query_one("#payload-note", Static).update("")

    def set_raw(self, raw: bool) -> None:
        self.raw = raw
        if self.body is not None:
            self._render_body()

    def _render_body(self) -> None:
        import json

        from rich.syntax import Syntax  # Pygments: only once there is something to show

        assert self.body is not None
        text = self.body.decode("utf-8")
        if not self.raw:
            text = json.dumps(json.loads(text), indent=2, ensure_ascii=False)
        theme = "ansi_dark" if self.app.current_theme.dark else "ansi_light"
        self.query_one("#payload", Static).update(
            Syntax(text, "json", theme=theme, word_wrap=True, background_color=None)
        )
        what = "Example for this machine, now." if self.is_example else "Queued, oldest first."
        form = "Exactly the bytes sent" if self.raw else "Sent compact, byte for byte this JSON"
        toggle = "r: readable" if self.raw else "r: raw bytes"
        self.query_one("#payload-note", Static).update(
            f"{what} {form} ({len(self.body)} bytes). {toggle}"
        )

    @staticmethod
    def _facts_text(machine: Machine | None) -> str:
        if machine is None:
            return f"Detected here: {PENDING} (tier, GPU vendor, platform, region)"
        return (
            f"Detected here: tier {machine.hardware_tier.value} · GPU {machine.gpu_vendor.value}"
            f" · {machine.platform.value} · region {machine.region_indicator.value}"
        )
