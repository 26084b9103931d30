"""What a user gets from a plain, non-editable ``pip install .``: styles and schema included."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def installed_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The package built as a wheel and installed into a folder of its own."""
    work = tmp_path_factory.mktemp("wheel")
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run(
        [*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(work / "dist"), str(REPO)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    [wheel] = (work / "dist").glob("shimmy_onboard-*.whl")
    subprocess.run(
        [*pip, "install", "--no-deps", "--target", str(work / "site"), str(wheel)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    return work


def run_installed(installed_copy: Path, code: str) -> str:
    # Run from an empty folder so that the source checkout cannot be imported instead.
    empty = installed_copy / "cwd"
    empty.mkdir(exist_ok=True)
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=empty,
        env={**os.environ, "PYTHONPATH": str(installed_copy / "site")},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_the_wheel_carries_the_stylesheets_and_the_schema(installed_copy: Path) -> None:
    [wheel] = (installed_copy / "dist").glob("*.whl")
    names = zipfile.ZipFile(wheel).namelist()

    for stylesheet in (REPO / "styles").glob("*.tcss"):
        assert f"shimmy_onboard/styles/{stylesheet.name}" in names
    assert "shimmy_onboard/payload.schema.json" in names


def test_the_installed_package_finds_its_own_stylesheets(installed_copy: Path) -> None:
    output = run_installed(
        installed_copy,
        "import json, shimmy_onboard, shimmy_onboard.styles as s;"
        "print(json.dumps([shimmy_onboard.__file__, [str(p) for p in s.stylesheet_paths()]]))",
    )
    package_file, stylesheets = json.loads(output)

    site = str(installed_copy / "site")
    assert package_file.startswith(site)
    assert stylesheets and all(path.startswith(site) for path in stylesheets)
    assert all(Path(path).is_file() for path in stylesheets)


def test_the_installed_tui_loads_its_styles_and_draws(installed_copy: Path) -> None:
    # A real Textual app from the installed copy, headless: CSS that failed to load or
    # parse would raise before the first frame.
    output = run_installed(
        installed_copy,
        "import asyncio\n"
        "from textual.app import App\n"
        "from shimmy_onboard.styles import stylesheet_paths\n"
        "class Probe(App[None]):\n"
        "    CSS_PATH = stylesheet_paths()\n"
        "async def main():\n"
        "    app = Probe()\n"
        "    async with app.run_test(size=(80, 24)) as pilot:\n"
        "        await pilot.pause()\n"
        "    print('drawn', len(app.stylesheet.rules) > 0)\n"
        "asyncio.run(main())\n",
    )

    assert output.strip() == "drawn True"
