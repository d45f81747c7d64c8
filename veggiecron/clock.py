"""The clocks every part reads time from; tests inject one they move by hand.

Two readings: the wall clock says when slots are due (they are wall-clock times), and steps
when an operator, NTP or a restored VM snapshot sets it; the monotonic clock only advances, and
measures how long something waited (a run waiting for a connection times out by it).
"""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float:
        """Epoch seconds (UTC): what slots are due by. It steps when the system's clock is set."""

    def monotonic(self) -> float:
        """Seconds from an arbitrary start that never step: what timeouts and waits are measured by."""


class SystemClock:
    def now(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()
