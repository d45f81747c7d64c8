"""The server's stop, step by step: a step that takes long says in the log what the stop waits for."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import TypeVar

# Named as the server's other stop messages ("stopping", "stopped cleanly"), so that they read together.
logger = logging.getLogger("veggiecron.app")
T = TypeVar("T")

STOP_REPORT_SECONDS = 10.0


async def reported(step: str, work: Awaitable[T]) -> T:
    """Await one step of the stop, saying in the log every STOP_REPORT_SECONDS that it still waits
    for it: a stop that takes long says what it waits for, rather than nothing."""
    task = asyncio.ensure_future(work)
    waited = 0.0
    while True:
        done, _ = await asyncio.wait({task}, timeout=STOP_REPORT_SECONDS)
        if done:
            return task.result()
        waited += STOP_REPORT_SECONDS
        logger.warning("still stopping after %.0fs: waiting for %s", waited, step)
