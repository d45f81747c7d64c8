"""The jobs service's scheduler port on an api node: it claims and sends nothing.

Every job lives in the database, and the store notifies the scheduler nodes of each write, so
upsert and remove have nothing to keep in step. A run asked of this node (Run now, a Seed
requeue) is stored for a scheduler node to claim and send (store/postgres/nodes.py says how).
"""

from __future__ import annotations

import asyncio
import logging

from ..clock import Clock
from ..model import CompiledJob, Job, Run, RunOutcome
from .nodes import NodeBook

logger = logging.getLogger(__name__)

RESULT_POLL_SECONDS = 0.1


class ApiNodeScheduler:
    def __init__(self, book: NodeBook, clock: Clock, owner: str, result_wait: float) -> None:
        """result_wait: how long deliver waits for a scheduler node's result before answering
        without it (the run is sent all the same)."""
        self.book = book
        self.clock = clock
        self.owner = owner
        self.result_wait = result_wait
        self._started = False

    async def start(self) -> None:
        self._started = True
        logger.info("api node %s started: it claims nothing; scheduler nodes send every run", self.owner)

    async def stop(self, grace: float) -> None:
        self._started = False

    # health: nothing held, nothing in flight; alive while started (scheduler nodes: see /health)

    def is_alive(self) -> bool:
        return self._started

    def scheduled_count(self) -> int:
        return 0

    def in_flight_count(self) -> int:
        return 0

    # the jobs service's port

    def upsert(self, job: CompiledJob, keep_progress: bool = False) -> None:
        """The store's write notified the scheduler nodes already."""

    def remove(self, job_id: int) -> None:
        """Scheduler nodes send no slot of a deleted job (its claims go with its row)."""

    def follow(self, job: CompiledJob, parent_id: int | None, on: str | None) -> None:
        """Followers are in the store: a parent's result there triggers them (see finish.py)."""

    def unfollow(self, job_id: int) -> None:
        """As follow."""

    def current(self, job: Job) -> Job:
        return job

    async def flush(self) -> bool:
        return True  # no progress is held here

    async def run_now(self, job: CompiledJob) -> float:
        due = await self.book.request_run(job.id, self.owner)
        return self.clock.now() if due is None else due

    async def deliver(self, job: CompiledJob) -> Run:
        """Ask for the run and wait, at most result_wait, for the scheduler node's result."""
        due = await self.book.request_run(job.id, self.owner)
        if due is None:
            return Run(job.id, self.clock.now(), self.clock.now(), 0.0, RunOutcome.FAILED, error="the job is gone")
        deadline = self.clock.now() + self.result_wait
        while self.clock.now() < deadline:
            run = await self.book.run_result(job.id, due)
            if run is not None:
                return run
            await asyncio.sleep(RESULT_POLL_SECONDS)
        # Not a failure: a scheduler node sends it and records its result in the history.
        return Run(
            job.id,
            due,
            due,
            0.0,
            RunOutcome.FAILED,
            error=f"asked of a scheduler node; no result within {self.result_wait:g}s (see the job's runs)",
        )
