"""The spec's consent texts as one widget, styled by component classes in the stylesheet.

One widget rather than a Static per paragraph: the welcome screen's first frame is
measured against a bare Textual app, and every widget costs a little on the way there.
"""

from __future__ import annotations

from typing import ClassVar

from textual.content import Content
from textual.widget import Widget

from shimmy_onboard import prompt as texts


class ConsentText(Widget):
    """🚀 Welcome, 📊 Help Improve Shimmy, what is and is never collected."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "consent--title",
        "consent--heading",
        "consent--collected",
        "consent--not-collected",
        "consent--hint",
    }

    def render(self) -> Content:
        style = self.get_visual_style
        never = "\n".join(f" • {item}" for item in texts.NEVER_COLLECTED)
        return Content.assemble(
            (f"{texts.WELCOME_EMOJI} {texts.WELCOME_TITLE}", style("consent--title")),
            "\n\n",
            (f"{texts.HELP_EMOJI} {texts.HELP_TITLE}", style("consent--heading")),
            "\n",
            texts.HELP_TEXT.replace(" \n", " "),
            "\n\n",
            (texts.COLLECTED_LINE, style("consent--collected")),
            "\n",
            (texts.NOT_COLLECTED_LINE, style("consent--not-collected")),
            "\n\n",
            (f"{texts.NEVER_EMOJI} {texts.NEVER_COLLECTED_TITLE}", style("consent--heading")),
            "\n",
            never,
            "\n\n",
            (
                "Press p for the full data policy. Nothing is sent unless you enable it.",
                style("consent--hint"),
            ),
        )
