"""Copy a SQLite database into an empty PostgreSQL one: a single daemon moving up to several nodes.

Everything comes along with its ids: users with their password hashes, token hashes (so tokens
keep working if app.key is the same), jobs with their next run and progress, run history,
failed tasks, webhooks, groups, Seed schedules and the audit log. It runs in one PostgreSQL transaction: the
copy is whole or nothing. The SQLite file is read, never written (its schema is brought up to
date first, as the server would on start).
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Sequence
from contextlib import closing
from dataclasses import dataclass
from typing import Any

import asyncpg

from .postgres import PostgresStore
from .sqlite import SqliteStore

Row = Sequence[Any]


def _bools(*positions: int) -> Callable[[Row], tuple[Any, ...]]:
    """SQLite keeps booleans as 0 and 1."""

    def convert(row: Row) -> tuple[Any, ...]:
        return tuple(bool(v) if i in positions and v is not None else v for i, v in enumerate(row))

    return convert


def _same(row: Row) -> tuple[Any, ...]:
    return tuple(row)


# (table, columns, conversion), parents before children.
TABLES: list[tuple[str, str, Callable[[Row], tuple[Any, ...]]]] = [
    ("users", "id, username, password_hash, is_admin, date_created, date_updated, email", _bools(3)),
    ("groups", "id, name", _same),
    ("user_groups", "user_id, group_id", _same),
    ("tokens", "id, user_id, token_hash, created_at, expires_at", _same),
    (
        "jobs",
        "id, user_id, name, type, data, schedule, timezone, enabled, next_run, anchor, version, date_created, "
        "date_updated, max_runs, run_count, keep_failures, policy, consecutive_failures, paused_reason, tags, "
        "after_job, after_on",
        _bools(7, 15),
    ),
    (
        "seed_schedules",
        "job_id, uuid, cron_definition, interval_definition, endpoint, auth_token, payload, created_by, updated_by",
        _same,
    ),
    (
        "runs",
        "id, job_id, due_at, started_at, duration_ms, outcome, attempts, status_code, error, response_excerpt, "
        "error_class, pool_wait_ms, triggered_by",
        _same,
    ),
    ("held_slots", "job_id, due_at, reason, since, triggered_by", _same),
    ("failed_tasks", "id, job_id, task_id, initiated_at, reason", _same),
    ("webhooks", "id, user_id, event, target, created, updated", _same),
    ("audit_log", "id, at, actor, actor_id, owner_id, address, token_id, action, target, changes", _same),
    ("signing_secrets", "id, user_id, secret, date_created", _same),  # still sealed: the same key opens them
]
IDENTITY_TABLES = (
    "users",
    "groups",
    "tokens",
    "jobs",
    "runs",
    "failed_tasks",
    "webhooks",
    "audit_log",
    "signing_secrets",
)


class TargetNotEmpty(Exception):
    """The PostgreSQL database already holds users or jobs: copying would mix two databases."""


@dataclass(frozen=True)
class CopyReport:
    copied: dict[str, int]  # rows per table
    runs_merged: int  # history rows of a slot already copied (PostgreSQL keeps one record per slot)


def read_sqlite(path: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every table's rows, read in one transaction (a consistent snapshot even while a server writes)."""
    uri = f"file:{path}?mode=ro"
    with closing(sqlite3.connect(uri, uri=True)) as db:
        db.execute("BEGIN")
        tables = {
            name: [convert(row) for row in db.execute(f"SELECT {columns} FROM {name}")]
            for name, columns, convert in TABLES
        }
        db.execute("COMMIT")
    return tables


def one_run_per_slot(runs: list[tuple[Any, ...]]) -> tuple[list[tuple[Any, ...]], int]:
    """Keep the newest record of each (job, due time): the slot a PostgreSQL run row names."""
    newest: dict[tuple[int, float], tuple[Any, ...]] = {}
    for run in sorted(runs, key=lambda r: r[0]):
        newest[(run[1], run[2])] = run
    return sorted(newest.values(), key=lambda r: r[0]), len(runs) - len(newest)


async def copy_sqlite_to_postgres(sqlite_path: str, postgres_url: str) -> CopyReport:
    sqlite = SqliteStore(sqlite_path)  # opened once so that an older file's schema is brought up to date
    await sqlite.open()
    await sqlite.close()
    target = PostgresStore(postgres_url, min_size=1, max_size=1)
    await target.open()  # creates or migrates the schema
    await target.close()
    tables = await asyncio.to_thread(read_sqlite, sqlite_path)
    tables["runs"], merged = one_run_per_slot(tables["runs"])
    conn = await asyncpg.connect(postgres_url)
    try:
        async with conn.transaction():
            held = await conn.fetchval("SELECT (SELECT count(*) FROM users) + (SELECT count(*) FROM jobs)")
            if held:
                raise TargetNotEmpty("the PostgreSQL database already has users or jobs; copy into an empty one")
            for name, columns, _convert in TABLES:
                if tables[name]:
                    await conn.copy_records_to_table(
                        name, records=tables[name], columns=[c.strip() for c in columns.split(",")]
                    )
            for name in IDENTITY_TABLES:
                # New rows must get ids after the copied ones.
                await conn.execute(
                    f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                    f"coalesce((SELECT max(id) FROM {name}), 0) + 1, false)"
                )
    finally:
        await conn.close()
    return CopyReport({name: len(rows) for name, rows in tables.items()}, merged)
