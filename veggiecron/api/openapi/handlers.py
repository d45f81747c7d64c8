"""GET /openapi.json and GET /docs, served from the document built once per configuration."""

from __future__ import annotations

from typing import Any

import tornado.web

from ..base import BaseHandler
from .docs import rendered


class OpenApiHandler(BaseHandler):
    """GET /openapi.json: the OpenAPI 3.1 document of both APIs (no token needed)."""

    requires_auth = False

    async def get(self) -> None:
        self.set_header("Access-Control-Allow-Origin", "*")
        self.finish(rendered(self.ctx.config, self.ctx.jobs.types)[0])


class DocsHandler(BaseHandler):
    """GET /docs: the document as a readable page, self-contained (no scripts, fonts or CDNs)."""

    requires_auth = False

    async def get(self) -> None:
        self.set_header("Content-Type", "text/html; charset=UTF-8")
        self.set_header("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
        self.finish(rendered(self.ctx.config, self.ctx.jobs.types)[1])


def routes(args: dict[str, Any]) -> list[tuple[str, type[tornado.web.RequestHandler], dict[str, Any]]]:
    """GET /openapi.json and GET /docs."""
    return [(r"/openapi.json", OpenApiHandler, args), (r"/docs", DocsHandler, args)]
