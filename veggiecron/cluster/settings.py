"""A node's cluster settings and its name among the nodes."""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass


@dataclass(frozen=True)
class ClusterSettings:
    lease: float = 10.0  # seconds a claim stays this node's without renewal
    claim_ahead: float = 0.25  # slots are claimed this long before they are due
    poll_interval: float = 1.0  # the claimer looks at least this often (notifications wake it sooner)
    reap_interval: float = 1.0
    claim_batch: int = 500  # jobs locked per claim transaction
    max_held: int = 5000  # claims held and not finished, at most
    flush_interval: float = 0.1


def node_identity(name: str = "") -> str:
    """This process's name among the nodes: the configured name (or host:pid) and a random suffix,
    so a restarted node never passes for its former self."""
    return f"{name or f'{socket.gethostname()}:{os.getpid()}'}:{uuid.uuid4().hex[:8]}"
