"""What only the SQLite store does: its schema version lives in the file's user_version.

Everything a store promises through the contract is tested for every store in tests/contract/.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tests.contract.conftest import make_job
from veggiecron.app import make_store
from veggiecron.config import load_config
from veggiecron.store import SchemaTooNew
from veggiecron.store.sqlite import SqliteStore
from veggiecron.store.sqlite.migrations import SCHEMA_VERSION


async def test_a_new_file_is_migrated_to_the_latest_schema(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    store = SqliteStore(str(path))
    await store.open()
    assert await store.schema_version() == SCHEMA_VERSION
    await store.close()
    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)


async def test_newer_schema_refuses_to_start(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    with sqlite3.connect(path) as raw:
        raw.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    store = SqliteStore(str(path))
    with pytest.raises(SchemaTooNew):
        await store.open()
    await store.close()


@pytest.mark.parametrize(("setting", "pragma"), [(None, 2), ("full", 2), ("normal", 1)])
async def test_commits_are_synced_as_sqlite_synchronous_says(tmp_path: Path, setting: str | None, pragma: int) -> None:
    """full (the default): every commit is on disk before it is answered; normal: only at checkpoints."""
    config = load_config(None, {"db_file": str(tmp_path / "s.db"), "sqlite.synchronous": setting})
    assert config.sqlite.synchronous == (setting or "full")
    store = make_store(config)
    assert isinstance(store, SqliteStore)
    await store.open()
    try:
        async with store.db.execute("PRAGMA synchronous") as cursor:
            assert await cursor.fetchone() == (pragma,)  # 2 is FULL, 1 NORMAL
    finally:
        await store.close()


class LockedConnection:
    """Stands for the inline reader at a moment the file is locked (SQLite answers at once: busy_timeout 0)."""

    def __init__(self, message: str) -> None:
        self.message = message
        self.calls = 0

    def execute(self, sql: str, params: object = ()) -> None:
        self.calls += 1
        raise sqlite3.OperationalError(self.message)

    def close(self) -> None:
        pass


async def test_a_read_by_key_that_meets_a_lock_is_read_on_the_reader_thread_instead(tmp_path: Path) -> None:
    store = SqliteStore(str(tmp_path / "s.db"))
    await store.open()
    try:
        user = await store.create_user("alice", "hash", 0.0)
        job = await make_job(store, user.id, "job")
        locked = LockedConnection("database is locked")
        store._inline = locked  # type: ignore[assignment]
        assert (await store.get_job(user.id, "job")).id == job.id
        assert locked.calls == 1
        store._inline = LockedConnection("disk I/O error")  # type: ignore[assignment]
        with pytest.raises(sqlite3.OperationalError, match="disk I/O error"):
            await store.get_job(user.id, "job")  # other faults are not hidden
    finally:
        await store.close()
