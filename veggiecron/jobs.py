"""The jobs service: the rules of a job's life, shared by every API and the dashboard (the fields
themselves are checked in job_fields.py).

A request is validated into its parsed parts (target, schedule, policy) once; the stored job
and those parts become the CompiledJob the scheduler holds.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any, Protocol
from urllib.parse import urlsplit

from .audit import Actor, AuditEntry, entry, job_changes, job_snapshot, job_target
from .chain_rules import ChainRules
from .clock import Clock
from .compiler import Skipped, compile_job, compile_parts, first_run, preview, skipped_slots, upcoming
from .config import Config
from .errors import Conflict, Invalid, NotFound
from .grammar import check_new_schedule, check_new_zone
from .job_fields import (
    CREATE_FIELDS,
    UPDATE_FIELDS,
    check_fields,
    data_object,
    policy_fields,
    validate_enabled,
    validate_name,
    validate_tags,
)
from .jobtypes.base import Target
from .jobtypes.registry import DEFAULT_TYPE, JobTypes
from .model import (
    NO_FILTER,
    CompiledJob,
    Job,
    JobFilter,
    NewJob,
    Run,
    RunOutcome,
    SeedFields,
    User,
)
from .outbound import OutboundPolicy
from .policies import JobPolicy, jitter_key, job_timing, parse_policy
from .quotas import Quotas
from .schedules import Once, get_zone, parse_schedule
from .skip_days import skipping
from .store import AuditLog, CalendarStore, ChainStore, JobStore, RunHistory

RECENT_RUNS = 10
logger = logging.getLogger(__name__)


class JobScheduler(Protocol):
    """What the service asks of the scheduler."""

    def upsert(self, job: CompiledJob, keep_progress: bool = False) -> None: ...

    def remove(self, job_id: int) -> None: ...

    def current(self, job: Job) -> Job:
        """The job with the scheduler's next run time, which may be ahead of the stored one."""

    async def run_now(self, job: CompiledJob) -> float:
        """Fire the job once now, outside its schedule; answer the slot's due time."""

    async def deliver(self, job: CompiledJob) -> Run: ...

    async def flush(self) -> bool:
        """Write the progress the scheduler holds back (next run times above all)."""

    def follow(self, job: CompiledJob, parent_id: int | None, on: str | None) -> None:
        """The job runs after parent_id's runs (None: it follows no job); told before upsert."""

    def unfollow(self, job_id: int) -> None: ...


