"""Background work both schedulers share: a flush on a timer, and the drain of tasks at a stop."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Collection
from typing import Any


async def flush_every(interval: float, flush: Callable[[], Awaitable[object]], stopping: asyncio.Event) -> None:
    """Call `flush` every `interval` seconds, and once more as soon as `stopping` is set."""
    while not stopping.is_set():
        try:
            await asyncio.wait_for(stopping.wait(), timeout=interval)
        except TimeoutError:
            pass
        await flush()


async def drain(tasks: Collection[asyncio.Task[Any]], grace: float) -> int:
    """Give the tasks `grace` seconds to end, then cancel the rest and wait for them; answer how many were cancelled."""
    if not tasks:
        return 0
    _done, pending = await asyncio.wait(set(tasks), timeout=grace)
    for task in pending:
        task.cancel()
    if pending:
        await asyncio.wait(pending)
    return len(pending)
