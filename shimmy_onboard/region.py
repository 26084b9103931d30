"""``region_indicator`` from the local IANA time zone name, and nothing else.

DESIGN.md: the region comes from the zone *name* configured on this machine (never
an IP address, never a network call). The sources, first usable one wins:

1. ``TZ`` (``Europe/Paris``, ``:Europe/Paris`` or a path ending in ``zoneinfo/NAME``);
2. the target of the ``/etc/localtime`` symlink (Linux and macOS);
3. ``/etc/timezone`` (Debian and Ubuntu);
4. on Windows, ``TimeZoneKeyName`` from the registry, mapped to IANA with
   :data:`WINDOWS_ZONES` (the primary zones of CLDR's ``windowsZones.xml``).

A source that names no zone we recognise (a POSIX rule such as ``EST5EDT,M3.2.0``, or
garbage) is skipped. A recognised zone that says nothing about where the machine is
(``UTC``, ``Etc/*``, ``GMT``, ``Antarctica/*``) gives ``unknown``.

The regions are the usual business regions, decided per country where the IANA area
would mislead (the traps):

- ``americas``: ``America/*`` (Greenland's ``America/Nuuk`` included, as its area says),
  ``US/*``, ``Canada/*``, ``Brazil/*``, ``Mexico/*``, ``Chile/*``, Hawaii
  (``Pacific/Honolulu``), ``Pacific/Galapagos`` (Ecuador), ``Pacific/Easter`` (Chile),
  ``Atlantic/Bermuda``, ``Atlantic/Stanley``, ``Atlantic/South_Georgia``.
- ``emea``: ``Europe/*``, ``Africa/*``, the European and African Atlantic islands
  (``Reykjavik``, ``Azores``, ``Canary``, ``Madeira``, ``Faroe``, ``Cape_Verde``,
  ``St_Helena``), the Middle East including Turkey, Cyprus, Iran and the Caucasus
  (``Asia/Dubai``, ``Asia/Riyadh``, ``Asia/Tehran``, ``Asia/Jerusalem``, ...), Russia's
  Asian zones (Russia is one market, and ``Europe/Moscow`` is emea), and the African
  islands of the Indian Ocean (``Indian/Mauritius``, ``Reunion``, ``Mahe``,
  ``Antananarivo``, ``Comoro``, ``Mayotte``).
- ``apac``: the rest of ``Asia/*`` (Central and South Asia included), ``Australia/*``,
  ``Pacific/*`` (US territories in Oceania such as Guam and American Samoa included,
  so ``US/Samoa`` is apac like ``Pacific/Pago_Pago``), the rest of ``Indian/*``.

Only ``os`` here: the TUI's worker and ``send`` import this.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

from shimmy_onboard.vocab import Region

# Names that place the machine nowhere: UTC and friends, and the placeholder zone.
_PLACELESS = frozenset(
    {
        "utc", "uct", "gmt", "gmt0", "gmt+0", "gmt-0", "greenwich", "universal", "zulu",
        "factory",
    }
)

# The whole area decides, unless a name below says otherwise.
_AREAS: dict[str, Region] = {
    "america": Region.AMERICAS,
    "us": Region.AMERICAS,
    "canada": Region.AMERICAS,
    "brazil": Region.AMERICAS,
    "mexico": Region.AMERICAS,
    "chile": Region.AMERICAS,
    "europe": Region.EMEA,
    "africa": Region.EMEA,
    "arctic": Region.EMEA,  # Arctic/Longyearbyen, Svalbard (Norway)
    "asia": Region.APAC,
    "australia": Region.APAC,
    "pacific": Region.APAC,
    "indian": Region.APAC,
    "antarctica": Region.UNKNOWN,
    "etc": Region.UNKNOWN,
    "systemv": Region.UNKNOWN,
}

# Full names (lower case) whose region differs from their area, or whose area
# (Atlantic) has no single region.
_NAMES: dict[str, Region] = {
    # Atlantic: split between Europe, Africa and the Americas.
    **dict.fromkeys(
        [
            "atlantic/reykjavik", "atlantic/azores", "atlantic/canary", "atlantic/madeira",
            "atlantic/faroe", "atlantic/faeroe", "atlantic/jan_mayen",
            "atlantic/cape_verde", "atlantic/st_helena",
        ],
        Region.EMEA,
    ),
    **dict.fromkeys(
        ["atlantic/bermuda", "atlantic/stanley", "atlantic/south_georgia"], Region.AMERICAS
    ),
    # Pacific zones of American countries: Hawaii (a US state), Ecuador, Chile.
    **dict.fromkeys(
        ["pacific/honolulu", "pacific/johnston", "pacific/galapagos", "pacific/easter"],
        Region.AMERICAS,
    ),
    # American Samoa, the same zone as Pacific/Pago_Pago: Oceania.
    "us/samoa": Region.APAC,
    # The Middle East, Turkey, Cyprus, Iran and the Caucasus.
    **dict.fromkeys(
        [
            f"asia/{city}"
            for city in (
                "dubai", "muscat", "riyadh", "qatar", "bahrain", "kuwait", "aden",
                "baghdad", "tehran", "jerusalem", "tel_aviv", "gaza", "hebron", "amman",
                "beirut", "damascus", "nicosia", "famagusta", "istanbul", "tbilisi",
                "yerevan", "baku",
            )
        ],
        Region.EMEA,
    ),
    # Russia's zones east of the Urals: one country, emea like Europe/Moscow.
    **dict.fromkeys(
        [
            f"asia/{city}"
            for city in (
                "yekaterinburg", "omsk", "novosibirsk", "barnaul", "tomsk", "novokuznetsk",
                "krasnoyarsk", "irkutsk", "chita", "yakutsk", "khandyga", "vladivostok",
                "ust-nera", "magadan", "sakhalin", "srednekolymsk", "kamchatka", "anadyr",
            )
        ],
        Region.EMEA,
    ),
    # African islands in the Indian Ocean.
    **dict.fromkeys(
        [
            f"indian/{island}"
            for island in ("mauritius", "reunion", "mahe", "antananarivo", "comoro", "mayotte")
        ],
        Region.EMEA,
    ),
    # Old top-level names still shipped as links in tzdata's "backward" file.
    **dict.fromkeys(
        [
            "cuba", "jamaica", "navajo", "est", "mst", "hst", "est5edt", "cst6cdt",
            "mst7mdt", "pst8pdt",
        ],
        Region.AMERICAS,
    ),
    **dict.fromkeys(
        [
            "egypt", "eire", "gb", "gb-eire", "iceland", "iran", "israel", "libya",
            "poland", "portugal", "turkey", "w-su", "cet", "eet", "met", "wet",
        ],
        Region.EMEA,
    ),
    **dict.fromkeys(
        ["hongkong", "japan", "kwajalein", "nz", "nz-chat", "prc", "roc", "rok", "singapore"],
        Region.APAC,
    ),
}

#: Windows ``TimeZoneKeyName`` → IANA zone (CLDR windowsZones.xml, territory 001).
WINDOWS_ZONES: dict[str, str] = {
    "Dateline Standard Time": "Etc/GMT+12",
    "UTC-11": "Etc/GMT+11",
    "Aleutian Standard Time": "America/Adak",
    "Hawaiian Standard Time": "Pacific/Honolulu",
    "Marquesas Standard Time": "Pacific/Marquesas",
    "Alaskan Standard Time": "America/Anchorage",
    "UTC-09": "Etc/GMT+9",
    "Pacific Standard Time (Mexico)": "America/Tijuana",
    "UTC-08": "Etc/GMT+8",
    "Pacific Standard Time": "America/Los_Angeles",
    "US Mountain Standard Time": "America/Phoenix",
    "Mountain Standard Time (Mexico)": "America/Mazatlan",
    "Mountain Standard Time": "America/Denver",
    "Yukon Standard Time": "America/Whitehorse",
    "Central America Standard Time": "America/Guatemala",
    "Central Standard Time": "America/Chicago",
    "Easter Island Standard Time": "Pacific/Easter",
    "Central Standard Time (Mexico)": "America/Mexico_City",
    "Canada Central Standard Time": "America/Regina",
    "SA Pacific Standard Time": "America/Bogota",
    "Eastern Standard Time (Mexico)": "America/Cancun",
    "Eastern Standard Time": "America/New_York",
    "Haiti Standard Time": "America/Port-au-Prince",
    "Cuba Standard Time": "America/Havana",
    "US Eastern Standard Time": "America/Indianapolis",
    "Turks And Caicos Standard Time": "America/Grand_Turk",
    "Paraguay Standard Time": "America/Asuncion",
    "Atlantic Standard Time": "America/Halifax",
    "Venezuela Standard Time": "America/Caracas",
    "Central Brazilian Standard Time": "America/Cuiaba",
    "SA Western Standard Time": "America/La_Paz",
    "Pacific SA Standard Time": "America/Santiago",
    "Newfoundland Standard Time": "America/St_Johns",
    "Tocantins Standard Time": "America/Araguaina",
    "E. South America Standard Time": "America/Sao_Paulo",
    "SA Eastern Standard Time": "America/Cayenne",
    "Argentina Standard Time": "America/Buenos_Aires",
    "Greenland Standard Time": "America/Godthab",
    "Montevideo Standard Time": "America/Montevideo",
    "Magallanes Standard Time": "America/Punta_Arenas",
    "Saint Pierre Standard Time": "America/Miquelon",
    "Bahia Standard Time": "America/Bahia",
    "UTC-02": "Etc/GMT+2",
    "Azores Standard Time": "Atlantic/Azores",
    "Cape Verde Standard Time": "Atlantic/Cape_Verde",
    "UTC": "Etc/UTC",
    "GMT Standard Time": "Europe/London",
    "Greenwich Standard Time": "Atlantic/Reykjavik",
    "Sao Tome Standard Time": "Africa/Sao_Tome",
    "Morocco Standard Time": "Africa/Casablanca",
    "W. Europe Standard Time": "Europe/Berlin",
    "Central Europe Standard Time": "Europe/Budapest",
    "Romance Standard Time": "Europe/Paris",
    "Central European Standard Time": "Europe/Warsaw",
    "W. Central Africa Standard Time": "Africa/Lagos",
    "Jordan Standard Time": "Asia/Amman",
    "GTB Standard Time": "Europe/Bucharest",
    "Middle East Standard Time": "Asia/Beirut",
    "Egypt Standard Time": "Africa/Cairo",
    "E. Europe Standard Time": "Europe/Chisinau",
    "Syria Standard Time": "Asia/Damascus",
    "West Bank Standard Time": "Asia/Hebron",
    "South Africa Standard Time": "Africa/Johannesburg",
    "FLE Standard Time": "Europe/Kiev",
    "Israel Standard Time": "Asia/Jerusalem",
    "South Sudan Standard Time": "Africa/Juba",
    "Kaliningrad Standard Time": "Europe/Kaliningrad",
    "Sudan Standard Time": "Africa/Khartoum",
    "Libya Standard Time": "Africa/Tripoli",
    "Namibia Standard Time": "Africa/Windhoek",
    "Arabic Standard Time": "Asia/Baghdad",
    "Turkey Standard Time": "Europe/Istanbul",
    "Arab Standard Time": "Asia/Riyadh",
    "Belarus Standard Time": "Europe/Minsk",
    "Russian Standard Time": "Europe/Moscow",
    "E. Africa Standard Time": "Africa/Nairobi",
    "Volgograd Standard Time": "Europe/Volgograd",
    "Iran Standard Time": "Asia/Tehran",
    "Arabian Standard Time": "Asia/Dubai",
    "Astrakhan Standard Time": "Europe/Astrakhan",
    "Azerbaijan Standard Time": "Asia/Baku",
    "Russia Time Zone 3": "Europe/Samara",
    "Mauritius Standard Time": "Indian/Mauritius",
    "Saratov Standard Time": "Europe/Saratov",
    "Georgian Standard Time": "Asia/Tbilisi",
    "Caucasus Standard Time": "Asia/Yerevan",
    "Afghanistan Standard Time": "Asia/Kabul",
    "West Asia Standard Time": "Asia/Tashkent",
    "Ekaterinburg Standard Time": "Asia/Yekaterinburg",
    "Pakistan Standard Time": "Asia/Karachi",
    "Qyzylorda Standard Time": "Asia/Qyzylorda",
    "India Standard Time": "Asia/Calcutta",
    "Sri Lanka Standard Time": "Asia/Colombo",
    "Nepal Standard Time": "Asia/Katmandu",
    "Central Asia Standard Time": "Asia/Bishkek",
    "Bangladesh Standard Time": "Asia/Dhaka",
    "Omsk Standard Time": "Asia/Omsk",
    "Myanmar Standard Time": "Asia/Rangoon",
    "SE Asia Standard Time": "Asia/Bangkok",
    "Altai Standard Time": "Asia/Barnaul",
    "W. Mongolia Standard Time": "Asia/Hovd",
    "North Asia Standard Time": "Asia/Krasnoyarsk",
    "N. Central Asia Standard Time": "Asia/Novosibirsk",
    "Tomsk Standard Time": "Asia/Tomsk",
    "China Standard Time": "Asia/Shanghai",
    "North Asia East Standard Time": "Asia/Irkutsk",
    "Singapore Standard Time": "Asia/Singapore",
    "W. Australia Standard Time": "Australia/Perth",
    "Taipei Standard Time": "Asia/Taipei",
    "Ulaanbaatar Standard Time": "Asia/Ulaanbaatar",
    "Aus Central W. Standard Time": "Australia/Eucla",
    "Transbaikal Standard Time": "Asia/Chita",
    "Tokyo Standard Time": "Asia/Tokyo",
    "North Korea Standard Time": "Asia/Pyongyang",
    "Korea Standard Time": "Asia/Seoul",
    "Yakutsk Standard Time": "Asia/Yakutsk",
    "Cen. Australia Standard Time": "Australia/Adelaide",
    "AUS Central Standard Time": "Australia/Darwin",
    "E. Australia Standard Time": "Australia/Brisbane",
    "AUS Eastern Standard Time": "Australia/Sydney",
    "West Pacific Standard Time": "Pacific/Port_Moresby",
    "Tasmania Standard Time": "Australia/Hobart",
    "Vladivostok Standard Time": "Asia/Vladivostok",
    "Lord Howe Standard Time": "Australia/Lord_Howe",
    "Bougainville Standard Time": "Pacific/Bougainville",
    "Russia Time Zone 10": "Asia/Srednekolymsk",
    "Magadan Standard Time": "Asia/Magadan",
    "Norfolk Standard Time": "Pacific/Norfolk",
    "Sakhalin Standard Time": "Asia/Sakhalin",
    "Central Pacific Standard Time": "Pacific/Guadalcanal",
    "Russia Time Zone 11": "Asia/Kamchatka",
    "New Zealand Standard Time": "Pacific/Auckland",
    "UTC+12": "Etc/GMT-12",
    "Fiji Standard Time": "Pacific/Fiji",
    "Chatham Islands Standard Time": "Pacific/Chatham",
    "UTC+13": "Etc/GMT-13",
    "Tonga Standard Time": "Pacific/Tongatapu",
    "Samoa Standard Time": "Pacific/Apia",
    "Line Islands Standard Time": "Pacific/Kiritimati",
}

# An IANA name is a few path components of letters, digits, '_', '-' and '+'.
_MAX_ZONE_NAME = 64
_ZONEINFO_MARKER = "zoneinfo/"


def region_for_zone(name: str) -> Region | None:
    """The region of an IANA zone name; ``None`` when it is not a zone name we know.

    ``unknown`` is an answer (``UTC``, ``Etc/GMT+5``, ``Antarctica/Troll``): the name is
    a zone, it just places the machine nowhere. ``None`` means "try the next source".
    """
    zone = _bare_zone_name(name)
    if zone is None:
        return None
    if zone in _PLACELESS:
        return Region.UNKNOWN
    if zone in _NAMES:
        return _NAMES[zone]
    area, slash, city = zone.partition("/")
    if not slash or not city or area not in _AREAS:
        return None
    return _AREAS[area]


def _bare_zone_name(name: str) -> str | None:
    """``Europe/Paris`` from ``:Europe/Paris``, ``/usr/share/zoneinfo/posix/Europe/Paris``...

    Lower case, so that the tables need only one spelling.
    """
    text = name.strip().lstrip(":")
    if _ZONEINFO_MARKER in text:
        text = text.rsplit(_ZONEINFO_MARKER, 1)[1]
    for variant in ("posix/", "right/"):
        if text.startswith(variant):
            text = text[len(variant) :]
    if not text or len(text) > _MAX_ZONE_NAME or text.startswith("/"):
        return None
    return text.lower()


def zone_name_candidates(
    env: Mapping[str, str],
    root: Path,
    windows_zone_key: Callable[[], str | None] | None = None,
) -> Iterator[str]:
    """The zone names this machine is configured with, most authoritative first.

    Lazy: later sources are only read when an earlier one is not usable.
    """
    tz = env.get("TZ", "").strip()
    if tz:
        yield tz
    localtime = _symlink_target(root / "etc" / "localtime")
    if localtime:
        yield localtime
    timezone_file = _first_line(root / "etc" / "timezone")
    if timezone_file:
        yield timezone_file
    if windows_zone_key is not None:
        key = windows_zone_key()
        if key:
            mapped = WINDOWS_ZONES.get(key.strip())
            if mapped:
                yield mapped


def local_region(
    env: Mapping[str, str],
    root: Path,
    windows_zone_key: Callable[[], str | None] | None = None,
) -> Region:
    """This machine's region from its zone name; ``unknown`` when nothing usable. Never raises."""
    try:
        for candidate in zone_name_candidates(env, root, windows_zone_key):
            region = region_for_zone(candidate)
            if region is not None:
                return region
    except Exception:
        # A probe we did not foresee failing must not cost the user their session.
        return Region.UNKNOWN
    return Region.UNKNOWN


