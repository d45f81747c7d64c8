"""The clock every part reads time from; tests inject one they move by hand."""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float:
        """Epoch seconds (UTC)."""


class SystemClock:
    def now(self) -> float:
        return time.time()
