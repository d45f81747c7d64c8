"""GET /ui/nodes (admins): the nodes sharing the database, each with its role and last heartbeat."""

from __future__ import annotations

from ..errors import Forbidden
from .base import UiHandler
from .words import local_time


class NodesPage(UiHandler):
    async def prepare(self) -> None:
        await super().prepare()
        if self.user is not None and not self.user.is_admin:
            raise Forbidden("Only admins see the nodes of this server.")

    async def get(self) -> None:
        report = await self.ctx.health.probe(count_jobs=False)
        rows = [
            {
                "name": node["name"],
                "role": node["role"],
                "started": local_time(float(node["started"]), "UTC"),  # type: ignore[arg-type]
                "seen": f"{node['seconds_since_seen']} s ago",
                "alive": node["alive"],
            }
            for node in report.nodes
        ]
        self.render_page(
            "nodes.html", nodes=rows, role=report.role, shared=report.senders_seen is not None, report=report
        )
