"""Housekeeping on a timer: trim each job's run history, forget expired tokens."""

from __future__ import annotations

import asyncio
import logging

from .audit_trail import trim_audit_log
from .clock import Clock
from .errors import StoreUnavailable
from .store import AccountStore, AuditLog, RunHistory

logger = logging.getLogger(__name__)

EVERY_SECONDS = 60.0


class Maintenance:
    def __init__(
        self,
        runs: RunHistory,
        accounts: AccountStore,
        clock: Clock,
        run_history_per_job: int,
        audit: AuditLog | None = None,
        audit_max_age_days: float = 365.0,
    ) -> None:
        self.audit = audit
        self.audit_max_age_days = audit_max_age_days
        self.runs = runs
        self.accounts = accounts
        self.clock = clock
        self.run_history_per_job = run_history_per_job
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="veggiecron-maintenance")

    async def stop(self) -> None:
        self._stopping.set()
        if self._task is not None:
            await self._task

    async def run_once(self) -> None:
        try:
            await self.runs.prune_runs(self.run_history_per_job)
            await self.accounts.prune_tokens(self.clock.now())
        except StoreUnavailable as exc:
            logger.warning("pruning run history and tokens failed, will retry: %s", exc.description)
        if self.audit is not None:
            await trim_audit_log(self.audit, self.clock.now(), self.audit_max_age_days)

    async def _loop(self) -> None:
        while not self._stopping.is_set():
            try:
                await asyncio.wait_for(self._stopping.wait(), timeout=EVERY_SECONDS)
            except TimeoutError:
                await self.run_once()
