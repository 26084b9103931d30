"""``make screenshots``: every state in ``states.py`` as ``screenshots/NAME.svg``, plus PNGs
where ``rsvg-convert`` is installed (Debian: librsvg2-bin, with fonts-firacode).

Run: ``python -m tests.screens.render [OUTPUT_DIR]`` (default ``screenshots``).
The SVGs come from the function the snapshot tests use, so they show the same screens.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from tests.screens.states import STATES, ScreenState


def render_svg(state: ScreenState) -> str:
    """The state's screen as an SVG, exactly as ``snap_compare`` takes it."""
    from textual._doc import take_svg_screenshot

    with tempfile.TemporaryDirectory(prefix="shimmy-screens-") as home:
        scene = state.build(Path(home))
        try:
            return take_svg_screenshot(
                app=scene.app, terminal_size=state.size, run_before=scene.run_before
            )
        finally:
            scene.release()


def main(arguments: list[str]) -> int:
    output = Path(arguments[0] if arguments else "screenshots")
    output.mkdir(parents=True, exist_ok=True)
    converter = shutil.which("rsvg-convert")
    for state in STATES:
        svg_path = output / f"{state.name}.svg"
        svg_path.write_text(render_svg(state), encoding="utf-8")
        written = [svg_path.name]
        if converter:
            png_path = svg_path.with_suffix(".png")
            subprocess.run([converter, "-o", str(png_path), str(svg_path)], check=True)
            written.append(png_path.name)
        print(f"{state.caption}: {', '.join(written)}")
    if not converter:
        print("rsvg-convert not found: SVGs only (apt-get install librsvg2-bin)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    # Screens must not depend on the machine they are drawn on.
    for variable in ("DO_NOT_TRACK", "SHIMMY_NO_METRICS", "CI", "SHIMMY_VERSION", "NO_COLOR"):
        os.environ.pop(variable, None)
    sys.exit(main(sys.argv[1:]))
