"""The store contract: what the rest of veggiecron may ask of a database, split by concern.

Services and the scheduler are written against these protocols, never against a concrete
store; only the composition root (app.py) names one. Every implementation passes the same
contract test suite (tests/contract/). Times are epoch seconds (UTC) throughout.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple, Protocol

from ..audit import AuditEntry, AuditFor
from ..calendars import Calendar
from ..model import (
    NO_FILTER,
    Claim,
    DueJob,
    FailedTask,
    Finished,
    FinishReport,
    Group,
    HeldSlot,
    Job,
    JobFilter,
    NewJob,
    Progress,
    Run,
    RunOutcome,
    SeedFields,
    SlotDecision,
    TokenInfo,
    User,
    Webhook,
)
from ..oidc_keys import OidcKey
from ..sealed_columns import SealedValueStore
from ..signing import SigningSecret
from .chain_contract import ChainStore


class DatabaseRefused(Exception):
    """The database is not one this veggiecron may use (damaged, another program's); it is left untouched."""


class SchemaTooNew(DatabaseRefused):
    """The database was written by a newer veggiecron; refuse to touch it."""


class JobStore(Protocol):
    """Jobs as their owners see them: create, read, change, delete, count."""

    async def create_job(self, new: NewJob, seed: SeedFields | None = None, audit: Sequence[AuditEntry] = ()) -> Job:
        """Insert a job (and a Seed schedule's row) and its audit rows in one transaction; Conflict if
        the name is taken. A refused audit row leaves the job unwritten."""

    async def import_jobs(
        self, user_id: int, jobs: Sequence[tuple[str, dict[str, Any], str, float, float]], now: float, *, job_type: str
    ) -> None:
        """Insert many validated jobs of one type (name, data, schedule, next_run, anchor) at once (bulk loads)."""

    async def get_job(self, user_id: int, name: str) -> Job:
        """The user's job of that name; NotFound otherwise."""

    async def list_jobs(
        self, user_id: int, limit: int, offset: int, where: JobFilter = NO_FILTER
    ) -> tuple[list[Job], int]:
        """One page of the user's jobs that pass `where` (all of them by default) in creation order,
        and how many pass in all. Tags match exactly; the text is a case-insensitive piece of the
        name or of data.url (ASCII letters at least); states are Job.state's."""

    async def update_job(self, job: Job, seed: SeedFields | None = None, audit: Sequence[AuditEntry] = ()) -> Job:
        """Write an owner's change (and its Seed row) and its audit rows in one transaction; answer the
        job with its version bumped."""

    async def delete_job(self, job_id: int, audit: Sequence[AuditEntry] = ()) -> None:
        """Delete the job with its runs, its Seed row and its failed tasks, and write its audit rows, in
        one transaction."""

    async def user_jobs(self, user_id: int) -> list[tuple[Job, SeedFields | None]]:
        """Every job of the user in creation order, each with its Seed fields when it is a Seed
        schedule, read in one statement: one consistent view while others write (export)."""

    async def write_jobs(
        self,
        created: Sequence[tuple[Job, SeedFields | None]],
        changed: Sequence[tuple[Job, SeedFields | None]],
        audit: Sequence[AuditEntry] = (),
    ) -> None:
        """In one transaction: insert the `created` jobs (each gets a new id and version 1; the rest,
        progress included, is stored as given) with their Seed rows, and write the `changed` ones as
        update_job does, and the audit rows. Conflict, naming the job, when a name or a Seed schedule id
        is taken; a refused or failed write leaves nothing written (import)."""

    async def count_jobs(self, user_id: int) -> int: ...

    async def enabled_job_timings(self, user_id: int) -> list[tuple[int, str, str, str, dict[str, Any]]]:
        """(id, schedule, timezone, type, data) of the user's enabled jobs: what quotas are computed from."""

    async def count_scheduled(self) -> int:
        """Enabled jobs with a next run, across all users."""

    async def job_counts_by_state(self) -> dict[str, int]:
        """{"scheduled": n, "paused": n, "disabled": n, "done": n} across all users."""


class CalendarStore(Protocol):
    """Calendars (named sets of dates) and the jobs whose skip_calendars name them.

    `ref` is how a job names a calendar: its owner's own name, or `shared:<name>` for a shared one.
    """

    async def create_calendar(
        self, user_id: int, name: str, shared: bool, spec: dict[str, Any], now: float
    ) -> Calendar:
        """Store a new calendar; Conflict when the name is taken (among the user's, or among shared ones)."""

    async def get_calendar(self, user_id: int, ref: str) -> Calendar:
        """The user's calendar of that name, or the shared one for `shared:<name>`; NotFound otherwise."""

    async def list_calendars(self, user_id: int) -> list[Calendar]:
        """The user's own calendars and every shared one, by name."""

    async def all_calendars(self) -> list[Calendar]:
        """Every calendar of every user (what the in-memory calendar book is loaded from)."""

    async def jobs_using_calendar(self, user_id: int, ref: str) -> list[Job]:
        """The jobs whose skip_calendars name this calendar: the user's own (any user's for `shared:`)."""

    async def update_calendar(
        self, calendar: Calendar, spec: dict[str, Any], now: float, next_runs: Sequence[tuple[Job, float | None]]
    ) -> Calendar:
        """Write the calendar's new dates and, in the same transaction, each given job's new next run with
        its version bumped (a job changed since it was read keeps its own); answer the calendar."""

    async def delete_calendar(self, calendar_id: int) -> None: ...


class DueWindow(Protocol):
    """What a single scheduler holding a window of due jobs in memory reads and writes."""

    async def due_jobs(self, until: float, after: tuple[float, int] | None, limit: int) -> list[Job]:
        """Enabled jobs due at or before `until`, in (next_run, id) order, after `after` when given."""

    async def record_progress(self, progress: Progress) -> None:
        """Write runs, next runs, counts, kept failures, streaks, pauses and held slots in one transaction.

        A next run or pause whose version moved on (the owner changed the job meanwhile) is
        dropped; so is anything of a deleted job. A job whose run count reaches its max_runs is
        disabled. Released held slots are removed before new ones are stored; holding a slot
        again replaces it. Raises StoreUnavailable when the database refuses the write.
        """

    async def held_slots(self) -> list[tuple[Job, HeldSlot]]:
        """The slots held and not released, each with its job as stored, oldest first (then by job id).

        A deleted job's held slots are gone with it.
        """

    async def follower_jobs(self) -> list[Job]:
        """Every job that runs after another (its schedule is `after ...`), across all users."""


class Trimmed(NamedTuple):
    deleted: int  # -1: another node is trimming
    seconds: float  # how long the batch's statement ran (see trim_runs)


class RunHistory(Protocol):
    # Rows one trim transaction deletes at most. SQLite has one writer for everything, so its
    # steps are short (a few milliseconds); PostgreSQL's trim locks only the rows it deletes, and
    # its steps are larger, so that a backlog goes in fewer round trips.
    trim_rows_per_step: int

    async def list_runs(
        self, job_id: int, limit: int, offset: int, outcome: RunOutcome | None = None
    ) -> tuple[list[Run], int]:
        """One page of the job's runs (only those with `outcome` when given), newest first, and how many in all."""

    async def recent_runs(self, job_ids: Sequence[int], per_job: int) -> dict[int, list[Run]]:
        """The newest `per_job` runs of each of these jobs, newest first; a job without runs is left out."""

    async def trim_runs(self, job_ids: Sequence[int], keep_per_job: int, older_than: float, limit: int) -> Trimmed:
        """Delete, of each of these jobs, the runs beyond its newest `keep_per_job` (0: no count
        limit) and those due before `older_than` (epoch seconds; 0: no age limit), at most `limit`
        rows in all, in one short transaction; answer how many were deleted and how long its
        statement ran (on SQLite, commit included, timed on the writer's thread; on PostgreSQL as
        the database timed it, commit not included). Runs still claimed by a node are never deleted. On
        several nodes, answer deleted -1 without deleting when another node is trimming (one node
        trims at a time)."""

    async def job_ids_after(self, after: int, count: int) -> list[int]:
        """Up to `count` job ids above `after`, in order: a walk over every job, page by page."""


class AccountStore(Protocol):
    """Users, their tokens (stored as keyed hashes only) and groups."""

    async def create_user(
        self,
        username: str,
        password_hash: str,
        now: float,
        is_admin: bool = False,
        email: str = "",
        audit: AuditFor | None = None,
    ) -> User:
        """Conflict (field username) when the name is taken.

        audit: the rows describing the new user, written in its transaction (see audit.AuditFor);
        so are the `audit` rows of the account writes below: no change without its row.
        """

    async def get_user(self, user_id: int) -> User | None: ...

    async def set_admin(self, user_id: int, is_admin: bool, now: float, audit: Sequence[AuditEntry] = ()) -> None: ...

    async def list_users(self, only_id: int | None, limit: int, offset: int) -> tuple[list[User], int]:
        """Users newest first; only_id restricts the list to that user."""

    async def user_credentials(self, username: str) -> tuple[User, str] | None:
        """The user and their password hash."""

    async def replace_password_hash(self, user_id: int, old_hash: str, new_hash: str) -> bool:
        """Store new_hash as the user's password hash if it is still old_hash; True when it was replaced.

        A rehash of the same password: the user's date_updated stays as it is.
        """

    async def create_token(
        self, user_id: int, token_hash: str, now: float, expires_at: float, audit: AuditFor | None = None
    ) -> int:
        """The new token's id."""

    async def user_for_token(self, token_hash: str, now: float) -> tuple[User, float] | None:
        """The unexpired token's user and the token's expires_at."""

    async def list_tokens(
        self, user_id: int, current_hash: str, now: float, limit: int, offset: int
    ) -> tuple[list[TokenInfo], int]:
        """The user's unexpired tokens, newest first, marking the one with `current_hash`."""

    async def delete_user_token(self, user_id: int, token_id: int, audit: Sequence[AuditEntry] = ()) -> bool:
        """Revoke one of the user's tokens; False (and no row written) when the user has no such token."""

    async def delete_token(self, token_hash: str, audit: Sequence[AuditEntry] = ()) -> None:
        """Revoke a token; its rows are written only when there was such a token."""

    async def delete_user_tokens(self, user_id: int, audit: Sequence[AuditEntry] = ()) -> None:
        """Revoke every token of the user."""

    async def prune_tokens(self, now: float) -> None:
        """Forget tokens that expired."""

    async def user_group_ids(self, user_id: int) -> list[int]: ...

    async def list_groups(self, limit: int, offset: int) -> tuple[list[Group], int]: ...

    async def get_group(self, group_id: int) -> Group | None: ...


class SeedStore(Protocol):
    """The Seed Scheduler API's records: schedules (a job plus its Seed fields), failed tasks, webhooks."""

    async def get_seed(self, user_id: int, uuid: str) -> tuple[Job, SeedFields]: ...

    async def list_seeds(self, user_id: int, limit: int, offset: int) -> tuple[list[tuple[Job, SeedFields]], int]:
        """The user's schedules, newest first."""

    async def seed_uuids(self, job_ids: Sequence[int]) -> dict[int, str]:
        """The schedule uuid of each of these jobs that is a Seed schedule."""

    async def list_failures(self, user_id: int, limit: int, offset: int) -> tuple[list[FailedTask], int]:
        """The failed tasks of the user's jobs, newest first."""

    async def get_failure(self, user_id: int, failure_id: int) -> FailedTask: ...

    async def take_failures(self, user_id: int) -> list[tuple[FailedTask, Job]]:
        """Remove and answer every failed task of the user's jobs, each with its job, oldest first.

        Each task is answered once, even to concurrent callers: a task is requeued once.
        """

    async def create_webhook(self, user_id: int, event: str, target: str, now: float) -> Webhook: ...

    async def list_webhooks(self, user_id: int, limit: int, offset: int) -> tuple[list[Webhook], int]:
        """The user's webhooks, newest first."""

    async def get_webhook(self, user_id: int, hook_id: int) -> Webhook: ...

    async def update_webhook(self, hook: Webhook) -> None: ...

    async def delete_webhook(self, hook_id: int) -> None: ...

    async def webhooks_for(self, user_id: int, event: str) -> list[Webhook]: ...


class AuditLog(Protocol):
    """Rows of who changed what. Changes to jobs write theirs through the JobStore's writes, in the
    change's own transaction; record_audit is for actions whose change is not a store write of
    their own (a login, a manual run, an import's summary)."""

    async def record_audit(self, entries: Sequence[AuditEntry]) -> None: ...

    async def list_audit(
        self, about: int | None, limit: int, offset: int, action: str | None = None, target: str | None = None
    ) -> tuple[list[AuditEntry], int]:
        """Rows newest first, and how many match: about a user (the rows of their account and jobs,
        and their own actions) or, with None, everyone's; only `action` / `target` when given."""

    async def token_id_of(self, token_hash: str) -> int | None:
        """The id of the token with this hash (what an audit row names a token by), None if none has it."""

    async def trim_audit(self, before: float, batch: int) -> int:
        """Delete up to `batch` of the oldest rows written before `before`; answer how many such rows are left."""


class SigningSecretStore(Protocol):
    """Users' signing secrets (Standard Webhooks); every one stored is active until deleted."""

    async def create_signing_secret(self, user_id: int, secret: str, now: float) -> SigningSecret: ...

    async def list_signing_secrets(self, user_id: int) -> list[SigningSecret]:
        """The user's secrets, oldest first."""

    async def all_signing_secrets(self) -> list[SigningSecret]:
        """Every user's (what the in-memory signing book is loaded from)."""

    async def delete_signing_secret(self, user_id: int, secret_id: int) -> None:
        """End one of the user's secrets; NotFound when the user has none of that id."""


class Database(Protocol):
    """A store's life: opened (and migrated) before use, closed at the end."""

    async def open(self) -> None:
        """Connect and apply pending migrations; SchemaTooNew for a database from a newer veggiecron."""

    async def close(self) -> None: ...

    async def ping(self) -> bool:
        """Whether the database answers."""

    async def schema_version(self) -> int: ...


class OidcKeyStore(Protocol):
    """The server's OIDC signing keys (oidc_keys.py), private halves sealed."""

    async def all_oidc_keys(self) -> list[OidcKey]: ...

    async def add_oidc_key(
        self,
        kid: str,
        private_key: str,
        public_jwk: str,
        now: float,
        retire_others: bool,
        audit: Sequence[AuditEntry] = (),
    ) -> None:
        """Store a new key and its audit rows; retire_others: every key not yet retired is retired
        at `now`, in the same transaction. Without retire_others it is the first key: stored only
        when no active key exists (servers starting at once agree on one)."""


class Store(
    JobStore,
    ChainStore,
    DueWindow,
    RunHistory,
    AccountStore,
    SeedStore,
    CalendarStore,
    AuditLog,
    SigningSecretStore,
    OidcKeyStore,
    SealedValueStore,
    Database,
    Protocol,
):
    """Everything at once: what a concrete store implements and the composition root holds."""


class ClaimStore(Protocol):
    """Several nodes on one database: claiming due slots under leases, fenced results.

    Only the database's clock decides what is due and when a lease has expired. A slot is
    claimed at most once (unique on job and due time); a node renews its leases on a timer; a
    lease that lapsed is re-claimed by any node with its epoch raised; a result is written only
    where the owner and epoch still match.
    """

    async def claim_due(
        self,
        owner: str,
        ahead: float,
        limit: int,
        lease: float,
        plan: Callable[[Sequence[DueJob], float], Sequence[SlotDecision]],
    ) -> tuple[list[Claim], float]:
        """In one transaction: lock up to `limit` enabled jobs due by now + ahead (skipping jobs other
        nodes hold), let `plan(jobs, now)` decide, advance their next runs, record what the plan
        records and insert the claims; answer the claims made and the database's now."""

    async def claim_now(self, owner: str, job_id: int, lease: float) -> Claim | None:
        """Claim a slot of the job due at the database's now (run now); None if the job is gone."""

    async def renew_leases(self, owner: str, lease: float, claims: Sequence[Claim]) -> list[Claim]:
        """Extend the unexpired leases of these claims of the owner; answer those it still holds.

        Only the claims a node still holds are renewed: one it gave up on lapses and is reaped."""

    async def reap_expired(self, owner: str, lease: float, limit: int) -> list[Claim]:
        """Take over up to `limit` claims whose lease expired, raising their epoch."""

    async def recover_skipped(
        self,
        owner: str,
        lease: float,
        lapsed: Sequence[Claim],
        plan: Callable[[Job, Claim, list[float], float], tuple[Sequence[float], Sequence[tuple[float, str]]]],
    ) -> list[Claim]:
        """Claims this node reaped: in one transaction, let `plan(job, lapsed claim, skipped slots,
        now)` decide for each job's slots recorded as skipped after its lapsed claim which to send
        (claimed by this owner, answered) and which to record as missed, with the reason given."""

    async def release(self, owner: str, claims: Sequence[Claim]) -> None:
        """Give up claims not sent (a node stopping): their leases expire now, for others to reap."""

    async def finish_runs(self, owner: str, lease: float, results: Sequence[Finished]) -> FinishReport:
        """Write results where owner and epoch still match; update streaks, pauses and kept
        failures; start a buffered slot of each job left with no run in flight."""

    async def next_due(self) -> tuple[float | None, float]:
        """The earliest next run of any enabled job, and the database's now."""

    async def jobs_by_id(self, job_ids: Sequence[int]) -> list[Job]:
        """The jobs with these ids that still exist."""

    async def listen(self, on_notice: Callable[[float], None]) -> Listening:
        """Be told (with its epoch) of every next run an API write sets, on any node."""


class Listening(Protocol):
    async def close(self) -> None: ...
