"""The write-ahead log is checkpointed in the background: no write of the store copies it into the
database file (a checkpoint inside a commit made that write wait), and the log does not grow."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.contract.conftest import T0, new_job
from tests.helpers import wait_for
from veggiecron.store.sqlite import SqliteStore, checkpoints


@pytest.fixture
async def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[SqliteStore]:
    monkeypatch.setattr(checkpoints, "INTERVAL", 3600.0)  # the test checkpoints when it chooses
    store = SqliteStore(str(tmp_path / "wal.db"))
    await store.open()
    await store.create_user("alice", "x", T0)
    yield store
    await store.close()


async def test_no_write_checkpoints_and_the_checkpointer_copies_the_whole_log(store: SqliteStore) -> None:
    for i in range(600):  # one transaction each: several log frames each, past SQLite's 1,000-page mark
        await store.create_job(new_job(1, f"j{i}"))
    assert store._checkpoints is not None
    busy, logged, copied = await store._checkpoints.checkpoint()
    assert busy == 0
    assert logged > 1000  # no commit checkpointed (and restarted) the log on its way
    assert copied == logged
    # A write after a complete checkpoint starts the log again from its beginning.
    await store.create_job(new_job(1, "after"))
    _, logged, _ = await store._checkpoints.checkpoint()
    assert 0 < logged < 50


async def test_the_checkpointer_runs_on_its_own(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(checkpoints, "INTERVAL", 0.02)
    store = SqliteStore(str(tmp_path / "wal.db"))
    await store.open()
    try:
        await store.create_user("alice", "x", T0)
        assert store._checkpoints is not None
        await wait_for(lambda: store._checkpoints is not None and store._checkpoints.checkpoints >= 3, timeout=5)
    finally:
        await store.close()
    assert store._checkpoints is None
    assert not (tmp_path / "wal.db-wal").exists()  # the last connection closed folds the log in
