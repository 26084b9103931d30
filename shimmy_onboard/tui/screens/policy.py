"""The full data policy: the spec's sections on what is collected and what happens to it."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Markdown

POLICY_FILE = Path(__file__).resolve().parent.parent / "policy.md"


class PolicyScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Back"),
        Binding("q", "close", "Back", show=False),
        Binding("p", "close", "Back", show=False),
    ]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="policy-scroll"):
            yield Markdown(POLICY_FILE.read_text(encoding="utf-8"), id="policy")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#policy-scroll").focus()

    def action_close(self) -> None:
        self.dismiss()
