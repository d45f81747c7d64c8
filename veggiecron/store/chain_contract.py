"""What the chains of jobs ask of a store: who follows whom, read and cut (see follow.py)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from ..audit import AuditEntry
from ..model import Job


class ChainStore(Protocol):
    async def followers_of(self, job_id: int) -> list[Job]:
        """The jobs that run after this one, by name."""

    async def seed_uuids(self, job_ids: Sequence[int]) -> dict[int, str]:
        """The Seed schedule ids of those jobs that are Seed schedules (as SeedStore answers)."""

    async def job_name(self, job_id: int) -> str | None:
        """A job's name by its id; None when it is gone."""

    async def delete_job_disabling(
        self, job_id: int, followers: Sequence[int], now: float, audit: Sequence[AuditEntry] = ()
    ) -> None:
        """Delete the job (as delete_job does) and disable these followers of it (their version
        bumped, so that no stale write enables them again), with the audit rows, in one transaction."""
