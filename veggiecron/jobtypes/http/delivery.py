"""How an http run is delivered when an attempt fails: which answers are worth another attempt,
how long to wait before it (exponential backoff with full jitter, or the target's Retry-After)."""

from __future__ import annotations

import random
from collections.abc import Collection
from datetime import UTC
from email.utils import parsedate_to_datetime

from ...json_numbers import digits

MAX_RETRY_AFTER = 3600.0  # a longer Retry-After is capped: the run would outlive its purpose


def retry_delay(attempt: int, base: float, cap: float, rng: random.Random | None = None) -> float:
    """Exponential backoff with full jitter: uniform in [0, min(cap, base * 2**(attempt-1)))."""
    ceiling = min(cap, base * 2 ** max(0, attempt - 1))
    return (rng or random).uniform(0, ceiling)


def retry_after_seconds(value: str | None, now: float) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    if digits(value):
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - now)


def is_retryable_status(status: int, retry_on: Collection[int] = ()) -> bool:
    """5xx, 408 and 429 may succeed later; other 4xx cannot, unless the job lists them."""
    if status in retry_on:
        return True
    if status in (408, 429) or status >= 500:
        return True
    return False
