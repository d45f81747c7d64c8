"""The rules of a chain of jobs (a follower and the job it runs after), for the jobs service.

A follower's parent is an existing native job of the same user, found by name when the schedule
is written and kept by id from then on; no chain turns back on itself; a job others follow is not
deleted from under them (unless they are disabled with it); a follower is counted towards quotas
at the rate of the job at the head of its chain.
"""

from __future__ import annotations

from collections.abc import Sequence

from .audit import AuditEntry
from .errors import Conflict, Invalid, NotFound
from .follow import MAX_CHAIN, After
from .model import Job, User
from .schedules import Schedule, parse_schedule
from .store import JobStore
from .store.chain_contract import ChainStore


class ChainRules:
    def __init__(self, jobs: JobStore, chains: ChainStore | None) -> None:
        """chains None: a store that keeps no chains (no job may run after another)."""
        self.jobs = jobs
        self._chains = chains

    @property
    def chains(self) -> ChainStore:
        if self._chains is None:
            raise Invalid("schedule", "schedule: jobs that run after other jobs are not available here")
        return self._chains

    async def parent(self, user: User, schedule: Schedule, job: Job | None = None) -> Job | None:
        """The job a (new or changed) follower runs after (None for a job with a schedule of its
        own); Invalid naming it when there is none, when it is a Seed schedule, or when the chain
        would come back to `job`."""
        if not isinstance(schedule, After):
            return None
        after = schedule
        try:
            parent = await self.jobs.get_job(user.id, after.parent)
        except NotFound:
            raise Invalid(
                "schedule",
                f"schedule: you have no job named {after.parent!r} to run after",
                {"parent": after.parent},
            ) from None
        if await self.chains.seed_uuids([parent.id]):
            raise Invalid(
                "schedule",
                f"schedule: {after.parent!r} is a Seed Scheduler schedule; a job runs after native jobs only",
                {"parent": after.parent},
            )
        if job is not None:
            cycle = await self._cycle(user, job, parent)
            if cycle:
                raise Invalid(
                    "schedule",
                    f"schedule: this would make a cycle: {' after '.join(cycle)}",
                    {"parent": after.parent, "cycle": cycle},
                )
        return parent

    async def _cycle(self, user: User, job: Job, parent: Job) -> list[str]:
        """The names around the cycle the job would close by following `parent` (empty when none)."""
        path = [job.name]
        current = parent
        for _ in range(MAX_CHAIN):
            path.append(current.name)
            if current.id == job.id:
                return path
            up = await self._parent_of(user, current)
            if up is None:
                return []
            current = up
        return path

    async def _parent_of(self, user: User, job: Job) -> Job | None:
        """The job this one follows, as stored (None: it follows none, or its parent is gone)."""
        if job.after_job is None:
            return None
        try:
            schedule = parse_schedule(job.schedule, job.timezone)
            if not isinstance(schedule, After):
                return None
            parent = await self.jobs.get_job(user.id, schedule.parent)
        except (Invalid, NotFound):
            return None
        return parent if parent.id == job.after_job else None

    async def link(
        self, user: User, schedule: Schedule, job: Job | None = None, enabled: bool = True
    ) -> tuple[int | None, str | None, Schedule]:
        """A new (job None) or changed job's (after_job, after_on), and the schedule its quota counts.

        A follower keeps its parent (by id) until its schedule names another; one whose parent was
        deleted finds a parent by name again when it is enabled."""
        if not isinstance(schedule, After):
            return None, None, schedule
        if job is not None and schedule.format() == job.schedule and not (enabled and job.after_job is None):
            if job.after_job is None or not enabled:
                return job.after_job, job.after_on, schedule
            try:
                parent = await self.jobs.get_job(user.id, schedule.parent)  # the same job: names never change
            except NotFound:
                return job.after_job, job.after_on, schedule
        else:
            found = await self.parent(user, schedule, job)
            assert found is not None  # an `after` schedule has a parent
            parent = found
        return parent.id, schedule.on, await self.pace(user, schedule, parent)

    async def pace(self, user: User, schedule: Schedule, parent: Job | None) -> Schedule:
        """What a job's quota counts: its own schedule, or for a follower its chain's first job's
        (an `after` schedule, which projects nothing, when the chain is broken)."""
        if parent is None:
            return schedule
        current = parent
        for _ in range(MAX_CHAIN):
            up = await self._parent_of(user, current)
            if up is None:
                break
            current = up
        try:
            return parse_schedule(current.schedule, current.timezone)
        except Invalid:
            return After(current.name)

    async def check_deletable(self, job: Job, disable_followers: bool) -> list[Job]:
        """The job's followers, to disable with it; Conflict naming them when they may not be."""
        if self._chains is None:
            return []
        followers = await self.chains.followers_of(job.id)
        if followers and not disable_followers:
            names = [f.name for f in followers]
            raise Conflict(
                f"job {job.name!r} is followed by {', '.join(repr(n) for n in names)}: delete or change them "
                "first, or delete with ?followers=disable to disable them with it",
                {"followers": names},
            )
        return followers

    async def delete(self, job: Job, followers: Sequence[Job], now: float, audit: Sequence[AuditEntry]) -> None:
        """Delete the job, disabling these followers of it in the same transaction."""
        if followers:
            await self.chains.delete_job_disabling(job.id, [f.id for f in followers], now, audit)
        else:
            await self.jobs.delete_job(job.id, audit)

    async def links(self, job: Job, new: bool = False) -> tuple[str | None, list[str]]:
        """The name of the job this one runs after (None: none, or it was deleted) and of those
        that run after it (new: a job just created, which none follows yet)."""
        if new or self._chains is None:
            schedule = parse_schedule(job.schedule, job.timezone)
            return (schedule.parent if isinstance(schedule, After) and job.after_job else None), []
        parent = None if job.after_job is None else await self.chains.job_name(job.after_job)
        return parent, [f.name for f in await self.chains.followers_of(job.id)]
