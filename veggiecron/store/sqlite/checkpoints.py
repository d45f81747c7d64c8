"""Checkpoints of SQLite's write-ahead log in the background, off every writer's path.

By default SQLite checkpoints inside the commit that takes the log past 1,000 pages: that commit
copies the log into the database file and syncs it before it returns, so whichever write happens
to cross the line (an API create, a batch of run records, a step of the history trim) waits for
it, tens of milliseconds on a busy disk. Here the writing connection never checkpoints
(wal_autocheckpoint = 0); a connection of its own, on a thread of its own, makes a PASSIVE
checkpoint every INTERVAL seconds. A passive checkpoint takes no write lock and waits for no one:
it copies the frames no reader still needs, and the writer goes on appending meanwhile. The log
restarts from its beginning at the first write after a checkpoint that copied all of it.
"""

from __future__ import annotations

import asyncio
import logging

import aiosqlite

logger = logging.getLogger(__name__)

INTERVAL = 0.5  # seconds between checkpoints: the log holds at most this long's writes


class Checkpointer:
    def __init__(self, path: str, interval: float | None = None) -> None:
        self.path = path
        self.interval = INTERVAL if interval is None else interval
        self.checkpoints = 0  # made, for the tests and the curious
        self._conn: aiosqlite.Connection | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._conn = await aiosqlite.connect(self.path, isolation_level=None)
        self._task = asyncio.create_task(self._every_interval(), name="veggiecron-checkpoints")

    async def checkpoint(self) -> tuple[int, int, int]:
        """One passive checkpoint: (1 when it could not run at all, frames in the log, frames copied)."""
        assert self._conn is not None
        rows = list(await self._conn.execute_fetchall("PRAGMA wal_checkpoint(PASSIVE)"))
        self.checkpoints += 1
        busy, logged, copied = rows[0]
        return int(busy), int(logged), int(copied)

    async def _every_interval(self) -> None:
        failing = False
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.checkpoint()
            except Exception as exc:  # the disk may be full or failing: the log grows until it recovers
                if not failing:
                    logger.warning("checkpointing the write-ahead log failed (%s); trying again", exc)
                failing = True
                continue
            if failing:
                logger.info("checkpointing the write-ahead log works again")
            failing = False

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        if self._conn is not None:
            await self._conn.close()
            self._conn = None
