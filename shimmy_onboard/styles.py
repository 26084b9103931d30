"""Where the TUI's stylesheets are: ``styles/`` at the top of a source checkout, or
``shimmy_onboard/styles/`` inside an installed wheel (pyproject force-includes them).

Textual resolves a relative ``CSS_PATH`` against the module that declares it, so the
app is given absolute paths from here. This module imports nothing heavy.
"""

from __future__ import annotations

from pathlib import Path

#: The stylesheets, in the order they are applied (later rules win).
STYLESHEETS = ("app.tcss", "welcome.tcss", "settings.tcss")

_PACKAGE_DIR = Path(__file__).resolve().parent


def styles_dir() -> Path:
    """The folder holding the ``.tcss`` files, whichever way the package was installed."""
    for candidate in (_PACKAGE_DIR / "styles", _PACKAGE_DIR.parent / "styles"):
        if (candidate / STYLESHEETS[0]).is_file():
            return candidate
    raise FileNotFoundError(
        f"the TUI's stylesheets are missing: looked in {_PACKAGE_DIR / 'styles'} "
        f"and {_PACKAGE_DIR.parent / 'styles'}"
    )


def stylesheet_paths() -> list[Path]:
    """Absolute paths of every stylesheet, for ``App.CSS_PATH``."""
    folder = styles_dir()
    return [folder / name for name in STYLESHEETS]
