"""Leases: this node's claims, renewed on a timer, and the claims of nodes that died, reaped.

The node may send a claimed slot only while its lease is known to be alive: until the last
successful renewal was sent plus the lease, minus a margin, on the monotonic clock. A node whose
renewals fail (the database is unreachable, or its own event loop stalled) stops sending and
claiming until a renewal succeeds again; by then its lapsed claims belong to other nodes.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable

from ..model import Claim
from ..store import ClaimStore

logger = logging.getLogger(__name__)

Key = tuple[int, float]  # (job_id, due_at): one slot


class LeaseKeeper:
    def __init__(
        self,
        store: ClaimStore,
        owner: str,
        lease: float,
        reap_interval: float,
        lost: Callable[[list[Key]], None],
        reaped: Callable[[list[Claim]], None],
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        """lost is told of held claims the database no longer gives this node; reaped gets the
        claims of dead nodes this node took over."""
        self.store = store
        self.owner = owner
        self.lease = lease
        self.margin = max(0.5, lease / 5)
        self.reap_interval = reap_interval
        self._lost = lost
        self._reaped = reaped
        self._monotonic = monotonic
        self.held: dict[Key, int] = {}  # claims this node holds whose result is not written: slot -> epoch
        self._valid_until = monotonic() + lease - self.margin  # a fresh claim's lease
        self.renewal_failures = 0
        self._stopping = asyncio.Event()
        self._reap_wakeup = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    def valid(self) -> bool:
        """Whether this node's leases are known to be alive: it may send and claim."""
        return self._monotonic() < self._valid_until

    def lease_age(self) -> float:
        """Seconds until the leases may have lapsed (negative: they may have)."""
        return self._valid_until - self._monotonic()

    def hold(self, claim: Claim) -> None:
        self.held[(claim.job_id, claim.due_at)] = claim.epoch

    def holds(self, key: Key, epoch: int) -> bool:
        return self.held.get(key) == epoch

    def drop(self, key: Key) -> None:
        self.held.pop(key, None)

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._renew_loop(), name="veggiecron-leases"),
            asyncio.create_task(self._reap_loop(), name="veggiecron-reaper"),
        ]

    async def stop_reaping(self) -> None:
        """A node on its way out takes over nothing more (renewals go on while its runs finish)."""
        if len(self._tasks) > 1:
            reaper = self._tasks.pop()
            reaper.cancel()
            await asyncio.gather(reaper, return_exceptions=True)

    async def stop(self) -> None:
        self._stopping.set()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def renew(self) -> None:
        """Extend the leases this node holds now; tell about the claims it lost."""
        sent = self._monotonic()
        # Judged only against claims held when the renewal was sent: a claim made while it runs
        # is not in its answer, and is not lost.
        asked = [Claim(job_id, due_at, epoch) for (job_id, due_at), epoch in self.held.items()]
        try:
            kept = await self.store.renew_leases(self.owner, self.lease, asked)
        except Exception as exc:  # the database is unreachable: keep trying; the leases run out meanwhile
            self.renewal_failures += 1
            logger.warning("renewing leases failed (%s); %.1fs left on them", exc, self.lease_age())
            return
        self._valid_until = sent + self.lease - self.margin
        alive = {(c.job_id, c.due_at) for c in kept}
        lost = [
            (c.job_id, c.due_at)
            for c in asked
            if (c.job_id, c.due_at) not in alive and self.held.get((c.job_id, c.due_at)) == c.epoch
        ]
        for key in lost:
            del self.held[key]
        if lost:
            logger.warning("%d claims were taken over by other nodes; they are not sent from here", len(lost))
            self._lost(lost)

    async def reap(self) -> list[Claim]:
        """Take over the claims whose lease lapsed (their node died or stalled), epoch raised."""
        if not self.valid():
            return []
        try:
            claims = await self.store.reap_expired(self.owner, self.lease, 500)
        except Exception as exc:  # tried again at the next interval
            logger.warning("reaping expired claims failed: %s", exc)
            return []
        if claims:
            # Epoch 1 after the take-over: runs an api node asked for (stored at epoch 0), not lapses.
            lapsed = sum(1 for claim in claims if claim.epoch > 1)
            if lapsed:
                logger.warning("took over %d claims whose lease expired", lapsed)
            for claim in claims:
                self.hold(claim)
            self._reaped(claims)
        return claims

    async def _renew_loop(self) -> None:
        while not self._stopping.is_set():
            await self._sleep(self.lease / 3)
            await self.renew()

    def reap_soon(self) -> None:
        """Look for claims to take over now (an api node stored a run for a scheduler node to send)."""
        self._reap_wakeup.set()

    async def _reap_loop(self) -> None:
        while not self._stopping.is_set():
            # Jittered, so nodes started together do not reap in lockstep.
            try:
                await asyncio.wait_for(self._reap_wakeup.wait(), timeout=self.reap_interval * random.uniform(0.8, 1.2))
            except TimeoutError:
                pass
            self._reap_wakeup.clear()
            if not self._stopping.is_set():
                await self.reap()

    async def _sleep(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self._stopping.wait(), timeout=seconds)
        except TimeoutError:
            pass
