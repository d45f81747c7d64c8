"""Login throttling: failed attempts counted per username and per client address in a window."""

from __future__ import annotations

import math
from collections import deque


class LoginThrottle:
    """Refuses password checks for a key after too many recent failures (memory only, per process).

    Each key keeps the times of its failures inside the window; a success clears a username's
    count (not an address's: one address may guess many usernames).
    """

    MAX_KEYS = 100_000  # beyond this, the oldest keys are forgotten first

    def __init__(self, per_user: int, per_address: int, window: float) -> None:
        self.per_user = per_user
        self.per_address = per_address
        self.window = window
        self._failures: dict[str, deque[float]] = {}

    def _recent(self, key: str, now: float) -> deque[float]:
        times = self._failures.get(key)
        if times is None:
            return deque()
        while times and times[0] <= now - self.window:
            times.popleft()
        if not times:
            del self._failures[key]
        return times

    def retry_after(self, username: str, address: str, now: float) -> int | None:
        """Seconds until this login may be tried again, or None when it may be tried now."""
        waits = []
        for key, limit in ((f"user:{username}", self.per_user), (f"addr:{address}", self.per_address)):
            times = self._recent(key, now)
            if len(times) >= limit:
                waits.append(times[len(times) - limit] + self.window - now)
        return max(1, math.ceil(max(waits))) if waits else None

    def failed(self, username: str, address: str, now: float) -> None:
        for key in (f"user:{username}", f"addr:{address}"):
            self._failures.setdefault(key, deque()).append(now)
        if len(self._failures) > self.MAX_KEYS:
            for key in list(self._failures)[: len(self._failures) - self.MAX_KEYS]:
                del self._failures[key]

    def succeeded(self, username: str) -> None:
        self._failures.pop(f"user:{username}", None)
