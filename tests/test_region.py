"""``region_indicator`` from the local IANA zone name: the traps, and where the name comes from."""

from __future__ import annotations

from pathlib import Path

import pytest

from shimmy_onboard.region import WINDOWS_ZONES, local_region, region_for_zone
from shimmy_onboard.vocab import Region

AMERICAS, EMEA, APAC, UNKNOWN = Region.AMERICAS, Region.EMEA, Region.APAC, Region.UNKNOWN


@pytest.fixture(autouse=True)
def _isolated_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHIMMY_CONFIG_DIR", str(tmp_path / "config"))
    for name in ("DO_NOT_TRACK", "SHIMMY_NO_METRICS", "CI", "SHIMMY_METRICS_ENDPOINT",
                 "SHIMMY_METRICS_DEBUG"):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize(
    ("zone", "region"),
    [
        # The Atlantic belongs to three regions.
        ("Atlantic/Reykjavik", EMEA),
        ("Atlantic/Azores", EMEA),
        ("Atlantic/Canary", EMEA),
        ("Atlantic/Madeira", EMEA),
        ("Atlantic/Faroe", EMEA),
        ("Atlantic/Cape_Verde", EMEA),
        ("Atlantic/Bermuda", AMERICAS),
        ("Atlantic/Stanley", AMERICAS),
        # The Pacific is apac, except where it is American.
        ("Pacific/Honolulu", AMERICAS),
        ("Pacific/Galapagos", AMERICAS),
        ("Pacific/Easter", AMERICAS),
        ("Pacific/Auckland", APAC),
        ("Pacific/Guam", APAC),
        ("Pacific/Fiji", APAC),
        # Old area names.
        ("US/Eastern", AMERICAS),
        ("US/Hawaii", AMERICAS),
        ("US/Samoa", APAC),
        ("Canada/Atlantic", AMERICAS),
        ("Brazil/East", AMERICAS),
        ("Mexico/General", AMERICAS),
        ("Chile/EasterIsland", AMERICAS),
        ("America/Sao_Paulo", AMERICAS),
        ("America/Argentina/Buenos_Aires", AMERICAS),
        ("America/Nuuk", AMERICAS),
        ("Europe/London", EMEA),
        ("Europe/Moscow", EMEA),
        ("Africa/Lagos", EMEA),
        # Asia: the Middle East, Turkey, the Caucasus and Russia are emea.
        ("Asia/Dubai", EMEA),
        ("Asia/Riyadh", EMEA),
        ("Asia/Tehran", EMEA),
        ("Asia/Jerusalem", EMEA),
        ("Asia/Baghdad", EMEA),
        ("Asia/Qatar", EMEA),
        ("Asia/Beirut", EMEA),
        ("Asia/Nicosia", EMEA),
        ("Asia/Istanbul", EMEA),
        ("Asia/Tbilisi", EMEA),
        ("Asia/Vladivostok", EMEA),
        ("Asia/Tokyo", APAC),
        ("Asia/Kolkata", APAC),
        ("Asia/Karachi", APAC),
        ("Asia/Almaty", APAC),
        ("Asia/Singapore", APAC),
        ("Australia/Sydney", APAC),
        # The Indian Ocean: African islands are emea, the rest apac.
        ("Indian/Mauritius", EMEA),
        ("Indian/Reunion", EMEA),
        ("Indian/Antananarivo", EMEA),
        ("Indian/Maldives", APAC),
        ("Indian/Christmas", APAC),
        # Places nowhere.
        ("Antarctica/McMurdo", UNKNOWN),
        ("Antarctica/Troll", UNKNOWN),
        ("UTC", UNKNOWN),
        ("Etc/UTC", UNKNOWN),
        ("Etc/GMT+5", UNKNOWN),
        ("GMT", UNKNOWN),
        ("Universal", UNKNOWN),
        ("Zulu", UNKNOWN),
        # Legacy top-level links.
        ("Japan", APAC),
        ("Israel", EMEA),
        ("Cuba", AMERICAS),
        ("EST5EDT", AMERICAS),
        ("CET", EMEA),
        ("Arctic/Longyearbyen", EMEA),
    ],
)
def test_zone_names_map_to_their_region(zone: str, region: Region) -> None:
    assert region_for_zone(zone) is region


