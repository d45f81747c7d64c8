"""The cluster's two statements per run, alone: PostgreSQL's CPU per run for a claim's write and a
result flush, and where the write's time goes.

    python -m bench.statements               # 20,000 jobs, batches of 500, 6 rounds
    python -m bench.statements --batch 50    # a node at 1,000 runs a second writes about this many

A database of `--jobs` jobs (every second, as in bench.cluster) on the embedded PostgreSQL; then
rounds in which every job's next slot is claimed (store/postgres/claims.py, CLAIM_WRITE) and its
result written (finish.py, FINISH), `--batch` at a time, from one connection, as a node sends them.
The first round only warms up, then the tables are analysed as autovacuum would have. What is
measured is PostgreSQL's own CPU per run of each statement: its backend's, from /proc, with nothing
else running (bench.cluster measures the same statements among the nodes and the sink that share
the machine). Last, EXPLAIN ANALYZE of one claim's write: its parts, and the
foreign key's check of each run's job (a trigger, outside the plan).
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

import asyncpg

from bench.cluster import load_jobs
from bench.stats import process_cpu
from start import run
from tests.postgres import PostgresServer
from veggiecron.model import Claim, Finished, Run, RunOutcome
from veggiecron.store.postgres import PostgresStore
from veggiecron.store.postgres.claims import CLAIM_SETTINGS, CLAIM_WRITE
from veggiecron.store.postgres.finish import FINISH, finish_arguments
from veggiecron.store.postgres.runs import run_arrays

OWNER = "bench"
LEASE = 10.0


def claim_arguments(job_ids: list[int], due: list[float]) -> list[Any]:
    """CLAIM_WRITE's parameters: each job's next run a second on, one slot claimed each, nothing recorded."""
    n = len(job_ids)
    return [job_ids, [d + 1 for d in due], [1] * n, [], *run_arrays([]), OWNER, LEASE, job_ids, due, ["claimed"] * n]


def results(claimed: list[asyncpg.Record]) -> list[Finished]:
    return [
        Finished(
            Claim(r[0], r[1], r[2]),
            Run(r[0], r[1], r[1], 1.0, RunOutcome.OK, attempts=1, status_code=200),
            1,
            False,
            None,
        )
        for r in claimed
    ]


def plan_parts(plan: dict[str, Any], depth: int = 0) -> list[tuple[int, str, float, float]]:
    """(depth, node, its total milliseconds, rows) of the plan's data-changing nodes and scans."""
    parts = []
    name = plan["Node Type"] + (f" on {plan['Relation Name']}" if "Relation Name" in plan else "")
    if plan["Node Type"] in ("ModifyTable", "Index Scan", "Seq Scan", "Function Scan", "Nested Loop", "Hash Join"):
        if plan["Node Type"] == "ModifyTable":
            name = f"{plan['Operation']} on {plan['Relation Name']}"
        parts.append((depth, name, plan["Actual Total Time"] * plan.get("Actual Loops", 1), plan["Actual Rows"]))
    for child in plan.get("Plans", ()):
        parts += plan_parts(child, depth + 1)
    return parts


async def bench(jobs: int, batch: int, rounds: int) -> dict[str, Any]:
    postgres = PostgresServer.start()
    postgres.prepare_template()
    url = await postgres.create_database()
    try:
        await load_jobs(PostgresStore(url), jobs, 9, time.time())
        conn = await asyncpg.connect(url)
        backend = conn.get_server_pid()  # the CPU measured is this backend's: the statements' own work
        try:
            ids = [r[0] for r in await conn.fetch("SELECT id FROM jobs ORDER BY id")]
            start = time.time()
            cpu = {"claim": 0.0, "finish": 0.0}
            for round_ in range(rounds + 1):
                if round_ == 1:
                    await conn.execute("VACUUM ANALYZE runs")
                    await conn.execute("VACUUM ANALYZE jobs")
                    await conn.reload_schema_state()  # the statements are planned again, on the new statistics
                    cpu = {"claim": 0.0, "finish": 0.0}
                for first in range(0, jobs, batch):
                    chunk = ids[first : first + batch]
                    due = [start + round_ + i / 1e6 for i in range(len(chunk))]
                    before = process_cpu(backend)[1]
                    async with conn.transaction():
                        await conn.execute(CLAIM_SETTINGS)  # as a node's claim
                        claimed = await conn.fetch(CLAIM_WRITE, *claim_arguments(chunk, due))
                    middle = process_cpu(backend)[1]
                    await conn.fetch(FINISH, *finish_arguments(OWNER, LEASE, results(claimed)))
                    cpu["claim"] += middle - before
                    cpu["finish"] += process_cpu(backend)[1] - middle
            chunk = ids[:batch]
            due = [start + rounds + 5 + i / 1e6 for i in range(len(chunk))]
            explaining = conn.transaction()
            await explaining.start()
            await conn.execute(CLAIM_SETTINGS)
            explained = await conn.fetchval(
                "EXPLAIN (ANALYZE, FORMAT JSON) " + CLAIM_WRITE, *claim_arguments(chunk, due)
            )
            await explaining.rollback()  # the explained claim is not kept
        finally:
            await conn.close()
    finally:
        await postgres.drop_database(url)
    analysed = json.loads(explained)[0]
    measured = jobs * rounds
    return {
        "jobs": jobs,
        "batch": batch,
        "rounds": rounds,
        "claim_write_us_per_run": round(1e6 * cpu["claim"] / measured, 1),
        "finish_us_per_run": round(1e6 * cpu["finish"] / measured, 1),
        "claim_write_explained_ms": round(analysed["Execution Time"], 2),
        "claim_write_parts": [
            {"depth": d, "node": name, "ms": round(ms, 2), "rows": rows}
            for d, name, ms, rows in plan_parts(analysed["Plan"])
        ],
        "claim_write_triggers": [
            {"trigger": t["Trigger Name"], "ms": round(t["Time"], 2), "calls": t["Calls"]}
            for t in analysed.get("Triggers", ())
        ],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=500, help="claims and results per statement")
    parser.add_argument("--rounds", type=int, default=6, help="measured rounds (each claims every job once)")
    parser.add_argument("--json", action="store_true", help="print one JSON object of figures")
    args = parser.parse_args()
    figures = run(bench(args.jobs, args.batch, args.rounds))
    if args.json:
        print(json.dumps(figures))
        return
    print(f"{args.jobs} jobs, batches of {args.batch}, {args.rounds} rounds; PostgreSQL's CPU per run:")
    print(f"  claim's write  {figures['claim_write_us_per_run']:7.1f} µs")
    print(f"  result flush   {figures['finish_us_per_run']:7.1f} µs")
    print(f"one claim's write of {args.batch}, EXPLAIN ANALYZE: {figures['claim_write_explained_ms']} ms")
    for part in figures["claim_write_parts"]:
        print(f"  {'  ' * part['depth']}{part['node']:<40} {part['ms']:8.2f} ms  {part['rows']:>6} rows")
    for trigger in figures["claim_write_triggers"]:
        print(f"  trigger {trigger['trigger']:<32} {trigger['ms']:8.2f} ms  {trigger['calls']:>6} calls")


if __name__ == "__main__":
    main()
