"""What only the SQLite store does: its schema version lives in the file's user_version.

Everything a store promises through the contract is tested for every store in tests/contract/.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

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
