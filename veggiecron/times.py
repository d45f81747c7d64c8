"""Readable times: ISO 8601 in UTC beside the epoch seconds the API and the logs carry."""

from __future__ import annotations

import functools
import math
from datetime import UTC, datetime, tzinfo
from typing import Any


def iso_utc_millis(epoch: float | None) -> str | None:
    """2026-11-30T05:39:08.805Z for epoch seconds (to the millisecond); None stays None."""
    moment = None if epoch is None else in_zone(epoch, UTC)  # None past year 9999: the epoch field says it
    return None if moment is None else moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def in_zone(epoch: float, zone: tzinfo) -> datetime | None:
    """The moment as wall-clock time in `zone`; None where that falls past year 9999 (a zone east
    of UTC on the calendar's last day), which datetime cannot hold."""
    try:
        return datetime.fromtimestamp(epoch, zone)
    except (ValueError, OverflowError, OSError):
        return None


def with_utc(view: dict[str, Any], *keys: str) -> dict[str, Any]:
    """The view with `<key>_utc` (ISO 8601) beside each epoch field named, keeping the epoch fields."""
    for key in keys:
        value = view.get(key)
        view[f"{key}_utc"] = (
            iso_utc_millis(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
        )
    return view


def iso_utc_micros(epoch: float) -> str:
    """2026-11-30T05:39:08.805123+00:00 for epoch seconds: ISO 8601 in UTC to the microsecond
    (X-Veggiecron-Scheduled-At, run messages, notifications)."""
    seconds = math.floor(epoch)
    micros = round((epoch - seconds) * 1_000_000)
    if micros == 1_000_000:
        seconds, micros = seconds + 1, 0
    return f"{_whole_second(seconds)}.{micros:06d}+00:00"


@functools.lru_cache(maxsize=64)
def _whole_second(seconds: int) -> str:
    # Runs due in the same second share the formatting of the date and time (a hot path at
    # thousands of runs a second: datetime formatting costs microseconds).
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S")
