"""The PostgreSQL trim reads what it deletes whatever the planner believes of the runs table.

PostgreSQL plans a prepared statement once and keeps the plan (a generic plan, after five runs).
A node that starts on a new database plans its trim while the runs table is empty, and keeps
that plan while the table grows until the next ANALYZE. Planned so, the trim walked every run of
the table for each run it deleted: 3.6 s for one step of 50 jobs and 800 runs, measured in
`bench.cluster --stored`, where a node's first sweep of a million jobs ran beside the claims.
With the statement rewritten but sequential scans allowed, each job's read was still a walk of
the table (206,754 rows read here); the trim's connection plans none (TRIM_SETTINGS).
"""

from __future__ import annotations

import json
from typing import Any

import asyncpg

from veggiecron.store.postgres.runs import TRIM, TRIM_LOCK, TRIM_SETTINGS

JOBS = 50
RUNS_PER_JOB = 40
KEEP = 30
AGE_CUTOFF = 25  # runs are due 1 to RUNS_PER_JOB: the age limit takes those due before this

# TRIM's parameters: job ids, runs kept per job, the age cutoff, rows a step deletes at most, the lock.
PREPARE = f"PREPARE trim (bigint[], int, float8, int, bigint) AS {TRIM}"


def rows_read(plan: dict[str, Any]) -> int:
    """Rows that every node of an EXPLAIN ANALYZE plan produced or read and dropped (by its filter or
    join filter), over all of its loops."""
    per_loop = plan.get("Actual Rows", 0) + plan.get("Rows Removed by Filter", 0)
    per_loop += plan.get("Rows Removed by Join Filter", 0)
    own = int(per_loop * plan.get("Actual Loops", 1))
    return own + sum(rows_read(child) for child in plan.get("Plans", ()))


def scans(plan: dict[str, Any]) -> list[str]:
    """The plan's scans, as "Seq Scan on runs", "Index Scan on runs using runs_history"..."""
    found = []
    if "Relation Name" in plan:
        index = f" using {plan['Index Name']}" if "Index Name" in plan else ""
        found.append(f"{plan['Node Type']} on {plan['Relation Name']}{index}")
    for child in plan.get("Plans", ()):
        found += scans(child)
    return found


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
        for name, value in TRIM_SETTINGS.items():  # as on the trim's own connection
            await conn.execute(f"SET {name} = '{value}'")
        await conn.execute("SET plan_cache_mode = force_generic_plan")  # the plan a node keeps
        await conn.execute(PREPARE)
        # EXECUTE takes no parameters of the protocol: its arguments are written out (all numbers).
        ids = "{" + ",".join(map(str, job_ids)) + "}"

        def execute(older_than: float) -> str:
            return f"EXECUTE trim('{ids}', {KEEP}, {older_than}, 1000, {TRIM_LOCK})"

        await conn.execute(f"EXPLAIN {execute(0)}")  # planned now, on the empty table
        await conn.execute(
            "INSERT INTO runs (job_id, due_at, status, started_at, duration_ms, outcome) "
            "SELECT j, n, 'done', n, 1, 'ok' FROM unnest($1::bigint[]) AS j, generate_series(1, $2) AS n "
            "ORDER BY n, j",
            job_ids,
            RUNS_PER_JOB,
        )
        by_count = await conn.fetchval(f"EXPLAIN (ANALYZE, FORMAT JSON) {execute(0)}")
        after_count = await conn.fetchval("SELECT count(*) FROM runs")
        by_age = await conn.fetchval(f"EXPLAIN (ANALYZE, FORMAT JSON) {execute(AGE_CUTOFF)}")
        after_age = await conn.fetchval("SELECT count(*) FROM runs")
    finally:
        await conn.close()
    # The count keeps each job's newest KEEP runs (due 11 to 40); then the age limit takes those due
    # before AGE_CUTOFF among them (11 to 24).
    assert after_count == JOBS * KEEP
    assert after_age == JOBS * (RUNS_PER_JOB - AGE_CUTOFF + 1)
    for explained in (by_count, by_age):
        plan = json.loads(explained)[0]["Plan"]
        # Each job's runs are read once or twice (its cut, then what it deletes): a few thousand
        # rows. Walking the table for each deleted run read millions; for each job, 200,000.
        assert rows_read(plan) < 20 * JOBS * RUNS_PER_JOB, (rows_read(plan), scans(plan))
        assert "Seq Scan on runs" not in scans(plan), scans(plan)
