"""Export and import a user's jobs (the `veggiecron export` and `veggiecron import` commands).

An import checks every job as the API checks a request, through the jobs service itself: the
service is handed a staging layer in place of a store, which records what it would write and
answers its reads as if that were written (so quotas count the jobs imported before). Only
when every job has passed is what was staged written, in one transaction: a refused job, or a
database that fails half-way, leaves nothing behind.

A new job is created as POST /job (or the Seed API) would create it, then given the progress
the file carries (see jobs_file): its next run is its grid's first slot after the import. A job
whose name exists is refused, or with `replace` changed as PATCH would change it, keeping its
own progress.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from .app import make_store
from .audit import SYSTEM_ACTOR, AuditEntry
from .audit import entry as audit_entry
from .auth import NO_PASSWORD
from .calendar_book import CalendarBook
from .clock import Clock, SystemClock
from .compiler import first_run
from .config import Config
from .errors import Conflict, Forbidden, Invalid, VeggiecronError
from .export_secrets import Exporting, sealed_token, seed_without_unknown_token, without_unknown_secrets
from .jobs import JobService
from .jobs_file import Entry, Refused, dump, load
from .jobtypes.base import TypeContext
from .jobtypes.registry import DEFAULT_TYPE, JobTypes
from .model import NO_FILTER, CompiledJob, Job, JobFilter, NewJob, Run, SeedFields, User
from .outbound import OutboundPolicy
from .policies import jitter_key, parse_policy
from .schedules import parse_schedule
from .sealed import SecretBox
from .seed.validation import job_name, schedule_text, validate_email, validate_frequency, validated
from .store import JobStore, Store
from .store.rows import job_created


class UnknownUser(Exception):
    """No user of that name in the database."""


class WriteFailed(Exception):
    """Every job passed, but the database refused the write: no job was written."""

    def __init__(self, cause: BaseException, user_created: bool) -> None:
        super().__init__(str(cause))
        self.cause = cause
        self.user_created = user_created  # by create_user, just before the jobs' write


@dataclass(frozen=True)
class Imported:
    created: int
    replaced: int
    user_created: bool
    notes: tuple[str, ...] = ()  # the secrets left out (the file held no value for them)


async def export_user(
    config: Config, username: str, clock: Clock | None = None, include_secrets: bool = False
) -> tuple[bytes, int]:
    """The document of all of the user's jobs in the configured database, and how many jobs it holds.

    Secrets are written as {"secret": null} unless include_secrets (then in plain text)."""
    exporting = Exporting(_job_types(config), _box(config), include_secrets)
    store = make_store(config)
    await store.open()
    try:
        return await export_jobs(store, username, (clock or SystemClock()).now(), exporting)
    finally:
        await store.close()


async def import_user(
    config: Config, username: str, raw: bytes, *, replace_existing: bool, create_user: bool, clock: Clock | None = None
) -> Imported:
    """Import a file's jobs for the user into the configured database; Refused names what was wrong."""
    entries = load(raw)  # a file that is not one is refused before the database is opened
    store = make_store(config)
    await store.open()
    try:
        return await import_jobs(
            store,
            config,
            clock or SystemClock(),
            username,
            entries,
            replace_existing=replace_existing,
            create_user=create_user,
        )
    finally:
        await store.close()


async def export_jobs(store: Store, username: str, now: float, exporting: Exporting | None = None) -> tuple[bytes, int]:
    found = await store.user_credentials(username)
    if found is None:
        raise UnknownUser(username)
    jobs = await store.user_jobs(found[0].id)
    if exporting is None:
        return dump(username, jobs, now), len(jobs)
    shown = [(exporting.job(job), seed) for job, seed in jobs]
    return dump(username, shown, now, exporting.token), len(jobs)


def _job_types(config: Config) -> JobTypes:
    return JobTypes.load(TypeContext(config, OutboundPolicy(config.app.env, config.http_client.allow_networks)))


def _box(config: Config) -> SecretBox:
    return SecretBox.of(config.security.secrets_key, config.app.key)


