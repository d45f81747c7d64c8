"""File descriptors: the limit the process runs under, how many are open, and a warning near the limit.

Every client connection, outbound connection and database file takes one. A process that runs
out cannot accept, connect or write a log line, so the server raises its soft limit to the hard
one at start, sizes its client connections below it (api/connections.py), and says in /metrics
and in the log when the count comes near the limit.
"""

from __future__ import annotations

import asyncio
import logging
import os

try:
    import resource
except ImportError:  # not on Windows: the limit is then unknown
    resource = None  # type: ignore[assignment]

logger = logging.getLogger(__name__)

NEAR = 0.8  # warn when this fraction of the limit is open
CLEAR = 0.7  # and say so again once the count falls below this fraction
RESERVED = 64  # kept for the database, listening sockets, DNS and the log, beside the outbound pool
FD_DIRECTORY = "/proc/self/fd"


def raise_limit() -> int | None:
    """Raise the soft limit on open files to the hard one; answer the limit now in force (None: unknown)."""
    if resource is None:
        return None
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 16)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
            soft = wanted
        except (ValueError, OSError) as exc:
            logger.warning("could not raise the open files limit from %d to %d: %s", soft, wanted, exc)
    return None if soft == resource.RLIM_INFINITY else int(soft)


def limit() -> int | None:
    if resource is None:
        return None
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    return None if soft == resource.RLIM_INFINITY else int(soft)


def open_count() -> int | None:
    """File descriptors open now (None where the system does not say: only Linux's /proc is read)."""
    try:
        return len(os.listdir(FD_DIRECTORY))
    except OSError:
        return None


def client_connection_budget(fd_limit: int | None, outbound_pool: int) -> int:
    """Client connections the server may hold: the limit, less the outbound pool and a reserve."""
    if fd_limit is None:
        return 10_000
    return max(16, int(fd_limit * 0.9) - outbound_pool - RESERVED)


async def watch(every: float = 2.0) -> None:
    """Log, until cancelled, when open descriptors come near the limit and when they fall back."""
    near = False
    while True:
        await asyncio.sleep(every)
        count, most = open_count(), limit()
        if count is None or most is None:
            continue
        if not near and count >= most * NEAR:
            near = True
            logger.warning(
                "%d file descriptors open of a limit of %d: near it; idle client connections are closed "
                "first, and new ones refused once none is idle (raise LimitNOFILE / ulimit -n for more)",
                count,
                most,
            )
        elif near and count < most * CLEAR:
            near = False
            logger.info("%d file descriptors open of a limit of %d: no longer near it", count, most)
