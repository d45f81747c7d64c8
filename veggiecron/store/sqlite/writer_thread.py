"""Work done on the writing connection's own thread, in one trip there and back.

aiosqlite runs each call on its connection's thread and answers it through the event loop: every
statement is a trip, and a busy loop takes each answer late. Inside a write transaction that wait
holds SQLite's write lock, and every trip costs the loop a wake-up. The functions here run whole
units of work on that thread instead: a write's statements, a batch of writes with its BEGIN and
COMMIT, a statement alone with its time. aiosqlite has no public way to run a function on its
thread; on_writer_thread uses the one its own methods use (tests/unit/test_group_commit.py checks
that it still works with the aiosqlite installed).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import aiosqlite

T = TypeVar("T")

# (sql, parameters, many): many runs the statement once per item of parameters (executemany).
Statement = tuple[str, Any, bool]


async def on_writer_thread(db: aiosqlite.Connection, work: Callable[..., T], *args: Any) -> T:
    """Run work(connection, *args) on the connection's thread; answer what it answers."""
    result: T = await db._execute(work, db._conn, *args)
    return result


def execute_statements(db: sqlite3.Connection, statements: Sequence[Statement]) -> list[int]:
    """Run the statements in order; answer the row id each INSERT made (0 for other statements)."""
    ids = []
    for sql, params, many in statements:
        if many:
            cursor = db.executemany(sql, params)
            ids.append(cursor.lastrowid or 0)
        else:
            cursor = db.execute(sql, params)
            cursor.fetchall()  # a statement with RETURNING runs to its end
            ids.append((cursor.lastrowid or 0) if sql.lstrip()[:6].upper() == "INSERT" else 0)
        cursor.close()
    return ids


@dataclass(frozen=True)
class Committed:
    results: list[list[int]]  # each write's row ids, in the batch's order


@dataclass(frozen=True)
class Refused:
    number: int  # the write that failed; the transaction was rolled back, nothing of it stands
    error: Exception


@dataclass(frozen=True)
class Failed:
    error: Exception  # BEGIN or COMMIT failed, or SQLite gave up the transaction: nothing stands


def commit_batch(db: sqlite3.Connection, writes: Sequence[Sequence[Statement]]) -> Committed | Refused | Failed:
    """BEGIN IMMEDIATE, each write's statements, COMMIT: a batch in one trip. A write that fails
    rolls the transaction back (the caller writes the batch again, each write on its own)."""
    try:
        db.execute("BEGIN IMMEDIATE")
    except sqlite3.Error as exc:
        return Failed(exc)
    results = []
    for number, statements in enumerate(writes):
        try:
            results.append(execute_statements(db, statements))
        except Exception as exc:  # answered to the caller (Refused or Failed), never lost
            if not db.in_transaction:  # SQLite gave up the whole transaction (a full disk, an I/O error)
                return Failed(exc)
            db.execute("ROLLBACK")
            return Refused(number, exc)
    try:
        db.execute("COMMIT")
    except sqlite3.Error as exc:
        if db.in_transaction:
            db.execute("ROLLBACK")
        return Failed(exc)
    return Committed(results)


def timed_statement(db: sqlite3.Connection, sql: str, parameters: tuple[Any, ...], synced: bool) -> tuple[int, float]:
    """Run one statement in autocommit mode; answer how many rows it changed (the connection's
    change counter: a statement that starts WITH reports no rowcount) and how long it took, commit
    included. Timed here rather than on the event loop, so that a busy loop's delay in taking the
    answer is not counted as time the statement held the write lock.

    Not synced: its commit does not wait for the disk (synchronous = NORMAL for this statement
    only). In write-ahead-log mode the database stays consistent whatever happens; a power cut may
    undo the statement, until the next synced commit or checkpoint carries it to the disk."""
    before, started = db.total_changes, time.monotonic()
    level = None if synced else db.execute("PRAGMA synchronous").fetchone()[0]
    if level is not None:
        db.execute("PRAGMA synchronous = NORMAL")
    try:
        db.execute(sql, parameters).fetchall()
    finally:
        if level is not None:
            db.execute(f"PRAGMA synchronous = {int(level)}")
    return db.total_changes - before, time.monotonic() - started