@dataclass(frozen=True)
class _Plan:
    """What one entry of the file becomes, once the service has passed it."""

    entry: Entry
    replaces: bool  # a stored job of that name, changed; else a new job
    staged: int  # the new job's place in StagedJobs.created, or the id of the job it changes
    seed: SeedFields | None  # as the file has them
    max_runs: int | None
    replaced_seed: SeedFields | None = None  # the changed job's Seed fields as stored


async def import_jobs(
    store: Store,
    config: Config,
    clock: Clock,
    username: str,
    entries: Sequence[Entry],
    *,
    replace_existing: bool,
    create_user: bool,
) -> Imported:
    """Check every entry through the jobs service, then write them all in one transaction."""
    now = clock.now()
    found = await store.user_credentials(username)
    if found is None and not create_user:
        raise UnknownUser(username)
    if found is None and (not username or len(username) > 254 or any(c.isspace() for c in username)):
        raise Invalid("username", "a new user's name must be 1 to 254 characters without spaces (as create-admin's)")
    # A user still to be created is checked as a new user without jobs; it is created only once
    # every job has passed, and its id replaces this one's in what is written.
    owner = found[0] if found is not None else User(0, username, False, now, now)
    existing = {job.name: (job, seed) for job, seed in await store.user_jobs(owner.id)} if found else {}
    staged = StagedJobs(store)
    outbound = OutboundPolicy(config.app.env, config.http_client.allow_networks)
    job_types = JobTypes.load(TypeContext(config, outbound))
    # The calendars a job's skip_calendars names are looked up in the store (and its days then skipped).
    service = JobService(staged, store, NoScheduler(), config, clock, outbound, job_types, calendars=store)
    plans: list[_Plan] = []
    seen: set[str] = set()
    notes: list[str] = []
    box = _box(config)  # a Seed schedule's auth_token is stored sealed
    for entry in entries:
        try:
            plans.append(await _stage(service, staged, owner, entry, existing, replace_existing, seen, notes, box))
        except VeggiecronError as exc:
            raise Refused(exc.description, entry.number, entry.name, _field_of(exc)) from None
    user_created = False
    if found is None:
        email = username if _is_email(username) else ""  # as the Seed API makes a user for an email
        owner = await store.create_user(username, NO_PASSWORD, now, email=email)
        user_created = True
    created = [_created(staged, plan, owner, now, job_types.calendars) for plan in plans if not plan.replaces]
    changed = [_changed(staged, plan, owner) for plan in plans if plan.replaces]
    try:
        imported = {
            "created": [job.name for job, _seed in created],
            "changed": [job.name for job, _seed in changed],
            "user_created": user_created,
        }
        row = audit_entry(SYSTEM_ACTOR, "jobs.imported", f"user:{owner.username}", now, owner.id, imported)
        await store.write_jobs(created, changed, (row,))
    except Conflict as exc:  # a Seed schedule id another user's schedule has (or a name taken meanwhile)
        if user_created:
            raise WriteFailed(exc, user_created) from exc
        named = [plan.entry for plan in plans if plan.entry.name == exc.data.get("name")]
        number, name = (named[0].number, named[0].name) if named else (None, None)
        raise Refused(exc.description, number, name, exc.data.get("field")) from None
    except Exception as exc:
        raise WriteFailed(exc, user_created) from exc
    return Imported(len(created), len(changed), user_created, tuple(notes))


