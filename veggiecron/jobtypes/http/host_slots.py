"""How many requests of the http runner may be in flight, per target and in all."""

from __future__ import annotations

import asyncio


class HostSlots:
    """At most `limit` requests in flight per target (scheme, host, port) and `total` in all; the
    others wait here.

    aiohttp enforces the same limits, but a request waiting inside it already holds its whole
    request object; under overload thousands wait, so they wait here, before any is built. And
    a request that leaves here finds a connection free: the time it waited is measured here, as
    the run's pool wait, and its start is when it was handed to a connection.
    """

    def __init__(self, limit: int, total: int) -> None:
        self.limit = limit
        self._total = asyncio.Semaphore(total)
        self._semaphores: dict[str, asyncio.Semaphore] = {}
        self._users: dict[str, int] = {}  # requests holding or waiting for each host's semaphore

    async def acquire(self, host: str) -> None:
        semaphore = self._semaphores.get(host)
        if semaphore is None:
            semaphore = self._semaphores[host] = asyncio.Semaphore(self.limit)
        self._users[host] = self._users.get(host, 0) + 1
        try:
            await semaphore.acquire()
        except BaseException:
            self._leave(host)
            raise
        try:
            await self._total.acquire()
        except BaseException:
            semaphore.release()
            self._leave(host)
            raise

    def release(self, host: str) -> None:
        self._total.release()
        self._semaphores[host].release()
        self._leave(host)

    def _leave(self, host: str) -> None:
        users = self._users[host] - 1
        if users:
            self._users[host] = users
        else:  # nobody holds or waits: forget the host
            del self._users[host]
            del self._semaphores[host]

    def in_use(self) -> int:
        return sum(self._users.values())
