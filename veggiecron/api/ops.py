"""Operational endpoints: / and /health."""

from __future__ import annotations

import orjson

from .. import __version__
from .base import BaseHandler


class IndexHandler(BaseHandler):
    requires_auth = False

    async def get(self) -> None:
        self.answer(
            f"{self.ctx.config.app.name} is running", {"name": self.ctx.config.app.name, "version": __version__}
        )


class HealthHandler(BaseHandler):
    """200 when the database answers and the scheduler loop is alive, 503 otherwise."""

    requires_auth = False

    async def get(self) -> None:
        database, scheduler = await self.probe_health()
        healthy = database and scheduler
        scheduled = None
        if database:
            try:
                scheduled = await self.ctx.store.count_scheduled()
            except Exception:  # the database failed since the probe: the count is unknown, not an error
                database, healthy = False, False
        data = {
            "database": "ok" if database else "unavailable",
            "scheduler": "ok" if scheduler else "stopped",
            "scheduled_jobs": scheduled,
            "jobs_in_window": self.ctx.scheduler.scheduled_count(),
            "runs_in_flight": self.ctx.scheduler.in_flight_count(),
        }
        self.set_status(200 if healthy else 503)
        answer = {
            "id": "success" if healthy else "error",
            "description": "healthy" if healthy else "unhealthy",
            "data": data,
        }
        self.finish(orjson.dumps(answer))
