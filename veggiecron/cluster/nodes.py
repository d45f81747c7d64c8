"""Each node's heartbeat row (name, role, started, last seen), and what /health makes of them."""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol

from ..clock import Clock
from ..model import NodeSeen, Run

logger = logging.getLogger(__name__)


class NodeBook(Protocol):
    """The store's side: the nodes' rows, and runs asked of a node that sends none."""

    async def beat(self, name: str, role: str, started: float) -> None: ...

    async def forget_node(self, name: str) -> None: ...

    async def nodes_seen(self) -> tuple[list[NodeSeen], float]:
        """Every node's row and the database's now."""

    async def request_run(self, job_id: int, requester: str) -> float | None: ...

    async def run_result(self, job_id: int, due_at: float) -> Run | None: ...


class Heartbeat:
    """Writes this node's row every lease / 3 (the lease-renewal period), so that a node whose row
    is older than a lease is as dead as its leases; a clean stop removes the row."""

    def __init__(self, book: NodeBook, name: str, role: str, lease: float, clock: Clock) -> None:
        self.book = book
        self.name = name
        self.role = role
        self.lease = lease
        self.started = clock.now()
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    async def start(self) -> None:
        await self.beat()
        self._task = asyncio.create_task(self._loop(), name="veggiecron-heartbeat")

    async def beat(self) -> None:
        try:
            await self.book.beat(self.name, self.role, self.started)
        except Exception as exc:  # the database may be away: the next beat tries again
            logger.warning("writing this node's heartbeat failed: %s", exc)

    async def _loop(self) -> None:
        while not self._stopping.is_set():
            try:
                await asyncio.wait_for(self._stopping.wait(), timeout=self.lease / 3)
            except TimeoutError:
                await self.beat()

    async def stop(self) -> None:
        self._stopping.set()
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
        try:
            await self.book.forget_node(self.name)
        except Exception as exc:  # its row ages out instead
            logger.warning("removing this node's row failed: %s", exc)


async def nodes_report(book: NodeBook, lease: float) -> tuple[list[dict[str, object]], bool]:
    """Each node's name, role, start and seconds since its last heartbeat (alive: within a lease),
    and whether a node that sends runs (role all or scheduler) is alive."""
    seen, now = await book.nodes_seen()
    report: list[dict[str, object]] = []
    sender = False
    for node in seen:
        age = max(0.0, now - node.last_seen)
        alive = age <= lease
        sender = sender or (alive and node.role != "api")
        report.append(
            {
                "name": node.name,
                "role": node.role,
                "started": node.started,
                "last_seen": node.last_seen,
                "seconds_since_seen": round(age, 3),
                "alive": alive,
            }
        )
    return report, sender