def _symlink_target(path: Path) -> str | None:
    # A copied /etc/localtime (common in containers) names no zone: skip it.
    try:
        return os.readlink(path)
    except (OSError, ValueError):
        return None


def _first_line(path: Path) -> str | None:
    raw = read_small_file(path, 256)
    if raw is None:
        return None
    text = raw.decode("ascii", errors="replace").splitlines()
    return text[0].strip() if text else None


# O_NONBLOCK: a FIFO where a file should be must not hang detection waiting for a writer.
_READ_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)


def read_small_file(path: str | os.PathLike[str], limit: int) -> bytes | None:
    """At most ``limit`` bytes of a small file (sysfs, procfs, /etc), ``None`` if unreadable.

    ``os.open``/``os.read`` rather than ``open()``: no buffered-reader objects, which
    halves the cost of a sysfs read (detection reads one per PCI function). Shared with
    ``hardware.py``.
    """
    try:
        descriptor = os.open(path, _READ_FLAGS)
    except (OSError, ValueError):
        return None
    try:
        chunks: list[bytes] = []
        remaining = limit
        while remaining > 0:
            wanted = min(remaining, 4096)
            chunk = os.read(descriptor, wanted)
            chunks.append(chunk)
            remaining -= len(chunk)
            if len(chunk) < wanted:
                break  # a short read of a file is its end; sysfs gives all in one read
        return b"".join(chunks)
    except OSError:
        return None
    finally:
        os.close(descriptor)
