"""The TUI's flows, driven by Textual's Pilot, checked against the files they write."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from rich.syntax import Syntax
from textual.widgets import Static, Switch

from shimmy_onboard.consent import load_state, read_ledger
from shimmy_onboard.hardware import MachineFacts
from shimmy_onboard.paths import ShimmyPaths
from shimmy_onboard.transparency import export_document, preview_body
from shimmy_onboard.tui.app import OnboardingApp, Outcome
from shimmy_onboard.tui.screens.done import DoneScreen
from shimmy_onboard.tui.screens.policy import PolicyScreen
from shimmy_onboard.tui.screens.settings import SettingsScreen
from shimmy_onboard.tui.screens.welcome import WelcomeScreen
from shimmy_onboard.tui.widgets.preview import PreviewPane
from shimmy_onboard.vocab import Decision
from tests.screens.states import (
    FIXED_SESSION_ID,
    decide,
    fixed_clock,
    fixed_machine,
    home_paths,
    make_services,
    settle,
)

SIZE = (100, 30)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    folder = tmp_path / "home"
    folder.mkdir()
    return folder


def app_for(home: Path, **options: Any) -> OnboardingApp:
    return OnboardingApp(make_services(home, **options))


def ledger_sources(paths: ShimmyPaths) -> list[tuple[str, str]]:
    return [(entry["to"], entry["source"]) for entry in read_ledger(paths)]


def recorded(paths: ShimmyPaths) -> Decision:
    return load_state(paths, {}).decision


async def decide_with(home: Path, *keys: str, click: str | None = None) -> Outcome | None:
    app = app_for(home)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, WelcomeScreen)
        if click:
            await pilot.click(click)
        await pilot.press(*keys)
        await pilot.pause()
        if isinstance(app.screen, DoneScreen):
            await pilot.press("enter")  # the Done button is focused
            await pilot.pause()
    return app.return_value


@pytest.mark.parametrize(
    ("keys", "click", "expected"),
    [
        (("y",), None, Decision.ENABLED),
        (("n",), None, Decision.DISABLED),
        (("enter",), None, Decision.ENABLED),  # Enable is focused: Enter means yes, as [Y/n]
        ((), "#enable", Decision.ENABLED),
        ((), "#decline", Decision.DISABLED),
    ],
    ids=["y", "n", "enter", "click-enable", "click-no-thanks"],
)
async def test_each_way_of_deciding_writes_the_config_and_the_ledger_as_tui(
    home: Path, keys: tuple[str, ...], click: str | None, expected: Decision
) -> None:
    outcome = await decide_with(home, *keys, click=click)

    paths = home_paths(home)
    assert recorded(paths) is expected
    assert ledger_sources(paths) == [(expected.value, "tui")]
    assert outcome == Outcome(recorded=expected)


async def test_enabling_records_the_session_id_the_preview_showed(home: Path) -> None:
    app = app_for(home)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        shown = json.loads(app.screen.query_one(PreviewPane).body or b"")
        await pilot.press("y")
        await pilot.pause()

    config = json.loads(home_paths(home).config_file.read_text())
    assert shown[0]["session_id"] == config["metrics"]["session_id"] == FIXED_SESSION_ID


@pytest.mark.parametrize("key", ["q", "escape"])
async def test_leaving_the_welcome_screen_records_nothing(home: Path, key: str) -> None:
    outcome = await decide_with(home, key)

    paths = home_paths(home)
    assert not paths.config_file.exists()
    assert read_ledger(paths) == []
    assert outcome == Outcome()


async def test_the_done_screen_says_what_was_recorded_where_and_how_to_change_it(
    home: Path,
) -> None:
    app = app_for(home)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("n")
        await pilot.pause()
        assert isinstance(app.screen, DoneScreen)
        text = " ".join(str(static.content) for static in app.screen.query(Static))

    assert "Metrics disabled." in text
    assert "~/.config/shimmy/config.json" in text
    assert "shimmy config --metrics enable" in text
    assert "run shimmy-onboard again" in text


async def test_the_preview_shows_exactly_the_body_the_next_send_would_transmit(
    home: Path,
) -> None:
    app = app_for(home)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        pane = app.screen.query_one(PreviewPane)
        await pilot.press("r")  # the raw bytes, as they go out
        await pilot.pause()
        raw = pane.query_one("#payload", Static).content
        note = str(pane.query_one("#payload-note", Static).content)

    expected, is_example = preview_body(
        home_paths(home),
        machine=fixed_machine(),
        clock=fixed_clock,
        session_id=FIXED_SESSION_ID,
        env={"HOME": str(home)},
        root=home,
    )
    assert pane.body == expected and is_example
    assert isinstance(raw, Syntax) and raw.code == expected.decode("utf-8")
    assert f"{len(expected)} bytes" in note


async def test_the_preview_waits_for_detection_without_holding_up_the_screen(
    home: Path,
) -> None:
    import threading

    release = threading.Event()

    def slow_detector() -> MachineFacts:
        release.wait(10)
        return fixed_machine()

    app = app_for(home, detect=slow_detector)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        pane = app.screen.query_one(PreviewPane)
        assert "detecting…" in str(pane.query_one("#detected", Static).content)
        assert pane.body is None
        # Deciding does not wait for detection either.
        await pilot.press("y")
        await pilot.pause()
        assert isinstance(app.screen, DoneScreen)
        release.set()
    assert recorded(home_paths(home)) is Decision.ENABLED


async def test_a_detector_that_fails_leaves_the_screen_usable(home: Path) -> None:
    def broken_detector() -> MachineFacts:
        raise OSError("sysfs is gone")

    app = app_for(home, detect=broken_detector)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        message = str(app.screen.query_one("#payload", Static).content)
        await pilot.press("n")
        await pilot.pause()

    assert "could not be built" in message and "sysfs is gone" in message
    assert recorded(home_paths(home)) is Decision.DISABLED


async def test_p_opens_the_data_policy_and_escape_comes_back_without_recording(
    home: Path,
) -> None:
    app = app_for(home)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("p")
        await pilot.pause()
        assert isinstance(app.screen, PolicyScreen)
        policy = app.screen.query_one("#policy").source  # type: ignore[attr-defined]
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, WelcomeScreen)

    assert "## What Is NOT Collected" in policy and "## Data Handling" in policy
    assert not home_paths(home).config_file.exists()


async def test_a_recorded_decision_opens_the_settings_and_the_switch_changes_it(
    home: Path,
) -> None:
    decide(home, enable=False)
    paths = home_paths(home)
    app = app_for(home)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, SettingsScreen)
        switch = app.screen.query_one("#metrics-switch", Switch)
        assert switch.value is False
        await pilot.click("#metrics-switch")
        await settle(pilot)
        assert recorded(paths) is Decision.ENABLED
        status = str(app.screen.query_one("#status", Static).content)
        await pilot.click("#metrics-switch")
        await settle(pilot)

    assert "Your decision: enabled since 2025-01-15T10:30:00Z" in status
    assert recorded(paths) is Decision.DISABLED
    assert ledger_sources(paths) == [
        ("disabled", "prompt"),
        ("enabled", "tui"),
        ("disabled", "tui"),
    ]


async def test_the_settings_name_the_override_that_wins(home: Path) -> None:
    decide(home, enable=True)
    app = app_for(home, env={"DO_NOT_TRACK": "1"})
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        status = str(app.screen.query_one("#status", Static).content)

    assert "Sending: no" in status
    assert "DO_NOT_TRACK wins over the switch" in status


async def test_the_settings_show_the_privacy_validators_result(home: Path) -> None:
    decide(home, enable=True)
    app = app_for(home)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        verdict = str(app.screen.query_one("#validator", Static).content)

    assert verdict.startswith("Privacy check passed")
    assert "✔ no file paths" in verdict


async def test_export_goes_to_the_metrics_folder_private_and_a_toast_names_the_whole_path(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from textual.widgets._toast import Toast

    decide(home, enable=True)
    paths = home_paths(home)
    working_folder = tmp_path / "a-repository"
    working_folder.mkdir()
    monkeypatch.chdir(working_folder)
    app = app_for(home)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await settle(pilot)
        await pilot.press("e")
        await pilot.pause()
        shown = str(app.screen.query_one("#export-result", Static).content)
        await pilot.pause()
        toasts = [(str(toast.render()), toast.region) for toast in app.screen.query(Toast)]
        await pilot.press("q")

    exported = paths.metrics_dir / "shimmy-metrics-export-20250115T103000Z.json"
    assert json.loads(exported.read_text()) == export_document(paths, fixed_clock)
    assert exported.stat().st_mode & 0o777 == 0o600
    assert shown == f"Exported to {exported}"
    [(toast_text, region)] = toasts
    assert str(exported) in toast_text.replace("\n", "")
    assert region.bottom <= 24 and region.right <= 80  # on screen at 80x24
    assert list(working_folder.iterdir()) == []  # nothing dropped where it was started
    assert app.return_value == Outcome()


async def test_export_creates_the_metrics_folder_when_there_is_none(home: Path) -> None:
    import shutil

    paths = home_paths(home)
    decide(home, enable=False)
    shutil.rmtree(paths.metrics_dir)  # the ledger's folder: gone, as on a fresh state dir
    app = app_for(home)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("e")
        await pilot.pause()

    assert [file.name for file in paths.metrics_dir.iterdir()] == [
        "shimmy-metrics-export-20250115T103000Z.json"
    ]


async def test_consent_to_an_older_schema_asks_again_and_says_what_changed(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from shimmy_onboard import consent
    from shimmy_onboard.tui.screens import welcome

    decide(home, enable=True)  # consent to schema version 1
    # The payload gains a field: version 2, as a future release would ship it.
    monkeypatch.setattr(consent, "SCHEMA_VERSION", 2)
    monkeypatch.setattr(welcome, "SCHEMA_VERSION", 2)
    monkeypatch.setitem(welcome.SCHEMA_CHANGES, 2, "adds a field")
    paths = home_paths(home)
    assert load_state(paths, {}).needs_reconsent

    app = app_for(home)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, WelcomeScreen)
        note = str(app.screen.query_one("#reconsent", Static).content)
        await pilot.press("y")
        await pilot.pause()

    assert "version 1, now 2" in note and "v2: adds a field" in note
    assert load_state(paths, {}).decided


async def test_the_panes_stack_below_100_columns_and_sit_side_by_side_above(home: Path) -> None:
    app = app_for(home)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        consent = app.screen.query_one("#consent").region
        preview = app.screen.query_one("#preview-pane").region
        assert consent.y == preview.y and consent.right <= preview.x  # side by side
        await pilot.resize_terminal(80, 24)
        await pilot.pause()
        consent = app.screen.query_one("#consent").region
        preview = app.screen.query_one("#preview-pane").region
        buttons = [app.screen.query_one(f"#{name}").region for name in ("enable", "decline")]

    assert consent.x == preview.x and consent.bottom <= preview.y  # stacked
    assert all(button.bottom <= 24 and button.height > 0 for button in buttons)


async def test_a_tiny_terminal_still_draws_and_still_decides(home: Path) -> None:
    app = app_for(home)
    async with app.run_test(size=(30, 10)) as pilot:
        await settle(pilot)
        await pilot.press("n")
        await pilot.pause()
        assert isinstance(app.screen, DoneScreen)

    assert recorded(home_paths(home)) is Decision.DISABLED


async def test_quitting_on_the_very_first_frame_is_clean(home: Path) -> None:
    class QuitsAtOnce(OnboardingApp):
        def on_mount(self) -> None:
            self.call_after_refresh(self.leave)

    app = QuitsAtOnce(make_services(home))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()

    assert app.return_code == 0
    assert app.return_value == Outcome()
    assert not home_paths(home).config_file.exists()


async def test_a_config_that_cannot_be_written_is_reported_and_ends_with_exit_3(
    home: Path,
) -> None:
    from shimmy_onboard.tui.app import exit_code

    paths = home_paths(home)
    paths.config_dir.parent.mkdir(parents=True)
    paths.config_dir.write_text("a file where the config folder should be")
    app = app_for(home)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("y")
        await pilot.pause()
        assert isinstance(app.screen, WelcomeScreen)  # nothing was recorded: still asking
        await pilot.press("q")

    outcome = app.return_value
    assert outcome is not None and outcome.recorded is None and outcome.error
    assert exit_code(outcome) == 3


@pytest.mark.parametrize("screen_keys", [(), ("y",)], ids=["welcome", "done"])
async def test_ctrl_c_leaves_at_once_records_nothing_more_and_exits_130(
    home: Path, screen_keys: tuple[str, ...]
) -> None:
    from shimmy_onboard.tui.app import exit_code

    app = app_for(home)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press(*screen_keys)
        await pilot.pause()
        before = read_ledger(home_paths(home))
        await pilot.press("ctrl+c")
        await pilot.pause()

    outcome = app.return_value
    assert outcome is not None and outcome.interrupted
    assert exit_code(outcome) == 130 and app.return_code == 130
    assert read_ledger(home_paths(home)) == before  # Ctrl-C itself recorded nothing
    if not screen_keys:
        assert not home_paths(home).config_file.exists()


def footer_labels(app: OnboardingApp) -> dict[str, str]:
    from textual.widgets._footer import FooterKey

    return {key.key: key.description for key in app.screen.query(FooterKey)}


async def test_the_footer_names_what_r_does_now_raw_bytes_or_readable(home: Path) -> None:
    app = app_for(home)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        first = footer_labels(app)["r"]
        await pilot.press("r")
        await pilot.pause()
        pane = app.screen.query_one(PreviewPane)
        after_one = (footer_labels(app)["r"], pane.raw)
        await pilot.press("r")
        await pilot.pause()
        after_two = (footer_labels(app)["r"], pane.raw)

    assert first == "Raw bytes"
    assert after_one == ("Readable", True)
    assert after_two == ("Raw bytes", False)


async def test_s_in_the_settings_footer_switches_metrics_on_and_off(home: Path) -> None:
    decide(home, enable=False)
    paths = home_paths(home)
    app = app_for(home)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        label = footer_labels(app).get("s")
        await pilot.press("s")
        await settle(pilot)
        switched_on = (recorded(paths), app.screen.query_one("#metrics-switch", Switch).value)
        await pilot.press("s")
        await settle(pilot)

    assert label == "Switch metrics on/off"
    assert switched_on == (Decision.ENABLED, True)
    assert recorded(paths) is Decision.DISABLED
    assert ledger_sources(paths)[-2:] == [("enabled", "tui"), ("disabled", "tui")]


async def test_the_settings_status_lines_show_whole_at_80x24(home: Path) -> None:
    decide(home, enable=True)
    app = app_for(home, env={"DO_NOT_TRACK": "1"})  # the longest status: four rules
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        pane = app.screen.query_one("#settings").content_region
        status = app.screen.query_one("#status").region

    assert pane.y <= status.y and status.bottom <= pane.bottom


async def test_the_done_screen_says_where_an_unusable_config_was_kept(home: Path) -> None:
    paths = home_paths(home)
    paths.config_dir.mkdir(parents=True)
    paths.config_file.write_text("{not json")
    app = app_for(home)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("y")
        await pilot.pause()
        assert isinstance(app.screen, DoneScreen)
        text = " ".join(str(static.content) for static in app.screen.query(Static))

    [kept] = paths.config_dir.glob("config.json.corrupt-*")
    assert f"kept as ~/.config/shimmy/{kept.name}" in text
    assert kept.read_text() == "{not json"


async def test_the_done_screen_warns_when_the_consent_ledger_could_not_be_written(
    home: Path,
) -> None:
    paths = home_paths(home)
    paths.metrics_dir.parent.mkdir(parents=True)
    paths.metrics_dir.write_text("a file where the metrics folder should be")
    app = app_for(home)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("n")
        await pilot.pause()
        assert isinstance(app.screen, DoneScreen)
        text = " ".join(str(static.content) for static in app.screen.query(Static))

    assert "cannot write the consent ledger" in text
    assert "Your decision was saved in the config" in text
    assert "Logged in" not in text
    assert recorded(paths) is Decision.DISABLED


async def test_asked_again_for_a_newer_schema_the_preview_shows_the_id_enabling_records(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from shimmy_onboard import consent
    from shimmy_onboard.clock import format_utc

    old_id = "11111111-2222-4333-8444-555555555555"
    record_decision_with_id(home, old_id)
    monkeypatch.setattr(consent, "SCHEMA_VERSION", 2)  # the payload changed since
    app = app_for(home)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, WelcomeScreen)
        shown = json.loads(app.screen.query_one(PreviewPane).body or b"")[0]["session_id"]
        await pilot.press("y")
        await pilot.pause()

    config = json.loads(home_paths(home).config_file.read_text())["metrics"]
    assert shown == config["session_id"] == FIXED_SESSION_ID != old_id
    assert config["last_updated"] == format_utc(fixed_clock())


async def test_after_a_disable_the_settings_preview_shows_the_id_enabling_would_record(
    home: Path,
) -> None:
    old_id = "11111111-2222-4333-8444-555555555555"
    record_decision_with_id(home, old_id)
    consent_record(home, enable=False)  # a disable keeps the old id in the config
    app = app_for(home)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, SettingsScreen)
        shown = json.loads(app.screen.query_one(PreviewPane).body or b"")[0]["session_id"]
        await pilot.press("s")
        await settle(pilot)

    config = json.loads(home_paths(home).config_file.read_text())["metrics"]
    assert shown == config["session_id"] == FIXED_SESSION_ID


def record_decision_with_id(home: Path, session_id: str) -> None:
    from shimmy_onboard.consent import record_decision
    from shimmy_onboard.vocab import ConsentSource

    record_decision(
        home_paths(home),
        enable=True,
        source=ConsentSource.CLI,
        clock=fixed_clock,
        mint_id=lambda: session_id,
    )


def consent_record(home: Path, enable: bool) -> None:
    from shimmy_onboard.consent import record_decision
    from shimmy_onboard.vocab import ConsentSource

    record_decision(home_paths(home), enable=enable, source=ConsentSource.CLI, clock=fixed_clock)
