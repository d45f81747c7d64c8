"""The lock a server holds on its SQLite file: an import refuses beside it, a server waits for an import."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from veggiecron.daemon_lock import ServerRunning, importing, lock_path, serving


def test_an_import_is_refused_while_a_server_holds_the_file_and_goes_ahead_after(tmp_path: Path) -> None:
    db_file = str(tmp_path / "vc.db")
    with serving(db_file), serving(db_file):  # servers share it (two on one file is their own mistake)
        with pytest.raises(ServerRunning, match="is using .*vc.db; it would not see the imported jobs"):
            with importing(db_file):
                pass
    with importing(db_file):
        with pytest.raises(ServerRunning):
            with importing(db_file):  # nor two imports at once
                pass
    assert Path(lock_path(db_file)).exists()


def test_a_server_starting_during_an_import_waits_for_it(tmp_path: Path) -> None:
    db_file = str(tmp_path / "vc.db")
    started = threading.Event()

    def serve() -> None:
        with serving(db_file):
            started.set()

    with importing(db_file):
        thread = threading.Thread(target=serve)
        thread.start()
        time.sleep(0.2)
        assert not started.is_set()
    assert started.wait(5)
    thread.join()


def test_a_file_that_cannot_be_opened_is_left_to_the_store_to_report(tmp_path: Path) -> None:
    for db_file in (str(tmp_path / "no" / "such" / "dir.db"), ":memory:"):
        with serving(db_file), importing(db_file):
            pass
