"""The nodes sharing the database (a heartbeat row each), and runs asked of a node that sends none.

An api node claims nothing, so a run asked of it (Run now, a Seed requeue) is stored as a claim
whose lease lapsed already, owned by the asking node with epoch 0: any scheduler node's reaper
takes it over as it takes over a dead node's claims (raising it to epoch 1, a first copy) and
sends it. The NOTIFY that follows wakes the reapers at once rather than at their next look.
"""

from __future__ import annotations

from ...model import NodeSeen, Run
from ..rows import RUN_COLUMNS, run_from_row
from .connection import NOW, PostgresConnection
from .jobs import CHANNEL

FORGET_AFTER = 86400.0  # rows of nodes not seen for a day are dropped by the next heartbeat


class PostgresNodes(PostgresConnection):
    async def beat(self, name: str, role: str, started: float) -> None:
        """This node is alive: write its row (and drop the rows of nodes long gone)."""
        async with self._transaction() as conn:
            await conn.execute(
                f"INSERT INTO nodes (name, role, started, last_seen) VALUES ($1, $2, $3, {NOW}) "
                f"ON CONFLICT (name) DO UPDATE SET role = $2, last_seen = {NOW}",
                name,
                role,
                started,
            )
            await conn.execute(f"DELETE FROM nodes WHERE last_seen < {NOW} - $1", FORGET_AFTER)

    async def forget_node(self, name: str) -> None:
        """A node stopping cleanly leaves the list."""
        await self._execute("DELETE FROM nodes WHERE name = $1", name)

    async def nodes_seen(self) -> tuple[list[NodeSeen], float]:
        """Every node's row, by name, and the database's now."""
        rows = await self._fetch(f"SELECT name, role, started, last_seen, {NOW} AS now FROM nodes ORDER BY name")
        if not rows:
            return [], float(await self._fetchval(f"SELECT {NOW}"))
        return [NodeSeen(r[0], r[1], r[2], r[3]) for r in rows], float(rows[0]["now"])

    async def request_run(self, job_id: int, requester: str) -> float | None:
        """Store a run of the job due at the database's now, for a scheduler node to send; answer
        its due time, or None when the job is gone."""
        async with self._transaction() as conn:
            due = await conn.fetchval(
                "INSERT INTO runs (job_id, due_at, status, owner, epoch, lease_expires) "
                f"SELECT id, {NOW}, 'claimed', $2, 0, {NOW} - 1 FROM jobs WHERE id = $1 "
                "ON CONFLICT (job_id, due_at) DO NOTHING RETURNING due_at",
                job_id,
                requester,
            )
            if due is not None:
                await conn.execute("SELECT pg_notify($1, $2)", CHANNEL, repr(due))
        return None if due is None else float(due)

    async def run_result(self, job_id: int, due_at: float) -> Run | None:
        """The recorded run of this slot, once its result is written."""
        row = await self._fetchrow(
            f"SELECT {RUN_COLUMNS} FROM runs WHERE job_id = $1 AND due_at = $2 AND status = 'done'", job_id, due_at
        )
        return None if row is None else run_from_row(row)
