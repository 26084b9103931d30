"""Time, in the one format the product writes: UTC, whole seconds, ``Z``.

Everything that stamps a time (config, ledger, queue, payload) takes a ``Clock`` so
tests and snapshots can inject a fixed one.
"""

from __future__ import annotations

from datetime import datetime, timezone

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    Clock = Callable[[], datetime]
else:
    # Only ever used in annotations; importing collections.abc would cost the fast paths.
    Clock = object

TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def system_clock() -> datetime:
    return datetime.now(timezone.utc)


def format_utc(moment: datetime) -> str:
    """``2025-01-15T10:30:00Z``; a naive datetime is taken to be UTC already."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc)
    return moment.strftime(TIMESTAMP_FORMAT)


def parse_utc(text: str) -> datetime | None:
    """The inverse of :func:`format_utc`, also taking offsets and fractions; None if no time."""
    if not isinstance(text, str) or not 10 <= len(text) <= 40:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def file_stamp(moment: datetime) -> str:
    """A timestamp safe in a file name on every OS (no colons): ``20250115T103000Z``."""
    return format_utc(moment).replace("-", "").replace(":", "")
