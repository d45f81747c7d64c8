"""Operational endpoints: / and /health."""

from __future__ import annotations

import orjson
import tornado.web

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
        report = await self.ctx.health.probe()
        data: dict[str, object] = {
            "database": "ok" if report.database else "unavailable",
            "scheduler": "ok" if report.scheduler else "stopped",
            "scheduled_jobs": report.scheduled_jobs,
            "jobs_in_window": report.jobs_in_window,
            "runs_in_flight": report.runs_in_flight,
            "role": report.role,
        }
        if report.senders_seen is not None:  # several nodes on PostgreSQL
            data["nodes"] = report.nodes
            data["scheduler_nodes"] = "seen" if report.senders_seen else "none seen"
        self.set_status(200 if report.healthy else 503)
        answer = {
            "id": "success" if report.healthy else "error",
            "description": "healthy" if report.healthy else "unhealthy",
            "data": data,
        }
        self.finish(orjson.dumps(answer))


class NotThisRoleHandler(BaseHandler):
    """Every path but /health and /metrics on a scheduler node."""

    requires_auth = False

    async def prepare(self) -> None:
        raise tornado.web.HTTPError(
            404,
            log_message=f"this is a {self.ctx.config.cluster.role} node: it serves /health and /metrics only; "
            "the APIs and the dashboard are on the api nodes",
        )


class PrometheusHandler(BaseHandler):
    """GET /metrics: the Prometheus text exposition."""

    requires_auth = False

    async def get(self) -> None:
        self.set_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
        self.finish(await self.ctx.health.metrics_text())