async def _stage(
    service: JobService,
    staged: StagedJobs,
    owner: User,
    entry: Entry,
    existing: dict[str, tuple[Job, SeedFields | None]],
    replace_existing: bool,
    seen: set[str],
    notes: list[str],
    box: SecretBox,
) -> _Plan:
    name = entry.name
    if isinstance(name, str) and name in seen:
        raise Invalid("name", f"the file holds two jobs named {name!r}")
    if entry.keep_failures != (entry.seed_uuid is not None):
        raise Invalid("keep_failures", "keep_failures is true for a Seed schedule and false for any other job")
    seed = _seed_fields(entry, box, notes)
    max_runs = _max_runs(entry)
    fields = without_unknown_secrets(service.types, entry, notes)
    current = existing.get(name) if isinstance(name, str) else None
    if current is None:
        await service.create(owner, fields)
        plan = _Plan(entry, False, len(staged.created) - 1, seed, max_runs)
    else:
        job, current_seed = current
        if not replace_existing:
            raise Conflict(f"you already have a job named {name!r} (--replace changes it as PATCH would)")
        if (current_seed is None) != (seed is None):
            kind = "is not a Seed schedule" if current_seed is None else "is a Seed schedule"
            raise Invalid("seed", f"the job named {name!r} {kind}: it can only be replaced by one like it")
        service.types.get(entry.fields.get("type", DEFAULT_TYPE))  # Invalid for a type this server does not know
        await service.update(owner, job.name, {k: v for k, v in fields.items() if k not in ("name", "type")})
        plan = _Plan(entry, True, job.id, seed, max_runs, current_seed)
    if isinstance(name, str):  # else the service has refused it
        seen.add(name)
    return plan


def _seed_fields(entry: Entry, box: SecretBox, notes: list[str]) -> SeedFields | None:
    """A Seed schedule's fields, checked as the Seed API checks a new schedule's, its token sealed."""
    if entry.seed_uuid is None:
        return None
    try:
        seed, _frequency, _enabled = validated(seed_without_unknown_token(entry, notes), None)
        schedule_text(seed.cron_definition, seed.interval_definition)
    except Invalid as exc:
        raise Invalid(f"seed.{exc.field}", exc.description) from None
    if entry.name != job_name(entry.seed_uuid):
        raise Invalid("name", f"a Seed schedule's job is named after its id: {job_name(entry.seed_uuid)!r}")
    return sealed_token(replace(seed, uuid=entry.seed_uuid), box)


def _max_runs(entry: Entry) -> int | None:
    """A Seed schedule's frequency; no other job has one (the native API cannot set it)."""
    if entry.seed_uuid is None:
        if entry.max_runs is not None:
            raise Invalid("max_runs", "max_runs is a Seed schedule's frequency: null for any other job")
        return None
    try:
        return validate_frequency(entry.max_runs)
    except Invalid as exc:
        raise Invalid("max_runs", exc.description) from None


def _created(
    staged: StagedJobs, plan: _Plan, owner: User, now: float, calendars: CalendarBook
) -> tuple[Job, SeedFields | None]:
    """The staged new job with the file's progress: its next run the first slot of its grid from now."""
    new = staged.created[plan.staged][0]
    carried = plan.entry.progress
    anchor = now if carried.anchor is None else min(carried.anchor, now)
    next_run = None
    if not carried.finished:
        schedule = parse_schedule(new.schedule, new.timezone)
        rules = parse_policy(new.policy)
        skipped = calendars.skipped(owner.id, rules.skip_calendars)
        next_run = first_run(schedule, rules, now, anchor, jitter_key(owner.id, new.name), skipped, new.timezone)
    job = replace(
        job_created(0, new),
        user_id=owner.id,
        anchor=anchor,
        next_run=next_run,
        max_runs=plan.max_runs,
        keep_failures=plan.entry.keep_failures,
        run_count=carried.run_count,
        consecutive_failures=carried.consecutive_failures,
        paused_reason=carried.paused_reason,
    )
    seed = None if plan.seed is None else replace(plan.seed, created_by=owner.id, updated_by=owner.id)
    return job, seed


def _changed(staged: StagedJobs, plan: _Plan, owner: User) -> tuple[Job, SeedFields | None]:
    """The stored job as the service changed it; a Seed schedule's frequency and fields as the file has them."""
    job = staged.changed[plan.staged]
    if plan.seed is None or plan.replaced_seed is None:
        return job, None
    seed = replace(plan.seed, created_by=plan.replaced_seed.created_by, updated_by=owner.id)
    return replace(job, max_runs=plan.max_runs), seed


