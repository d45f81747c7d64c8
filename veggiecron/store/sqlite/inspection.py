"""Look at a database file before anything writes to it: refuse one that is not a sound veggiecron database.

Opening a file for writing already changes it (WAL mode rewrites its header, migrations add
tables), so the look is taken first, through a read-only connection: a file that is not SQLite,
another program's database, or a veggiecron database that fails SQLite's quick check is refused
with a message saying what to do, and is left exactly as it was.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path
from urllib.parse import quote

from ..contract import DatabaseRefused, SchemaTooNew
from .migrations import SCHEMA_VERSION

SQLITE_HEADER = b"SQLite format 3\x00"
# Tables every veggiecron schema since migration 1 has.
OWN_TABLES = frozenset({"users", "tokens", "jobs", "runs"})
SIDE_FILES = ("-wal", "-shm", "-journal")
MAX_REPORTED_PROBLEMS = 3


def check_database_file(path: str) -> None:
    """Raise DatabaseRefused unless `path` is absent, empty, or a veggiecron database that passes quick_check."""
    if path == ":memory:" or path.startswith("file:"):
        return
    file = Path(path)
    if not file.exists() or file.stat().st_size == 0:
        return  # a new database: created and migrated on open
    where = str(file.resolve())
    leave_it = "veggiecron leaves the file as it is"
    with file.open("rb") as head:
        start = head.read(len(SQLITE_HEADER))
    if start != SQLITE_HEADER:
        raise DatabaseRefused(f"{where} is not a SQLite database; {leave_it}: give the path of a veggiecron database")
    existing = {suffix for suffix in SIDE_FILES if Path(path + suffix).exists()}
    try:
        problem = _problem(file, where)
    except sqlite3.DatabaseError as exc:
        problem = f"{where} cannot be read as a SQLite database ({exc})"
    except SchemaTooNew:
        _remove_created(path, existing)
        raise
    if problem is None:
        return
    _remove_created(path, existing)
    raise DatabaseRefused(f"{problem}; {leave_it}")


def _remove_created(path: str, existing: set[str]) -> None:
    """Remove the side files the read-only look itself created."""
    for suffix in SIDE_FILES:
        if suffix not in existing:
            Path(path + suffix).unlink(missing_ok=True)


def _problem(file: Path, where: str) -> str | None:
    uri = f"file:{quote(str(file.resolve()))}?mode=ro"
    with closing(sqlite3.connect(uri, uri=True)) as reader:
        reader.execute("PRAGMA busy_timeout = 5000")
        rows = reader.execute(f"PRAGMA quick_check({MAX_REPORTED_PROBLEMS})").fetchall()
        if rows != [("ok",)]:
            found = "; ".join(" ".join(str(row[0]).split()) for row in rows)  # one line: SQLite's own has several
            return (
                f"{where} fails SQLite's quick check ({found}): restore it from a backup (veggiecron backup), "
                "or recover what it holds with the sqlite3 shell's .recover into a new file"
            )
        (version,) = reader.execute("PRAGMA user_version").fetchone()
        tables = {
            name
            for (name,) in reader.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            if not name.startswith("sqlite_")
        }
    if version > SCHEMA_VERSION:
        raise SchemaTooNew(
            f"database {where} has schema version {version}; this veggiecron knows up to {SCHEMA_VERSION}"
        )
    if version == 0 and tables:
        shown = ", ".join(sorted(tables)[:5])
        return f"{where} holds tables ({shown}) but no veggiecron schema: it is another program's database"
    if version > 0 and not OWN_TABLES <= tables:
        return f"{where} has schema version {version} but not veggiecron's tables: it is another program's database"
    return None
