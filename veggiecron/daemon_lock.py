"""A single daemon's hold on its SQLite file, so that `veggiecron import` can tell that it runs.

A daemon holds in memory only the jobs due within its window, and reads later ones as the
window moves on: a job written into its file by another process, due before the window's end,
would not fire until the server restarts. So `serve` holds a shared flock() on the database file
itself for as long as it runs, and `import` takes it exclusively and refuses while a server
holds it; a server that starts during an import waits for the import to end. The kernel drops a
lock with its process, so a server killed outright leaves no stale lock, and no file is made
beside the database. (SQLite's own locks are POSIX record locks, which flock() does not touch
on local file systems.)
"""

from __future__ import annotations

import fcntl
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager

logger = logging.getLogger(__name__)


class ServerRunning(Exception):
    """A server (or another import) holds the database."""


def lock_path(db_file: str) -> str:
    """The file locked: the database itself."""
    return db_file


def _open(db_file: str) -> int | None:
    if db_file == ":memory:" or db_file.startswith("file:"):
        return None
    try:
        # Read-only: a lock needs no more, and a file another user created (root running
        # import beside a service's own user) can still be opened and locked.
        return os.open(lock_path(db_file), os.O_RDONLY | os.O_CREAT, 0o644)
    except OSError:
        return None  # the database cannot be opened either, and its store says why


@contextmanager
def serving(db_file: str) -> Iterator[None]:
    """Hold the shared lock while a server runs on the file; wait while an import holds it."""
    fd = _open(db_file)
    try:
        if fd is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                logger.info("waiting for veggiecron import to finish writing %s", db_file)
                fcntl.flock(fd, fcntl.LOCK_SH)
        yield
    finally:
        if fd is not None:
            os.close(fd)


@contextmanager
def importing(db_file: str) -> Iterator[None]:
    """Hold the lock alone while an import writes the file; ServerRunning while a server holds it."""
    fd = _open(db_file)
    try:
        if fd is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise ServerRunning(
                    f"a veggiecron server (or another import) is using {os.path.abspath(db_file)}; it would not "
                    "see the imported jobs due within its window until it restarts: stop it, import, and start "
                    "it again (or create the jobs through the API)"
                ) from None
        yield
    finally:
        if fd is not None:
            os.close(fd)
