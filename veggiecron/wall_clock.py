"""Wall-clock times in a zone as instants: the one rule every wall-clock schedule shares across DST."""

from __future__ import annotations

import math
from datetime import date, datetime, time
from zoneinfo import ZoneInfo


def wall_time_to_epoch(day: date, at: time, tz: ZoneInfo) -> float:
    """Epoch seconds of a wall-clock time; DST gaps resolve to the end of the gap, folds to the first."""
    local = datetime.combine(day, at, tzinfo=tz)  # fold=0: the first of two occurrences
    instant = local.timestamp()
    if datetime.fromtimestamp(instant, tz).replace(tzinfo=None) == local.replace(tzinfo=None):
        return instant
    # The wall time does not exist: find the transition, the first instant after the gap.
    low = local.replace(fold=1).timestamp()  # the gap start read with the later offset: before the gap
    high = instant
    offset_after = datetime.fromtimestamp(high, tz).utcoffset()
    low, high = min(low, high), max(low, high)
    while high - low > 1:
        middle = math.floor((low + high) / 2)
        if datetime.fromtimestamp(middle, tz).utcoffset() == offset_after:
            high = middle
        else:
            low = middle
    return float(high)
