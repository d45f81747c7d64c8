"""Claims, leases and fenced results in PostgreSQL: how several nodes share the due slots.

Lock order, so that no two transactions wait on each other: a claim locks job rows (skipping
those another transaction holds) and then touches run rows without waiting (replaced runs are
taken with SKIP LOCKED); a finish locks run rows, then job rows, and never waits on a claim's
run rows. Renewals run on a connection of their own, so a busy pool cannot starve them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence

import asyncpg

from ...model import Claim, DueJob, Finished, FinishReport, Job, SlotDecision
from ..contract import Listening
from ..rows import JOB_COLUMNS_J, job_from_row
from .connection import NOW, SESSION_SETTINGS, PostgresConnection, SideConnection
from .fencing import claim_arrays, held_claims, in_lock_order
from .finish import FINISH, finish_arguments, finish_report
from .jobs import CHANNEL
from .runs import INSERTED_RUN, RUN_COLUMN_NAMES, RUN_FIELDS, run_arrays, run_values

logger = logging.getLogger(__name__)

# The jobs are chosen and locked first (their order and LIMIT inside, so that the plan walks the
# index to the limit), and only those are read further: computed beside the choice, the plan sorted
# every due job and read the pending runs of each, the whole backlog of a node that fell behind.
# Each job's pending runs are read once through runs_pending (whose condition this repeats, so that
# no other index serves it): in flight for the overlap policy are the claims of their first copy
# whose lease holds. A run whose lease lapsed was never really in flight, and one sent again after
# a lapse (epoch above 1: the lapsed run, or a slot skipped behind it) is a catch-up that holds back
# no later slot. The lease test is a FILTER, not a condition: as a condition the planner met it with
# runs_leases and read every live lease of the cluster for each job.
_PENDING_RUNS = (
    "CROSS JOIN LATERAL (SELECT "
    f"count(*) FILTER (WHERE r.status = 'claimed' AND r.epoch = 1 AND r.lease_expires > {NOW}) AS in_flight, "
    "count(*) FILTER (WHERE r.status = 'buffered') > 0 AS buffered "
    "FROM runs r WHERE r.job_id = j.id AND r.status IN ('claimed', 'buffered')) AS p"
)
_DUE_COLUMNS = f"SELECT {JOB_COLUMNS_J}, p.in_flight, p.buffered, {NOW} AS now"
CLAIM_ROWS = (
    f"{_DUE_COLUMNS} FROM (SELECT * FROM jobs WHERE enabled AND next_run IS NOT NULL AND next_run <= {NOW} + $1 "
    f"ORDER BY next_run LIMIT $2 FOR UPDATE SKIP LOCKED) AS j {_PENDING_RUNS} ORDER BY j.next_run"
)
# Followers with triggered slots (their parents' results wrote them, see finish.py), enabled or
# not (a disabled one records them as skipped), found through the runs_triggered index.
TRIGGERED_ROWS = (
    f"{_DUE_COLUMNS}, ARRAY(SELECT t.due_at FROM runs t WHERE t.job_id = j.id AND t.status = 'triggered' "
    "ORDER BY t.due_at) AS triggered "
    "FROM (SELECT * FROM jobs WHERE id IN (SELECT job_id FROM runs WHERE status = 'triggered') "
    f"ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED) AS j {_PENDING_RUNS} ORDER BY j.id"
)

# Parameters after the claimed runs' arrays ($5 on in CLAIM_WRITE).
_AFTER_CLAIMED_RUNS = 5 + len(RUN_FIELDS)
_OWNER, _LEASE, _PENDING = _AFTER_CLAIMED_RUNS, _AFTER_CLAIMED_RUNS + 1, _AFTER_CLAIMED_RUNS + 2

CLAIM_WRITE = f"""
WITH advanced AS (
    UPDATE jobs j SET next_run = u.next_run, run_count = j.run_count + u.n,
        enabled = CASE WHEN j.max_runs IS NOT NULL AND j.run_count + u.n >= j.max_runs THEN false ELSE j.enabled END
    FROM unnest($1::bigint[], $2::float8[], $3::bigint[]) AS u(id, next_run, n)
    WHERE j.id = u.id
), replaced AS (
    UPDATE runs SET status = 'replaced', lease_expires = NULL
    WHERE id IN (SELECT id FROM runs WHERE job_id = ANY($4::bigint[]) AND status = 'claimed' FOR UPDATE SKIP LOCKED)
), recorded AS (
    -- A slot is written once; a follower's triggered slot (written with its parent's result) is
    -- the one row a claim takes over, keeping its triggered_by.
    INSERT INTO runs ({RUN_COLUMN_NAMES})
    SELECT {INSERTED_RUN} FROM {run_values(5)} ORDER BY u.n
    ON CONFLICT (job_id, due_at) DO UPDATE SET status = 'done', started_at = excluded.started_at,
        duration_ms = excluded.duration_ms, outcome = excluded.outcome, error = excluded.error,
        error_class = excluded.error_class
    WHERE runs.status = 'triggered'
), claimed AS (
    INSERT INTO runs (job_id, due_at, status, owner, epoch, lease_expires)
    SELECT u.job_id, u.due_at, u.status, CASE WHEN u.status = 'claimed' THEN ${_OWNER} END, 1,
        CASE WHEN u.status = 'claimed' THEN {NOW} + ${_LEASE} END
    FROM unnest(${_PENDING}::bigint[], ${_PENDING + 1}::float8[], ${_PENDING + 2}::text[]) AS u(job_id, due_at, status)
    ON CONFLICT (job_id, due_at) DO UPDATE SET status = excluded.status, owner = excluded.owner, epoch = 1,
        lease_expires = excluded.lease_expires
    WHERE runs.status = 'triggered'
    RETURNING job_id, due_at, epoch, status, triggered_by
)
SELECT job_id, due_at, epoch, triggered_by FROM claimed WHERE status = 'claimed'
"""


# A claim's transaction: every statement in it finds its rows by key, whatever its parameters and
# whatever the statistics say.
# - No bitmap scans: the due jobs are read in next_run order down the jobs_due index, and the read
#   stops at the limit. A job's next_run only moves forward, so the statistics always expect a few
#   due jobs: the planner then chose a bitmap scan of every due job and a sort, which for a node that
#   fell behind read the whole backlog at each claim (17 ms for 20,000 due).
# - No sequential scans: a plan made on tables that looked empty (a new database) or under a
#   generic guess of the limit must not walk the jobs or the runs (compare the trim, runs.py).
# - One plan per statement, kept: PostgreSQL judged the write's generic plan dearer than a custom
#   one and planned it afresh at every claim, 0.4 ms each (9 to 14 % of the write at 1,000 runs a
#   second across three nodes, pg_stat_statements), for a plan that ran no faster.
CLAIM_SETTINGS = (
    "SET LOCAL enable_bitmapscan = off; SET LOCAL enable_seqscan = off; SET LOCAL plan_cache_mode = force_generic_plan"
)


class PostgresClaims(PostgresConnection):
    _renewer: SideConnection | None = None  # renewals run beside the pool, so a busy pool cannot starve them

    async def claim_due(
        self,
        owner: str,
        ahead: float,
        limit: int,
        lease: float,
        plan: Callable[[Sequence[DueJob], float], Sequence[SlotDecision]],
    ) -> tuple[list[Claim], float]:
        async with self._transaction() as conn:
            await conn.execute(CLAIM_SETTINGS)
            rows = await conn.fetch(TRIGGERED_ROWS, limit)
            due = [DueJob(job_from_row(r), r["in_flight"], r["buffered"], tuple(r["triggered"])) for r in rows]
            if len(rows) < limit:
                rows += await conn.fetch(CLAIM_ROWS, ahead, limit - len(rows))
                due += [DueJob(job_from_row(r), r["in_flight"], r["buffered"]) for r in rows[len(due) :]]
            if not rows:
                return [], float(await conn.fetchval(f"SELECT {NOW}"))
            now = float(rows[0]["now"])
            decisions = plan(due, now)
            records = [run for d in decisions for run in d.records]
            pending = [(d.job_id, slot, "claimed") for d in decisions for slot in d.claims]
            pending += [(d.job_id, slot, "buffered") for d in decisions for slot in d.buffered]
            claimed = await conn.fetch(
                CLAIM_WRITE,
                [d.job_id for d in decisions],
                [d.next_run for d in decisions],
                [d.counted for d in decisions],
                [d.job_id for d in decisions if d.replace],
                *run_arrays(records),
                owner,
                lease,
                [p[0] for p in pending],
                [p[1] for p in pending],
                [p[2] for p in pending],
            )
        return [Claim(r[0], r[1], r[2], r[3]) for r in claimed], now

    async def claim_now(self, owner: str, job_id: int, lease: float) -> Claim | None:
        row = await self._fetchrow(
            "INSERT INTO runs (job_id, due_at, status, owner, epoch, lease_expires) "
            f"SELECT id, {NOW}, 'claimed', $2, 1, {NOW} + $3 FROM jobs WHERE id = $1 "
            "ON CONFLICT (job_id, due_at) DO NOTHING RETURNING job_id, due_at, epoch",
            job_id,
            owner,
            lease,
        )
        return Claim(row[0], row[1], row[2]) if row else None

    async def renew_leases(self, owner: str, lease: float, claims: Sequence[Claim]) -> list[Claim]:
        if not claims:
            return []
        if self._renewer is None:
            self._renewer = SideConnection(self.url, SESSION_SETTINGS, timeout=lease / 3)
        held = held_claims(3, "$1", also=f" AND runs.lease_expires > {NOW}")
        rows = await self._renewer.fetch(
            f"WITH c AS MATERIALIZED ({held}) UPDATE runs SET lease_expires = {NOW} + $2 "
            "FROM c WHERE runs.id = c.locked_id RETURNING runs.job_id, runs.due_at, runs.epoch",
            owner,
            lease,
            *claim_arrays(claims),
            timeout=lease / 3,
        )
        return [Claim(r[0], r[1], r[2]) for r in rows]

    async def reap_expired(self, owner: str, lease: float, limit: int) -> list[Claim]:
        rows = await self._fetch(
            f"UPDATE runs r SET owner = $1, epoch = r.epoch + 1, lease_expires = {NOW} + $2 "
            "FROM (SELECT id FROM runs WHERE status = 'claimed' AND lease_expires < "
            f"{NOW} ORDER BY lease_expires LIMIT $3 FOR UPDATE SKIP LOCKED) AS x "
            "WHERE r.id = x.id RETURNING r.job_id, r.due_at, r.epoch, r.triggered_by",
            owner,
            lease,
            limit,
        )
        return [Claim(r[0], r[1], r[2], r[3]) for r in rows]

    async def recover_skipped(
        self,
        owner: str,
        lease: float,
        lapsed: Sequence[Claim],
        plan: Callable[[Job, Claim, list[float], float], tuple[Sequence[float], Sequence[tuple[float, str]]]],
    ) -> list[Claim]:
        if not lapsed:
            return []
        oldest: dict[int, Claim] = {}
        for claim in sorted(lapsed, key=lambda c: c.due_at):
            oldest.setdefault(claim.job_id, claim)
        async with self._transaction() as conn:
            # The job rows first, waiting: a claim of these jobs under way commits its skipped
            # records before they are read here (the same lock order as a claim's).
            jobs = await conn.fetch(
                f"SELECT {JOB_COLUMNS_J}, {NOW} AS now FROM jobs j WHERE j.id = ANY($1::bigint[]) "
                "ORDER BY j.id FOR UPDATE OF j",
                sorted(oldest),
            )
            if not jobs:
                return []
            now = float(jobs[0]["now"])
            rows = await conn.fetch(
                "SELECT r.job_id, r.due_at FROM unnest($1::bigint[], $2::float8[]) AS u(job_id, due_at) "
                "JOIN runs r ON r.job_id = u.job_id AND r.due_at > u.due_at "
                "WHERE r.status = 'done' AND r.outcome = 'skipped' ORDER BY r.job_id, r.due_at",
                list(oldest),
                [c.due_at for c in oldest.values()],
            )
            skipped: dict[int, list[float]] = {}
            for row in rows:
                skipped.setdefault(row[0], []).append(row[1])
            send: list[tuple[int, float]] = []
            missed: list[tuple[int, float, str]] = []
            for row in jobs:
                job = job_from_row(row)
                if job.id not in skipped:
                    continue
                to_send, to_miss = plan(job, oldest[job.id], skipped[job.id], now)
                send += [(job.id, slot) for slot in to_send]
                missed += [(job.id, slot, reason) for slot, reason in to_miss]
            if missed:
                await conn.execute(
                    "UPDATE runs SET outcome = 'missed', error = u.error, started_at = $4 "
                    "FROM unnest($1::bigint[], $2::float8[], $3::text[]) AS u(job_id, due_at, error) "
                    "WHERE runs.job_id = u.job_id AND runs.due_at = u.due_at "
                    "AND runs.status = 'done' AND runs.outcome = 'skipped'",
                    [m[0] for m in missed],
                    [m[1] for m in missed],
                    [m[2] for m in missed],
                    now,
                )
            if not send:
                return []
            claimed = await conn.fetch(
                f"UPDATE runs SET status = 'claimed', owner = $1, epoch = epoch + 1, lease_expires = {NOW} + $2, "
                "outcome = NULL, error = NULL, started_at = NULL "
                "FROM unnest($3::bigint[], $4::float8[]) AS u(job_id, due_at) "
                "WHERE runs.job_id = u.job_id AND runs.due_at = u.due_at "
                "AND runs.status = 'done' AND runs.outcome = 'skipped' "
                "RETURNING runs.job_id, runs.due_at, runs.epoch, runs.triggered_by",
                owner,
                lease,
                [s[0] for s in send],
                [s[1] for s in send],
            )
        return [Claim(r[0], r[1], r[2], r[3]) for r in claimed]

    async def release(self, owner: str, claims: Sequence[Claim]) -> None:
        if claims:
            await self._execute(
                f"WITH c AS MATERIALIZED ({held_claims(2, '$1')}) UPDATE runs SET lease_expires = {NOW} - 1 "
                "FROM c WHERE runs.id = c.locked_id",
                owner,
                *claim_arrays(claims),
            )

    async def finish_runs(self, owner: str, lease: float, results: Sequence[Finished]) -> FinishReport:
        if not results:
            return FinishReport(frozenset())
        results = in_lock_order(results, lambda f: (f.claim.job_id, f.claim.due_at))
        return finish_report(await self._fetch(FINISH, *finish_arguments(owner, lease, results)))

    async def next_due(self) -> tuple[float | None, float]:
        row = await self._fetchrow(
            "SELECT (SELECT next_run FROM jobs WHERE enabled AND next_run IS NOT NULL ORDER BY next_run LIMIT 1), "
            f"{NOW}"
        )
        assert row is not None
        return row[0], float(row[1])

    async def listen(self, on_notice: Callable[[float], None]) -> Listening:
        listener = Listener(self.url, on_notice)
        await listener.start()
        return listener

    async def close(self) -> None:
        if self._renewer is not None:
            self._renewer.close()
            self._renewer = None
        await super().close()


LISTENER_NAME = "veggiecron-listener"


class Listener:
    """LISTENs on a connection of its own; reconnects when it is cut (polling covers the gap)."""

    RECONNECT_SECONDS = 1.0

    def __init__(self, url: str, on_notice: Callable[[float], None]) -> None:
        self.url = url
        self.on_notice = on_notice
        self._conn: asyncpg.Connection | None = None
        self._task: asyncio.Task[None] | None = None
        self._closing = False

    async def start(self) -> None:
        await self._connect()
        self._task = asyncio.create_task(self._watch(), name="veggiecron-listener")

    async def _connect(self) -> None:
        # Named, so an operator (or a test) can tell the listening connections in pg_stat_activity.
        conn = await asyncpg.connect(self.url, server_settings={"application_name": LISTENER_NAME})
        await conn.add_listener(CHANNEL, self._notified)
        self._conn = conn

    def _notified(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        try:
            due = float(payload)
        except ValueError:
            return
        self.on_notice(due)

    async def _watch(self) -> None:
        """Check the connection every second; reconnect when it died."""
        while not self._closing:
            await asyncio.sleep(self.RECONNECT_SECONDS)
            conn = self._conn
            try:
                if conn is None or conn.is_closed():
                    raise ConnectionError("the listening connection is closed")
                await conn.execute("SELECT 1", timeout=self.RECONNECT_SECONDS * 5)
            except Exception as exc:  # any fault of the connection: make a new one, or try again later
                logger.warning("listening connection lost (%s); reconnecting", exc)
                if conn is not None:
                    conn.terminate()
                self._conn = None
                try:
                    await self._connect()
                    self.on_notice(0.0)  # notices may have been missed: look again now
                except Exception as again:  # the database may be down: polling covers it meanwhile
                    logger.warning("cannot listen yet: %s", again)

    async def close(self) -> None:
        self._closing = True
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._conn is not None:
            await self._conn.close()
            self._conn = None
