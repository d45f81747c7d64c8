"""Run history and the scheduler's batched progress in SQLite."""

from __future__ import annotations

from collections.abc import Sequence

import orjson

from ...model import HeldSlot, Job, Progress, Run, RunOutcome
from ..audit_rows import pause_changes
from ..contract import Trimmed
from ..rows import JOB_COLUMN_COUNT, JOB_COLUMNS_J, RUN_COLUMNS, RUN_INSERT_COLUMNS, job_from_row, run_from_row
from .connection import SqliteConnection, Statement


def json_columns(*names: str) -> str:
    """Select the items of each JSON array row of json_each as named columns."""
    return ", ".join(f"json_extract(value, '$[{i}]') AS {name}" for i, name in enumerate(names))


# The runs a trim batch deletes: of each job named, those older than its keep-th newest (when
# keep > 0) or due before the cutoff (when it is > 0), at most `limit` in all. Each job's runs
# below its keep-th newest are read as a range of runs_job (job_id, id): the statement reads what
# it deletes. The age limit reads only the runs the count keeps, so that no run comes twice, and
# only once the count's own are fewer than the limit (SQLite skips the right side of a UNION ALL
# whose left side filled its LIMIT). There is no ORDER BY across the jobs: picking the oldest of
# the batch read and sorted every run of its jobs at every step, two to four times slower working
# off a backlog. Which doomed runs a step takes does not matter: the next step takes the rest.
TRIM = """
WITH named(job_id) AS (SELECT value FROM json_each(?1)),
cut AS MATERIALIZED (
    SELECT job_id, CASE WHEN ?2 > 0 THEN
        (SELECT id FROM runs WHERE runs.job_id = named.job_id ORDER BY id DESC LIMIT 1 OFFSET ?2) END AS keep_from
    FROM named
)
DELETE FROM runs WHERE id IN (
    SELECT r.id FROM cut JOIN runs r ON r.job_id = cut.job_id AND r.id <= cut.keep_from
    UNION ALL
    SELECT r.id FROM cut JOIN runs r ON r.job_id = cut.job_id AND r.id > ifnull(cut.keep_from, -1)
    WHERE ?3 > 0 AND r.due_at < ?3
    LIMIT ?4
)
"""


