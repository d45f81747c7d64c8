"""A database file that is not a sound veggiecron database is refused at start, untouched."""

from __future__ import annotations

import asyncio
import hashlib
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from tests.e2e.commands import clean_env, command
from veggiecron.model import NewJob
from veggiecron.store import DatabaseRefused
from veggiecron.store.sqlite import SqliteStore

PAGE = 4096


def fingerprint(path: Path) -> tuple[str, list[str]]:
    """The file's bytes (as a hash) and which files lie beside it."""
    return hashlib.sha256(path.read_bytes()).hexdigest(), sorted(p.name for p in path.parent.iterdir())


def refused_start(db: Path) -> str:
    """Start the server on `db`; it must refuse with one line and exit code 2: the line."""
    done = command("--port", "0", "--db-file", str(db), cwd=db.parent, env=clean_env(), timeout=20)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1, done.stderr
    return lines[0]


async def veggiecron_database(path: Path) -> None:
    """A real veggiecron database with a user, a job and a thousand runs, cleanly closed."""
    store = SqliteStore(str(path))
    await store.open()
    user = await store.create_user("alice", "x", 1.0)
    job = await store.create_job(
        NewJob(user.id, "beat", "http", {"url": "http://127.0.0.1:9/"}, "every 1 seconds", "UTC", True, 2.0, 1.0, 1.0)
    )
    with closing(sqlite3.connect(path)) as raw:
        raw.executemany(
            "INSERT INTO runs (job_id, due_at, started_at, duration_ms, outcome, attempts, error) "
            "VALUES (?, ?, ?, 1.0, 'ok', 1, ?)",
            [(job.id, float(i), float(i), "x" * 200) for i in range(1000)],
        )
        raw.commit()
    await store.close()


def test_a_file_that_is_not_sqlite_is_refused_untouched(tmp_path: Path) -> None:
    db = tmp_path / "veggiecron.db"
    db.write_text("name,schedule\nreport,every day\n")
    before = fingerprint(db)
    line = refused_start(db)
    assert line == f"veggiecron: {db} is not a SQLite database; veggiecron leaves the file as it is: " + (
        "give the path of a veggiecron database"
    )
    assert fingerprint(db) == before


def test_another_programs_database_is_refused_untouched(tmp_path: Path) -> None:
    db = tmp_path / "veggiecron.db"
    with closing(sqlite3.connect(db)) as other:
        other.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL)")
        other.execute("INSERT INTO invoices (total) VALUES (12.5)")
        other.commit()
    before = fingerprint(db)
    line = refused_start(db)
    assert "holds tables (invoices) but no veggiecron schema: it is another program's database" in line
    assert fingerprint(db) == before


def test_a_database_failing_the_quick_check_is_refused_untouched(tmp_path: Path) -> None:
    db = tmp_path / "veggiecron.db"
    asyncio.run(veggiecron_database(db))
    with closing(sqlite3.connect(db)) as reader:
        (root,) = reader.execute("SELECT rootpage FROM sqlite_master WHERE name = 'runs'").fetchone()
    with db.open("r+b") as file:  # the runs table's root page: not a page the start itself reads
        file.seek((root - 1) * PAGE)
        file.write(b"\xff" * 16)
    before = fingerprint(db)
    line = refused_start(db)
    assert f"{db} fails SQLite's quick check (" in line and "restore it from a backup" in line, line
    assert line.endswith("veggiecron leaves the file as it is")
    assert fingerprint(db) == before


async def test_a_sound_database_and_a_new_one_are_accepted(tmp_path: Path) -> None:
    sound = tmp_path / "sound.db"
    await veggiecron_database(sound)
    for path in (sound, tmp_path / "new.db"):
        store = SqliteStore(str(path))
        await store.open()
        await store.close()
    (tmp_path / "empty.db").touch()
    store = SqliteStore(str(tmp_path / "empty.db"))
    await store.open()
    assert await store.schema_version() > 0
    await store.close()
    junk = tmp_path / "junk.db"
    junk.write_text("x")
    with pytest.raises(DatabaseRefused):
        await SqliteStore(str(junk)).open()