def _field_of(exc: VeggiecronError) -> str | None:
    if isinstance(exc, Invalid):
        return exc.field
    if isinstance(exc, Forbidden):
        return exc.data.get("quota")
    return exc.data.get("field") or ("name" if isinstance(exc, Conflict) else None)


def _is_email(name: str) -> bool:
    try:
        validate_email(name)
    except Invalid:
        return False
    return True


class NoScheduler:
    """The commands run no scheduler: a running server or node reads the jobs from the store."""

    def upsert(self, job: CompiledJob, keep_progress: bool = False) -> None:
        pass

    def remove(self, job_id: int) -> None:
        pass

    def follow(self, job: CompiledJob, parent_id: int | None, on: str | None) -> None:
        pass

    def unfollow(self, job_id: int) -> None:
        pass

    def current(self, job: Job) -> Job:
        return job

    async def run_now(self, job: CompiledJob) -> float:
        raise RuntimeError("an import runs no job")

    async def deliver(self, job: CompiledJob) -> Run:
        raise RuntimeError("an import runs no job")

    async def flush(self) -> bool:
        return True


class StagedJobs:
    """A JobStore whose writes are recorded instead of stored; the reads the jobs service checks
    quotas with answer as if they had been stored. Other reads go to the store as they are."""

    def __init__(self, store: JobStore) -> None:
        self.store = store
        self.created: list[tuple[NewJob, SeedFields | None]] = []
        self.changed: dict[int, Job] = {}  # by id: the change as the service made it (version not bumped)

    # The service's audit rows of each job are dropped: an import writes one row of its own.

    async def create_job(self, new: NewJob, seed: SeedFields | None = None, audit: Sequence[AuditEntry] = ()) -> Job:
        self.created.append((new, seed))
        return job_created(-len(self.created), new)  # an id below zero is no stored job's

    async def update_job(self, job: Job, seed: SeedFields | None = None, audit: Sequence[AuditEntry] = ()) -> Job:
        self.changed[job.id] = job
        return replace(job, version=job.version + 1)

    async def count_jobs(self, user_id: int) -> int:
        return await self.store.count_jobs(user_id) + sum(new.user_id == user_id for new, _seed in self.created)

    async def enabled_job_timings(self, user_id: int) -> list[tuple[int, str, str, str, dict[str, Any]]]:
        timings = [t for t in await self.store.enabled_job_timings(user_id) if t[0] not in self.changed]
        timings += [
            (job.id, job.schedule, job.timezone, job.type, job.data)
            for job in self.changed.values()
            if job.user_id == user_id and job.enabled
        ]
        timings += [
            (-number, new.schedule, new.timezone, new.type, new.data)
            for number, (new, _seed) in enumerate(self.created, 1)
            if new.user_id == user_id and new.enabled
        ]
        return timings

    async def get_job(self, user_id: int, name: str) -> Job:
        return await self.store.get_job(user_id, name)

    async def list_jobs(
        self, user_id: int, limit: int, offset: int, where: JobFilter = NO_FILTER
    ) -> tuple[list[Job], int]:
        return await self.store.list_jobs(user_id, limit, offset, where)

    async def user_jobs(self, user_id: int) -> list[tuple[Job, SeedFields | None]]:
        return await self.store.user_jobs(user_id)

    async def count_scheduled(self) -> int:
        return await self.store.count_scheduled()

    async def job_counts_by_state(self) -> dict[str, int]:
        return await self.store.job_counts_by_state()

    async def import_jobs(
        self, user_id: int, jobs: Sequence[tuple[str, dict[str, Any], str, float, float]], now: float, *, job_type: str
    ) -> None:
        raise RuntimeError("an import is staged job by job")

    async def write_jobs(
        self,
        created: Sequence[tuple[Job, SeedFields | None]],
        changed: Sequence[tuple[Job, SeedFields | None]],
        audit: Sequence[AuditEntry] = (),
    ) -> None:
        raise RuntimeError("what is staged is written to the store itself")

    async def delete_job(self, job_id: int, audit: Sequence[AuditEntry] = ()) -> None:
        raise RuntimeError("an import deletes no job")
