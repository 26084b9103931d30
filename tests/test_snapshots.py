"""Every screen, drawn in a fixed state and compared with its accepted snapshot.

The states (machine, clock, session id, home folder, terminal size) live in
``tests/screens/states.py``; ``make screenshots`` draws the same ones into ``screenshots/``.
After an intended change of a screen: ``pytest tests/test_snapshots.py --snapshot-update``,
then look at the new SVGs before committing them.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.screens.states import STATES, ScreenState


@pytest.fixture(autouse=True)
def colours_on(monkeypatch: pytest.MonkeyPatch) -> None:
    # Textual draws monochrome under NO_COLOR; the snapshots are in colour.
    monkeypatch.delenv("NO_COLOR", raising=False)


@pytest.mark.parametrize("state", STATES, ids=[state.name for state in STATES])
def test_each_screen_looks_as_accepted(
    state: ScreenState, tmp_path: Path, snap_compare: Callable[..., bool]
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    scene = state.build(home)
    try:
        same: Any = snap_compare(scene.app, terminal_size=state.size, run_before=scene.run_before)
    finally:
        scene.release()
    assert same, f"{state.caption} differs from its snapshot (see snapshot_report.html)"