class JobService:
    """Create, change, delete and trigger jobs; keeps the store and the scheduler in step."""

    def __init__(
        self,
        jobs: JobStore,
        runs: RunHistory,
        scheduler: JobScheduler,
        config: Config,
        clock: Clock,
        outbound: OutboundPolicy,
        types: JobTypes,
        shared: bool = False,
        calendars: CalendarStore | None = None,
        audit_log: AuditLog | None = None,
        chains: ChainStore | None = None,
    ) -> None:
        """shared: other nodes change the same jobs (quota totals are then never remembered).

        calendars: where a calendar a job names is looked up when this node's book lacks it.
        chains: who follows whom (without it, no job may run after another).
        """
        self.chain_rules = ChainRules(jobs, chains)
        self.types = types
        self.calendar_store = calendars
        self.jobs = jobs
        self.history = runs
        self.scheduler = scheduler
        self.config = config
        self.clock = clock
        self.outbound = outbound
        self.quotas = Quotas(config.quotas, jobs, types, shared)
        self.audit_log = audit_log  # where rows of actions that are no job write go (run now)

    async def check_destinations(self, target: Target, policy: JobPolicy) -> None:
        """Refuse hosts this environment may not call (checked again at every dispatch)."""
        for host in target.hosts:
            denied = await self.outbound.denies_name(host)
            if denied is not None:
                raise Invalid("data.url", f"data.url may not be called from here: {denied}")
        if policy.notify_url is not None:
            denied = await self.outbound.denies_name(urlsplit(policy.notify_url).hostname or "")
            if denied is not None:
                raise Invalid("notify_url", f"notify_url may not be called from here: {denied}")

    async def create(self, user: User, fields: dict[str, Any], actor: Actor | None = None) -> Job:
        """Create a job from the native API's fields."""
        check_fields(fields, CREATE_FIELDS)
        name = validate_name(fields.get("name"))
        job_type = self.types.get(fields.get("type", DEFAULT_TYPE)).name
        return await self.create_job(
            user,
            name=name,
            job_type=job_type,
            data=fields.get("data"),
            schedule=fields.get("schedule"),
            zone=fields.get("timezone", "UTC"),
            enabled=validate_enabled(fields.get("enabled", True)),
            policy=policy_fields(fields, {}),
            tags=validate_tags(fields.get("tags", [])),
            actor=actor,
        )

    async def create_job(
        self,
        user: User,
        *,
        name: str,
        data: object,
        schedule: object,
        job_type: str = DEFAULT_TYPE,
        zone: object = "UTC",
        enabled: bool = True,
        max_runs: int | None = None,
        keep_failures: bool = False,
        seed: SeedFields | None = None,
        policy: dict[str, Any] | None = None,
        tags: tuple[str, ...] = (),
        actor: Actor | None = None,
    ) -> Job:
        """Validate and store a new job, and schedule it at once (both APIs end here).

        actor: who asks, for the audit row (the owner, without an address, when not given)."""
        data = self.types.seal(job_type, data_object(data))  # secrets are stored sealed
        target = self.types.parse(job_type, data)
        zone_name = get_zone(zone).key  # type: ignore[arg-type]
        check_new_zone(zone)
        parsed = parse_schedule(schedule, zone_name)
        check_new_schedule(schedule)
        policy = policy or {}
        rules = parse_policy(policy)
        skipped = await self.skipped_days(user.id, rules)
        await self.check_destinations(target, rules)
        after_job, after_on, pace = await self.chain_rules.link(user, parsed)
        # A disabled job counts towards the number of jobs, not towards the requests a minute.
        rate = await self.quotas.check(user, pace, target.number_of_clones if enabled else 0)
        now = self.clock.now()
        anchor = now  # the interval grid starts at the creation instant
        new = NewJob(
            user_id=user.id,
            name=name,
            type=job_type,
            data=data,
            schedule=parsed.format(),
            timezone=zone_name,
            enabled=enabled,
            next_run=first_run(parsed, rules, now, anchor, jitter_key(user.id, name), skipped, zone_name),
            anchor=anchor,
            created_at=now,
            max_runs=max_runs,
            keep_failures=keep_failures,
            policy=policy,
            tags=tags,
            after_job=after_job,
            after_on=after_on,
        )
        row = entry(actor or Actor.of(user), "job.created", job_target(new), now, user.id, job_snapshot(new))
        job = await self.jobs.create_job(new, seed, (row,))
        self.quotas.usage.add(user.id, 1, rate)
        self._schedule(compile_parts(job, parsed, rules, target, skipped), job)
        return job

    def _schedule(self, compiled: CompiledJob, job: Job, keep_progress: bool = False) -> None:
        """Hand a job to the scheduler: a follower to its parent's runs (told first, so that the
        scheduler holds it apart from the timed jobs), any other to its timing."""
        self.scheduler.follow(compiled, job.after_job, job.after_on)
        self.scheduler.upsert(compiled, keep_progress=keep_progress)

    async def skipped_days(self, user_id: int, rules: JobPolicy) -> Skipped:
        """The day sets of the calendars a job names; Invalid naming one that does not exist."""
        book = self.types.calendars
        for ref in rules.skip_calendars:
            if book.days(user_id, ref) is None:
                try:
                    if self.calendar_store is None:
                        raise NotFound(ref)
                    book.put(await self.calendar_store.get_calendar(user_id, ref))  # made on another node
                except NotFound:
                    raise Conflict(
                        f"skip_calendars: there is no calendar named {ref!r} (create it with POST /calendars)",
                        {"field": "skip_calendars", "calendar": ref},
                    ) from None
        return book.skipped(user_id, rules.skip_calendars)

    def replanned(self, job: Job, now: float) -> float | None:
        """A job's next run once a calendar it skips changed: the first slot, from its pending one
        (a slot due but not yet run stays due unless its day is now skipped), off the skipped days."""
        if not job.enabled or job.next_run is None:
            return job.next_run
        schedule = parse_schedule(job.schedule, job.timezone)
        if isinstance(schedule, Once):
            return job.next_run
        rules = parse_policy(job.policy)
        start = min(now, job.next_run - 1e-3)
        skipped = self.types.calendars.skipped(job.user_id, rules.skip_calendars)
        return first_run(schedule, rules, start, job.anchor, jitter_key(job.user_id, job.name), skipped, job.timezone)

    def recompiled(self, job: Job) -> None:
        """Hand the scheduler a job compiled again (a calendar it skips changed): its new next run counts."""
        try:
            self.scheduler.upsert(compile_job(job, self.types))
        except Invalid:
            logger.warning("job %d no longer compiles; left as it was", job.id)

    async def get(self, user: User, name: str) -> Job:
        return self.scheduler.current(await self.jobs.get_job(user.id, name))

    def shown(self, job: Job) -> Job:
        """The job as answered and shown: its secrets as {"secret": "set"}, never their values."""
        return replace(job, data=self.types.shown(job.type, job.data))

    def current(self, job: Job) -> Job:
        """A job read from the store, with the scheduler's progress since it was written."""
        return self.scheduler.current(job)

    async def list_jobs(
        self, user: User, limit: int, offset: int, where: JobFilter = NO_FILTER
    ) -> tuple[list[Job], int]:
        """A page of the user's jobs that pass the filter, and how many pass in all."""
        jobs, count = await self.jobs.list_jobs(user.id, limit, offset, where)
        return [self.scheduler.current(job) for job in jobs], count

    async def count_failing(self, user: User) -> int:
        """How many of the user's jobs failed their latest run."""
        _none, count = await self.jobs.list_jobs(user.id, 0, 0, JobFilter(failing=True))
        return count

    async def update(self, user: User, name: str, fields: dict[str, Any], actor: Actor | None = None) -> Job:
        """Change a job from the native API's fields."""
        check_fields(fields, UPDATE_FIELDS)
        if not fields:
            raise Invalid("body", f"nothing to change; send any of: {', '.join(UPDATE_FIELDS)}")
        job = await self.get_for_update(user, name)
        return await self.change(
            user,
            job,
            data=fields.get("data", job.data),
            schedule=fields.get("schedule", job.schedule),
            zone=fields.get("timezone", job.timezone),
            enabled=validate_enabled(fields["enabled"]) if "enabled" in fields else job.enabled,
            policy=policy_fields(fields, job.policy),
            tags=validate_tags(fields["tags"]) if "tags" in fields else job.tags,
            actor=actor,
        )

    async def get_for_update(self, user: User, name: str) -> Job:
        await self.flush()
        return await self.jobs.get_job(user.id, name)

    async def flush(self) -> None:
        """Write the scheduler's queued next-run times, so a read that follows sees where jobs stand."""
        await self.scheduler.flush()

    async def change(
        self,
        owner: User,
        job: Job,
        *,
        data: object,
        schedule: object,
        zone: object,
        enabled: bool,
        max_runs: int | None = None,
        seed: SeedFields | None = None,
        policy: dict[str, Any] | None = None,
        tags: tuple[str, ...] | None = None,
        actor: Actor | None = None,
    ) -> Job:
        """Validate and store an owner's change to a job, and reschedule it at once (both APIs end here)."""
        now = self.clock.now()
        # A job's stored data is kept as it is when it is not changed (see urls.check_url).
        if data is not job.data:  # data not given is the stored data, sealed already
            data = self.types.seal(job.type, data_object(data), job.data)  # {"secret": "set"} keeps a secret
        target = self.types.parse(job.type, data, strict=data != job.data)
        zone_name = get_zone(zone).key  # type: ignore[arg-type]
        if zone != job.timezone:
            check_new_zone(zone)
        parsed = parse_schedule(schedule, zone_name)
        if schedule != job.schedule:
            check_new_schedule(schedule)  # a stored schedule is kept as it is
        policy = job.policy if policy is None else policy
        rules = parse_policy(policy)
        skipped = await self.skipped_days(job.user_id, rules)
        if data != job.data or policy.get("notify_url") != job.policy.get("notify_url"):
            await self.check_destinations(target, rules)
        after_job, after_on, pace = await self.chain_rules.link(owner, parsed, job, enabled)
        old_rate = self.quotas.rate_of(job) if job.enabled else 0.0
        new_rate = old_rate if enabled else 0.0
        if enabled and (data != job.data or parsed.format() != job.schedule or not job.enabled):
            new_rate = await self.quotas.check(owner, pace, target.number_of_clones, job.id, old_rate)
        key = jitter_key(job.user_id, job.name)
        anchor, next_run = job.anchor, job.next_run
        rescheduled = True
        re_enabled = enabled and not job.enabled
        timing_changed = any(
            policy.get(k) != job.policy.get(k) for k in ("jitter_seconds", "start_at", "end_at", "skip_calendars")
        )
        if parsed.format() != job.schedule or zone_name != job.timezone:
            anchor = now  # the interval grid starts at the change
            next_run = first_run(parsed, rules, now, anchor, key, skipped, zone_name)
        elif (re_enabled or timing_changed) and not isinstance(parsed, Once):
            # Slots that passed while the job was disabled are not run.
            next_run = first_run(parsed, rules, now, anchor, key, skipped, zone_name)
        else:
            rescheduled = False
        changed = replace(
            job,
            data=data,
            schedule=parsed.format(),
            timezone=zone_name,
            enabled=enabled,
            anchor=anchor,
            next_run=next_run,
            date_updated=now,
            max_runs=max_runs if seed is not None else job.max_runs,
            policy=policy,
            # Re-enabling a job that paused itself starts a fresh failure count.
            paused_reason=None if re_enabled else job.paused_reason,
            consecutive_failures=0 if re_enabled else job.consecutive_failures,
            tags=job.tags if tags is None else tags,
            after_job=after_job,
            after_on=after_on,
        )
        changes = job_changes(job, changed)
        action = "job.changed"
        if set(changes) <= {"enabled", "paused_reason"} and "enabled" in changes:
            action = "job.enabled" if enabled else "job.disabled"
        row = entry(actor or Actor.of(owner), action, job_target(job), now, job.user_id, changes)
        updated = await self.jobs.update_job(changed, seed, (row,))
        self.quotas.usage.add(job.user_id, 0, new_rate - old_rate)
        self._schedule(compile_parts(updated, parsed, rules, target, skipped), updated, keep_progress=not rescheduled)
        return self.scheduler.current(updated)

    async def delete(self, user: User, name: str, actor: Actor | None = None, disable_followers: bool = False) -> Job:
        """Delete a job; one that others follow only with disable_followers (they are disabled
        in the same transaction), else Conflict naming them."""
        job = await self.jobs.get_job(user.id, name)
        now = self.clock.now()
        rows: tuple[AuditEntry, ...] = (
            entry(actor or Actor.of(user), "job.deleted", job_target(job), now, job.user_id, job_snapshot(job)),
        )
        followers = await self.chain_rules.check_deletable(job, disable_followers)
        self.scheduler.remove(job.id)
        self.scheduler.unfollow(job.id)
        for follower in followers:  # disabled with it: its parent is gone, nothing triggers it
            change = {"enabled": {"old": follower.enabled, "new": False}}
            rows += (entry(actor or Actor.of(user), "job.disabled", job_target(follower), now, user.id, change),)
            self.scheduler.remove(follower.id)
            self.scheduler.unfollow(follower.id)
        await self.chain_rules.delete(job, followers, now, rows)
        self.quotas.usage.add(job.user_id, -1, -self.quotas.rate_of(job) if job.enabled else 0.0)
        return job

    async def run_now(self, user: User, name: str, actor: Actor | None = None) -> tuple[Job, float]:
        job = await self.jobs.get_job(user.id, name)
        due = await self.scheduler.run_now(compile_job(job, self.types))
        if self.audit_log is not None:
            # The run itself is written by the scheduler later; the request for it is the change here.
            row = entry(
                actor or Actor.of(user), "job.run", job_target(job), self.clock.now(), job.user_id, {"due_at": due}
            )
            await self.audit_log.record_audit((row,))
        return job, due

    async def deliver(self, job: Job) -> Run:
        """Run a stored job once now, outside its schedule, and answer the recorded run."""
        return await self.scheduler.deliver(compile_job(job, self.types))

    async def runs(
        self, user: User, name: str, limit: int, offset: int, outcome: RunOutcome | None = None
    ) -> tuple[Job, list[Run], int]:
        job = await self.jobs.get_job(user.id, name)
        runs, count = await self.history.list_runs(job.id, limit, offset, outcome)
        return job, runs, count

    async def recent_runs(self, job: Job) -> list[Run]:
        # One read, without the count a page of history carries: GET /job/N shows the newest only.
        return (await self.history.recent_runs([job.id], RECENT_RUNS)).get(job.id, [])

    async def recent_runs_of(self, jobs: list[Job], per_job: int) -> dict[int, list[Run]]:
        """The newest runs of each of these jobs (read together), newest first."""
        return await self.history.recent_runs([job.id for job in jobs], per_job)

    def upcoming(self, job: Job, count: int) -> list[float]:
        """The job's next `count` run times from now (fewer when its schedule ends)."""
        return preview(job, count, self.clock.now(), self.types.calendars)

    def skipped_upcoming(self, job: Job, until: float, count: int) -> list[tuple[float, tuple[str, ...]]]:
        """Slots from now to `until` that the job's skip_calendars take away, with the calendars holding each."""
        return skipped_slots(job, until, self.clock.now(), self.types.calendars, count)

    def preview_schedule(
        self, schedule: object, zone: object, count: int, user_id: int = 0, skip: tuple[str, ...] = ()
    ) -> list[float]:
        """The next `count` run times of a schedule not saved yet (a job created now), off the days of
        the user's calendars named in `skip`; Invalid when it is wrong."""
        zone_name = get_zone(zone).key  # type: ignore[arg-type]
        parsed = parse_schedule(schedule, zone_name)
        now = self.clock.now()
        if isinstance(parsed, Once):
            return [parsed.at] if parsed.at > now else []
        rules = parse_policy({"skip_calendars": list(skip)} if skip else {})
        for ref in rules.skip_calendars:
            if self.types.calendars.days(user_id, ref) is None:
                raise Invalid("skip_calendars", f"there is no calendar named {ref!r}")
        skipped = skipping(parsed, zone_name, self.types.calendars.skipped(user_id, rules.skip_calendars))
        return upcoming(job_timing(skipped, rules, ""), rules.catch_up.window, now, now, count)
