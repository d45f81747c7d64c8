"""Run history in PostgreSQL, and a single scheduler's batched progress (the DueWindow contract)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ...model import HeldSlot, Job, Progress, Run, RunOutcome
from ..audit_rows import pause_changes
from ..contract import Trimmed
from ..rows import JOB_COLUMN_COUNT, JOB_COLUMNS_J, RUN_COLUMNS, job_from_row, run_from_row
from .connection import SESSION_SETTINGS, PostgresConnection, SideConnection

RUN_FIELDS = (
    ("job_id", "bigint"),
    ("due_at", "float8"),
    ("started_at", "float8"),
    ("duration_ms", "float8"),
    ("outcome", "text"),
    ("attempts", "int"),
    ("status_code", "int"),
    ("error", "text"),
    ("response_excerpt", "text"),
    ("error_class", "text"),
    ("pool_wait_ms", "float8"),
    ("triggered_by", "text"),
)


RUN_COLUMN_NAMES = ", ".join(name for name, _ in RUN_FIELDS)
INSERTED_RUN = ", ".join(f"u.{name}" for name, _ in RUN_FIELDS)


def run_values(first: int = 1, extra: tuple[tuple[str, str], ...] = ()) -> str:
    """unnest() of finished runs' columns (and `extra` ones) as u(..., n), parameters from $first on.

    u.n numbers the rows: inserting ORDER BY u.n gives ids in the order the runs were recorded.
    """
    fields = (*RUN_FIELDS, *extra)
    arrays = ", ".join(f"${first + i}::{kind}[]" for i, (_, kind) in enumerate(fields))
    return f"unnest({arrays}) WITH ORDINALITY AS u({', '.join(name for name, _ in fields)}, n)"


def run_arrays(runs: list[Run] | tuple[Run, ...]) -> list[list[object]]:
    """The columns of finished runs as arrays, for one unnest() insert or update."""
    return [
        [r.job_id for r in runs],
        [r.due_at for r in runs],
        [r.started_at for r in runs],
        [r.duration_ms for r in runs],
        [r.outcome.value for r in runs],
        [r.attempts for r in runs],
        [r.status_code for r in runs],
        [r.error for r in runs],
        [r.response_excerpt for r in runs],
        [r.error_class for r in runs],
        [r.pool_wait_ms for r in runs],
        [r.triggered_by for r in runs],
    ]


# The runs a trim batch deletes, as on SQLite (store/sqlite/runs.py): of each job named, those older
# than its keep-th newest (keep > 0) or due before the cutoff (> 0), at most `limit` in all. Each
# job's runs below its keep-th newest are a range of runs_history (job_id, id), so the statement reads
# what it deletes; the age limit reads only the runs the count keeps, and only once the count's own
# are fewer than the limit (a LIMIT over UNION ALL stops pulling once filled). Before, each job's
# runs were walked from the oldest with both limits in one condition, which for a job within its
# count read every run it keeps, at every step of its batch: working off a backlog of 2,500,000 runs
# (bench.history --store postgresql), about 780,000 were left after two minutes.
#
# The plan must not depend on the statistics: a node plans the statement once and keeps the plan,
# and one that started on a new database planned it on an empty runs table. Left to the planner,
# each job's lateral read was pulled up into a join driven by a walk of all runs, and the delete
# ran the whole choice again for each run it met: a step of 50 jobs read 3,600,000 rows of a table
# of 2,000 (tests/cluster/test_trim_plan.py; 3.6 s a step on a node's first sweep of a million jobs,
# bench.cluster --stored). So each job's reads stay its own (OFFSET 0 keeps a subquery as written),
# the choice is made once (MATERIALIZED), the delete finds its rows by id, and the statement runs on
# a connection of its own that never plans a sequential scan (TRIM_SETTINGS): on a table that looked
# empty, each job's read was otherwise a walk of every run.
TRIM = """
WITH turn AS MATERIALIZED (
    SELECT pg_try_advisory_xact_lock($5) AS ours
), cut AS MATERIALIZED (
    SELECT j.id AS job_id, CASE WHEN $2::int > 0 THEN (SELECT id FROM runs WHERE job_id = j.id AND status = 'done'
        ORDER BY id DESC LIMIT 1 OFFSET $2) END AS keep_from
    FROM unnest($1::bigint[]) AS j(id)
    WHERE (SELECT ours FROM turn)
), doomed AS MATERIALIZED (
    (SELECT r.id FROM cut CROSS JOIN LATERAL (SELECT id FROM runs WHERE job_id = cut.job_id AND status = 'done'
        AND id <= cut.keep_from OFFSET 0) AS r)
    UNION ALL
    (SELECT r.id FROM cut CROSS JOIN LATERAL (SELECT id FROM runs WHERE job_id = cut.job_id AND status = 'done'
        AND id > coalesce(cut.keep_from, 0) AND due_at < $3::float8 OFFSET 0) AS r WHERE $3::float8 > 0)
    LIMIT $4
), gone AS (
    -- status again: a run chosen from the statement's snapshot may since have been claimed again
    -- (a skipped slot sent after a lapsed lease), and the delete rechecks only this condition.
    DELETE FROM runs WHERE id = ANY(ARRAY(SELECT id FROM doomed)) AND status = 'done' RETURNING 1
)
SELECT (SELECT ours FROM turn), count(*), extract(epoch FROM clock_timestamp() - statement_timestamp())::float8
FROM gone
"""

# The advisory lock a node holds while it trims run history (an arbitrary number of veggiecron's).
TRIM_LOCK = 0x7665676769_7472
# The trim's connection: every read of TRIM has an index, and none may become a walk of the table.
TRIM_SETTINGS = {**SESSION_SETTINGS, "enable_seqscan": "off"}


class PostgresRuns(PostgresConnection):
    _trimmer: SideConnection | None = None  # the trim's own settings (TRIM_SETTINGS)
    # A step locks only the rows it deletes; at 250 a step, a backlog of 2,500,000 runs was not gone
    # in two minutes (bench.history --store postgresql), each step's round trip through a busy
    # node's event loop costing more than its statement.
    trim_rows_per_step = 1000

    async def record_progress(self, progress: Progress) -> None:
        if not progress:
            return
        async with self._transaction() as conn:
            if progress.streaks:
                await conn.execute(
                    "UPDATE jobs SET consecutive_failures = u.n FROM unnest($1::bigint[], $2::int[]) AS u(id, n) "
                    "WHERE jobs.id = u.id",
                    [job_id for job_id, _ in progress.streaks],
                    [n for _, n in progress.streaks],
                )
            if progress.pauses:
                # Each pause's audit row (actor system), written only where the pause applies.
                await conn.execute(
                    "INSERT INTO audit_log (at, actor, owner_id, action, target, changes) "
                    "SELECT extract(epoch FROM clock_timestamp()), 'system', j.user_id, 'job.paused', "
                    "'job:' || j.name, "
                    "u.changes::json FROM unnest($1::bigint[], $2::bigint[], $3::text[]) AS u(id, version, changes) "
                    "JOIN jobs j ON j.id = u.id AND j.version = u.version AND j.enabled",
                    [p.job_id for p in progress.pauses],
                    [p.version for p in progress.pauses],
                    [pause_changes(p.reason) for p in progress.pauses],
                )
                await conn.execute(
                    "UPDATE jobs SET enabled = false, paused_reason = u.reason "
                    "FROM unnest($1::bigint[], $2::bigint[], $3::text[]) AS u(id, version, reason) "
                    "WHERE jobs.id = u.id AND jobs.version = u.version",
                    [p.job_id for p in progress.pauses],
                    [p.version for p in progress.pauses],
                    [p.reason for p in progress.pauses],
                )
            if progress.run_counts:
                counts: dict[int, int] = {}
                for job_id, n in progress.run_counts:
                    counts[job_id] = counts.get(job_id, 0) + n
                await conn.execute(
                    "UPDATE jobs SET run_count = run_count + u.n, enabled = CASE WHEN max_runs IS NOT NULL "
                    "AND run_count + u.n >= max_runs THEN false ELSE enabled END "
                    "FROM unnest($1::bigint[], $2::bigint[]) AS u(id, n) WHERE jobs.id = u.id",
                    list(counts),
                    list(counts.values()),
                )
            if progress.failures:
                await conn.execute(
                    "INSERT INTO failed_tasks (job_id, task_id, initiated_at, reason) "
                    "SELECT u.job_id, u.task_id, u.initiated_at, u.reason "
                    "FROM unnest($1::bigint[], $2::text[], $3::float8[], $4::text[]) WITH ORDINALITY "
                    "AS u(job_id, task_id, initiated_at, reason, n) "
                    "WHERE EXISTS (SELECT 1 FROM jobs WHERE id = u.job_id) ORDER BY u.n",
                    [f.job_id for f in progress.failures],
                    [f.task_id for f in progress.failures],
                    [f.initiated_at for f in progress.failures],
                    [f.reason for f in progress.failures],
                )
            if progress.next_runs:
                # One row per (job, version), the newest: UPDATE ... FROM applies one arbitrary match per row.
                newest = {(n.job_id, n.version): n.next_run for n in progress.next_runs}
                await conn.execute(
                    "UPDATE jobs SET next_run = u.next_run "
                    "FROM unnest($1::bigint[], $2::bigint[], $3::float8[]) AS u(id, version, next_run) "
                    "WHERE jobs.id = u.id AND jobs.version = u.version",
                    [key[0] for key in newest],
                    [key[1] for key in newest],
                    list(newest.values()),
                )
            if progress.released:
                await conn.execute(
                    "DELETE FROM held_slots h USING unnest($1::bigint[], $2::float8[]) AS u(job_id, due_at) "
                    "WHERE h.job_id = u.job_id AND h.due_at = u.due_at",
                    [job_id for job_id, _ in progress.released],
                    [due_at for _, due_at in progress.released],
                )
            if progress.held:
                holding = {(h.job_id, h.due_at): h for h in progress.held}
                await conn.execute(
                    "INSERT INTO held_slots (job_id, due_at, reason, since, triggered_by) "
                    "SELECT u.job_id, u.due_at, u.reason, u.since, u.triggered_by "
                    "FROM unnest($1::bigint[], $2::float8[], $3::text[], $4::float8[], $5::text[]) "
                    "AS u(job_id, due_at, reason, since, triggered_by) "
                    "WHERE EXISTS (SELECT 1 FROM jobs WHERE id = u.job_id) "
                    "ON CONFLICT (job_id, due_at) DO UPDATE SET reason = excluded.reason, since = excluded.since, "
                    "triggered_by = excluded.triggered_by",
                    [h.job_id for h in holding.values()],
                    [h.due_at for h in holding.values()],
                    [h.reason for h in holding.values()],
                    [h.since for h in holding.values()],
                    [h.triggered_by for h in holding.values()],
                )
            if progress.runs:
                # A slot is recorded once (runs_slot): a second record of the same slot is dropped.
                await conn.execute(
                    f"INSERT INTO runs ({RUN_COLUMN_NAMES}) SELECT {INSERTED_RUN} FROM {run_values()} "
                    "WHERE EXISTS (SELECT 1 FROM jobs WHERE id = u.job_id) ORDER BY u.n "
                    "ON CONFLICT (job_id, due_at) DO NOTHING",
                    *run_arrays(list(progress.runs)),
                )

    async def held_slots(self) -> list[tuple[Job, HeldSlot]]:
        rows = await self._fetch(
            f"SELECT {JOB_COLUMNS_J}, h.job_id, h.due_at, h.reason, h.since, h.triggered_by FROM held_slots h "
            "JOIN jobs j ON j.id = h.job_id ORDER BY h.due_at, h.job_id"
        )
        return [(job_from_row(row), HeldSlot(*tuple(row)[JOB_COLUMN_COUNT:])) for row in rows]

    async def trim_runs(self, job_ids: Sequence[int], keep_per_job: int, older_than: float, limit: int) -> Trimmed:
        # One node at a time: the others skip their turn rather than delete the same rows (the
        # advisory lock is the statement's own, held until it commits). Only finished runs go: a
        # claimed or buffered run is a slot still under way. One statement, committed alone, in
        # one round trip, timed by the database: on a busy node, timing it from the event loop
        # counted the loop's delays as the trim's, and the pause after each step (twice as long as
        # the step) slowed the trim with them.
        if self._trimmer is None:
            self._trimmer = SideConnection(self.url, TRIM_SETTINGS, command_timeout=self.command_timeout)
        (row,) = await self._trimmer.fetch(TRIM, list(job_ids), keep_per_job, older_than, limit, TRIM_LOCK)
        ours, deleted, seconds = row
        return Trimmed(int(deleted) if ours else -1, float(seconds))

    async def close(self) -> None:
        if self._trimmer is not None:
            self._trimmer.close()
            self._trimmer = None
        await super().close()

    async def job_ids_after(self, after: int, count: int) -> list[int]:
        rows = await self._fetch("SELECT id FROM jobs WHERE id > $1 ORDER BY id LIMIT $2", after, count)
        return [row[0] for row in rows]

    async def list_runs(
        self, job_id: int, limit: int, offset: int, outcome: RunOutcome | None = None
    ) -> tuple[list[Run], int]:
        params: tuple[Any, ...]
        if outcome is None:
            where, params = "job_id = $1 AND status = 'done'", (job_id,)
        else:
            where, params = "job_id = $1 AND status = 'done' AND outcome = $2", (job_id, outcome.value)
        return await self._page(RUN_COLUMNS, "runs", where, params, "id DESC", limit, offset, run_from_row)

    async def recent_runs(self, job_ids: Sequence[int], per_job: int) -> dict[int, list[Run]]:
        """The newest `per_job` runs of each job, newest first: one query, each job's read on runs_history."""
        if not job_ids or per_job <= 0:
            return {}
        rows = await self._fetch(
            f"SELECT r.* FROM unnest($1::bigint[]) AS j(id) CROSS JOIN LATERAL (SELECT {RUN_COLUMNS} FROM runs "
            "WHERE job_id = j.id AND status = 'done' ORDER BY id DESC LIMIT $2) AS r ORDER BY r.job_id, r.id DESC",
            list(job_ids),
            per_job,
        )
        found: dict[int, list[Run]] = {}
        for row in rows:
            found.setdefault(row[1], []).append(run_from_row(row))
        return found
