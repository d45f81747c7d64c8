"""GET /audit: the audit log as the caller may see it."""

from __future__ import annotations

from typing import Any

from ..audit import Actor
from ..auth import token_from_headers
from ..errors import Invalid
from .base import BaseHandler


async def actor_of(handler: Any) -> Actor:
    """The caller of a request, with the address it came from and its token's id (for the audit row)."""
    headers = handler.request.headers
    token = token_from_headers(headers.get("X-Auth-Token"), headers.get("Authorization"))
    actor: Actor = await handler.ctx.audit.actor(handler.current_user_required, handler.request.remote_ip, token)
    return actor


class AuditHandler(BaseHandler):
    async def get(self) -> None:
        viewer = self.current_user_required
        limit, offset = self.page()
        action = self.get_query_argument("action", None, strip=False)
        target = self.get_query_argument("target", None, strip=False)
        for name, value in (("action", action), ("target", target)):
            if value is not None and not 0 < len(value) <= 300:
                raise Invalid(name, f"{name} must be 1 to 300 characters")
        entries, count = await self.ctx.audit.entries(
            viewer, self.get_query_argument("user", None, strip=False), limit, offset, action, target
        )
        self.answer(
            f"{count} audit rows",
            {"count": count, "limit": limit, "offset": offset, "entries": [e.as_json() for e in entries]},
        )
