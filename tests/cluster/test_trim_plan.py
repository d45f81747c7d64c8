"""The PostgreSQL trim reads what it deletes whatever the planner believes of the runs table.

PostgreSQL plans a prepared statement once and keeps the plan (a generic plan, after five runs).
A node that starts on a new database plans its trim while the runs table is empty, and keeps
that plan while the table grows until the next ANALYZE. Planned so, the trim walked every run of
the table for each run it deleted: 3.6 s for one step of 50 jobs and 800 runs, measured in
`bench.cluster --stored`, where a node's first sweep of a million jobs ran beside the claims.
"""

from __future__ import annotations

import json
from typing import Any

import asyncpg

from veggiecron.store.postgres.runs import TRIM, TRIM_LOCK

JOBS = 50
RUNS_PER_JOB = 40
KEEP = 30

# TRIM's parameters: job ids, runs kept per job, the age cutoff, rows a step deletes at most, the lock.
PREPARE = f"PREPARE trim (bigint[], int, float8, int, bigint) AS {TRIM}"


def rows_read(plan: dict[str, Any]) -> int:
    """Rows that every node of an EXPLAIN ANALYZE plan produced, over all of its loops."""
    own = int(plan.get("Actual Rows", 0) * plan.get("Actual Loops", 1))
    return own + sum(rows_read(child) for child in plan.get("Plans", ()))


async def test_a_trim_planned_on_an_empty_table_reads_what_it_deletes(postgres_url: str) -> None:
    conn = await asyncpg.connect(postgres_url)
    try:
        await conn.execute("ALTER TABLE runs SET (autovacuum_enabled = false)")  # the statistics stay stale
        user = await conn.fetchval(
            "INSERT INTO users (username, password_hash, date_created, date_updated) VALUES ('u', '!', 0, 0) "
            "RETURNING id"
        )
        job_ids = [
            r[0]
            for r in await conn.fetch(
                "INSERT INTO jobs (user_id, name, type, data, schedule, next_run, anchor, date_created, date_updated) "
                "SELECT $1, 'j' || g, 'http', '{}', 'every 1 seconds', 0, 0, 0, 0 FROM generate_series(1, $2) AS g "
                "RETURNING id",
                user,
                JOBS,
            )
        ]
        await conn.execute("ANALYZE runs")  # empty, as on a new database
        await conn.execute("SET plan_cache_mode = force_generic_plan")  # the plan a node keeps
        await conn.execute(PREPARE)
        # EXECUTE takes no parameters of the protocol: its arguments are written out (all integers).
        execute = f"EXECUTE trim('{{{','.join(map(str, job_ids))}}}', {KEEP}, 0, 1000, {TRIM_LOCK})"
        await conn.execute(f"EXPLAIN {execute}")  # planned now, on the empty table
        await conn.execute(
            "INSERT INTO runs (job_id, due_at, status, started_at, duration_ms, outcome) "
            "SELECT j, n, 'done', n, 1, 'ok' FROM unnest($1::bigint[]) AS j, generate_series(1, $2) AS n "
            "ORDER BY n, j",
            job_ids,
            RUNS_PER_JOB,
        )
        explained = await conn.fetchval(f"EXPLAIN (ANALYZE, FORMAT JSON) {execute}")
        remaining = await conn.fetchval("SELECT count(*) FROM runs")
    finally:
        await conn.close()
    plan = json.loads(explained)[0]["Plan"]
    deleted = JOBS * (RUNS_PER_JOB - KEEP)
    assert remaining == JOBS * RUNS_PER_JOB - deleted
    # Each job's runs are read once or twice (its cut, then what it deletes): a few thousand rows.
    # Walking the table for each deleted run read millions.
    assert rows_read(plan) < 20 * JOBS * RUNS_PER_JOB, rows_read(plan)
