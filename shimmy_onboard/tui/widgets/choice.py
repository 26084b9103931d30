"""The app's buttons: Textual's Button, drawn by our stylesheet alone.

``inherit_css=False`` leaves out Button's own default stylesheet (7 KB of rules for every
variant and state), which Textual would otherwise parse and match against every widget
before the first frame. Behaviour is Button's: Enter, a click, ``Button.Pressed``.
"""

from __future__ import annotations

from textual.widgets import Button


class ChoiceButton(Button, inherit_css=False):
    """A Button styled only by ``styles/app.tcss`` (``ChoiceButton`` rules)."""