@pytest.mark.parametrize(
    ("spelling", "region"),
    [
        (":Europe/Paris", EMEA),
        ("/usr/share/zoneinfo/Asia/Dubai", EMEA),
        ("/usr/share/zoneinfo/posix/Pacific/Honolulu", AMERICAS),
        ("/usr/share/zoneinfo/right/Australia/Perth", APAC),
        ("/var/db/timezone/zoneinfo/America/New_York", AMERICAS),  # macOS
        ("  europe/berlin \n", EMEA),
    ],
)
def test_zone_names_are_read_through_their_usual_spellings(spelling: str, region: Region) -> None:
    assert region_for_zone(spelling) is region


@pytest.mark.parametrize(
    "not_a_zone",
    ["", "EST5EDT,M3.2.0,M11.1.0", "Mars/Olympus_Mons", "Atlantic/Nowhere", "Europe",
     "/etc/localtime", "x" * 500, "Europe/" + "a" * 100],
)
def test_names_that_are_not_zones_give_no_answer(not_a_zone: str) -> None:
    assert region_for_zone(not_a_zone) is None


def test_every_windows_zone_maps_to_a_known_iana_zone() -> None:
    unmapped = {key: zone for key, zone in WINDOWS_ZONES.items() if region_for_zone(zone) is None}
    assert unmapped == {}


def make_root(tmp_path: Path, localtime: str | None = None, timezone: str | None = None) -> Path:
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    if localtime is not None:
        (root / "etc" / "localtime").symlink_to(localtime)
    if timezone is not None:
        (root / "etc" / "timezone").write_text(timezone + "\n")
    return root


def test_tz_wins_over_the_files(tmp_path: Path) -> None:
    root = make_root(tmp_path, "/usr/share/zoneinfo/Europe/Berlin", "Europe/Berlin")
    assert local_region({"TZ": "America/Chicago"}, root) is AMERICAS


def test_tz_utc_is_an_answer_not_a_gap(tmp_path: Path) -> None:
    root = make_root(tmp_path, "/usr/share/zoneinfo/Europe/Berlin")
    assert local_region({"TZ": "UTC"}, root) is UNKNOWN


def test_a_posix_tz_rule_falls_through_to_the_localtime_symlink(tmp_path: Path) -> None:
    root = make_root(tmp_path, "/usr/share/zoneinfo/Asia/Tokyo")
    assert local_region({"TZ": "JST-9"}, root) is APAC


def test_etc_timezone_is_read_when_localtime_is_a_copied_file(tmp_path: Path) -> None:
    root = make_root(tmp_path, timezone="Atlantic/Reykjavik")
    (root / "etc" / "localtime").write_bytes(b"TZif2" + bytes(40))
    assert local_region({}, root) is EMEA


def test_windows_time_zone_key_is_used_after_the_files(tmp_path: Path) -> None:
    root = tmp_path / "windows-has-no-etc"
    assert local_region({}, root, lambda: "E. South America Standard Time") is AMERICAS
    assert local_region({}, root, lambda: "Arab Standard Time") is EMEA


def test_a_failing_windows_probe_gives_unknown(tmp_path: Path) -> None:
    def broken() -> str | None:
        raise OSError("registry unavailable")

    assert local_region({}, tmp_path, broken) is UNKNOWN


def test_no_source_at_all_gives_unknown(tmp_path: Path) -> None:
    assert local_region({}, tmp_path / "nothing") is UNKNOWN


def test_an_unreadable_timezone_file_gives_unknown(tmp_path: Path) -> None:
    root = make_root(tmp_path)
    (root / "etc" / "timezone").mkdir()
    assert local_region({"TZ": ""}, root) is UNKNOWN