class SqliteRuns(SqliteConnection):
    trim_rows_per_step = 250  # a step holds the only writer: a few milliseconds at most (bench.history)

    async def record_progress(self, progress: Progress) -> None:
        """Store what the scheduler learned in one transaction (see DueWindow.record_progress)."""
        runs, next_runs, run_counts = progress.runs, progress.next_runs, progress.run_counts
        failures, streaks, pauses = progress.failures, progress.streaks, progress.pauses
        statements: list[Statement] = []
        if streaks:
            statements.append(
                ("UPDATE jobs SET consecutive_failures = ? WHERE id = ?", [(n, job_id) for job_id, n in streaks], True)
            )
        if pauses:
            # Each pause's audit row (actor system), written only where the pause applies.
            statements.append(
                (
                    "INSERT INTO audit_log (at, actor, owner_id, action, target, changes) "
                    "SELECT (julianday('now') - 2440587.5) * 86400.0, 'system', user_id, 'job.paused', "
                    "'job:' || name, ? FROM jobs WHERE id = ? AND version = ? AND enabled = 1",
                    [(pause_changes(reason), job_id, version) for job_id, version, reason in pauses],
                    True,
                )
            )
            statements.append(
                (
                    "UPDATE jobs SET enabled = 0, paused_reason = ? WHERE id = ? AND version = ?",
                    [(reason, job_id, version) for job_id, version, reason in pauses],
                    True,
                )
            )
        # The large batches (runs, next runs, counts) travel as one JSON parameter each and are
        # unpacked by SQLite's json_each: one statement per batch instead of one per row, so
        # the database thread barely needs the interpreter while it writes.
        if run_counts:
            statements.append(
                (
                    "UPDATE jobs SET run_count = run_count + u.n, enabled = CASE WHEN max_runs IS NOT NULL "
                    "AND run_count + u.n >= max_runs THEN 0 ELSE enabled END "
                    f"FROM (SELECT {json_columns('id', 'n')} FROM json_each(?)) AS u WHERE jobs.id = u.id",
                    (orjson.dumps(run_counts).decode(),),
                    False,
                )
            )
        if failures:
            statements.append(
                (
                    "INSERT INTO failed_tasks (job_id, task_id, initiated_at, reason) SELECT ?, ?, ?, ? "
                    "WHERE EXISTS (SELECT 1 FROM jobs WHERE id = ?)",
                    [(*failure, failure[0]) for failure in failures],
                    True,
                )
            )
        if next_runs:
            # One row per (job, version): the newest. UPDATE ... FROM applies one arbitrary match
            # per row, so a job advanced twice in one batch must appear once.
            newest = {(job_id, version): next_run for job_id, version, next_run in next_runs}
            statements.append(
                (
                    "UPDATE jobs SET next_run = u.next_run "
                    f"FROM (SELECT {json_columns('id', 'version', 'next_run')} FROM json_each(?)) AS u "
                    "WHERE jobs.id = u.id AND jobs.version = u.version",
                    (orjson.dumps([(*key, next_run) for key, next_run in newest.items()]).decode(),),
                    False,
                )
            )
        if runs:
            rows = [
                (
                    r.job_id,
                    r.due_at,
                    r.started_at,
                    r.duration_ms,
                    r.outcome.value,
                    r.attempts,
                    r.status_code,
                    r.error,
                    r.response_excerpt,
                    r.error_class,
                    r.pool_wait_ms,
                    r.triggered_by,
                )
                for r in runs
            ]
            statements.append(
                (
                    f"INSERT INTO runs ({RUN_INSERT_COLUMNS}) SELECT * FROM "
                    f"(SELECT {json_columns(*RUN_INSERT_COLUMNS.split(', '))} FROM json_each(?)) AS r "
                    "WHERE EXISTS (SELECT 1 FROM jobs WHERE id = r.job_id)",
                    (orjson.dumps(rows).decode(),),
                    False,
                )
            )
        # Few, and matched exactly by due time: bound parameters, not JSON, whose text form of a
        # float could differ in the last bit from the one stored.
        if progress.released:
            statements.append(("DELETE FROM held_slots WHERE job_id = ? AND due_at = ?", list(progress.released), True))
        if progress.held:
            statements.append(
                (
                    "INSERT OR REPLACE INTO held_slots (job_id, due_at, reason, since, triggered_by) "
                    "SELECT ?, ?, ?, ?, ? "
                    "WHERE EXISTS (SELECT 1 FROM jobs WHERE id = ?)",
                    [(*slot, slot.job_id) for slot in progress.held],
                    True,
                )
            )
        if statements:
            await self._write(statements)

    async def held_slots(self) -> list[tuple[Job, HeldSlot]]:
        rows = await self._fetchall(
            f"SELECT {JOB_COLUMNS_J}, h.job_id, h.due_at, h.reason, h.since, h.triggered_by FROM held_slots h "
            "JOIN jobs j ON j.id = h.job_id ORDER BY h.due_at, h.job_id"
        )
        return [(job_from_row(row), HeldSlot(*row[JOB_COLUMN_COUNT:])) for row in rows]

    async def trim_runs(self, job_ids: Sequence[int], keep_per_job: int, older_than: float, limit: int) -> Trimmed:
        # One statement for the whole batch, run alone (a transaction of its own, in one trip to
        # the writer's thread: the write lock is held only while it runs, however busy the event
        # loop): each job's cutoff is found through runs_job (job_id, id), so the cost follows the
        # jobs named and the rows deleted, never the size of the table. The count comes from the
        # change counter, not RETURNING: each returned row takes the GIL back from the busy event
        # loop, up to its 5 ms switch interval per row, all inside the write.
        # Not synced: a trim step a power cut undoes is made again by the next pass, so its commit
        # need not wait for the disk while it holds the write lock (the next API write's synced
        # commit carries it there).
        named = orjson.dumps(list(job_ids)).decode()
        deleted, held = await self._write_alone(TRIM, (named, keep_per_job, older_than, limit), synced=False)
        return Trimmed(deleted, held)

    async def job_ids_after(self, after: int, count: int) -> list[int]:
        rows = await self._fetchall("SELECT id FROM jobs WHERE id > ? ORDER BY id LIMIT ?", (after, count))
        return [row[0] for row in rows]

    async def list_runs(
        self, job_id: int, limit: int, offset: int, outcome: RunOutcome | None = None
    ) -> tuple[list[Run], int]:
        if outcome is None:
            return await self._page(
                RUN_COLUMNS, "runs", "job_id = ?", (job_id,), "id DESC", limit, offset, run_from_row
            )
        where, params = "job_id = ? AND outcome = ?", (job_id, outcome.value)
        return await self._page(RUN_COLUMNS, "runs", where, params, "id DESC", limit, offset, run_from_row)

    async def recent_runs(self, job_ids: Sequence[int], per_job: int) -> dict[int, list[Run]]:
        """The newest `per_job` runs of each job, newest first: one query, each job's read on runs_job."""
        if not job_ids or per_job <= 0:
            return {}
        if len(job_ids) == 1:  # one job's newest runs (GET /job/N): an index read, on the loop
            rows = await self._fetch_by_key(
                f"SELECT {RUN_COLUMNS} FROM runs WHERE job_id = ? ORDER BY id DESC LIMIT ?", (job_ids[0], per_job)
            )
            return {job_ids[0]: [run_from_row(row) for row in rows]} if rows else {}
        rows = await self._fetchall(
            f"SELECT {RUN_COLUMNS} FROM runs WHERE id IN (SELECT r.id FROM json_each(?) AS j, runs AS r "
            "WHERE r.id IN (SELECT id FROM runs WHERE job_id = j.value ORDER BY id DESC LIMIT ?)) "
            "ORDER BY job_id, id DESC",
            (orjson.dumps(list(job_ids)).decode(), per_job),
        )
        found: dict[int, list[Run]] = {}
        for row in rows:
            found.setdefault(row[1], []).append(run_from_row(row))
        return found
