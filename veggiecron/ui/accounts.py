"""Tokens and users: everyone sees and revokes their own tokens; admins also see users and revoke theirs."""

from __future__ import annotations

from typing import Any

import orjson

from ..errors import Forbidden, NotFound
from ..json_numbers import digits
from .base import UiHandler
from .views import page_links
from .words import iso, local_time, relative

PAGE = 50


class TokensPage(UiHandler):
    """GET /ui/tokens: the user's unexpired tokens; "this session" marks the dashboard's own."""

    async def get(self) -> None:
        user = self.current_user_required
        offset = self._offset()
        tokens, count = await self.ctx.accounts.tokens_of(user, self.session_token or "", PAGE, offset)
        now = self.ctx.clock.now()
        rows = [
            {
                "id": t.id,
                "created": local_time(t.created_at, "UTC"),
                "created_iso": iso(t.created_at),
                "expires": relative(t.expires_at, now),
                "current": t.current,
            }
            for t in tokens
        ]
        self.render_page("tokens.html", tokens=rows, pages=page_links(count, PAGE, offset))

    def _offset(self) -> int:
        raw = self.get_query_argument("offset", "0")
        return int(raw) if digits(raw) and len(raw) < 10 else 0


class RevokeTokenAction(UiHandler):
    """POST /ui/tokens/<id>/revoke; revoking this session's own token logs out."""

    async def post(self, token_id: str) -> None:
        user = self.current_user_required
        if not digits(token_id) or len(token_id) > 18:
            raise NotFound(f"you have no token {token_id[:32]!r}")
        tokens, _count = await self.ctx.accounts.tokens_of(user, self.session_token or "", 1000, 0)
        own = any(t.id == int(token_id) and t.current for t in tokens)
        actor = await self.actor()  # before the revoke: it may be this session's own token
        await self.ctx.accounts.revoke(user, int(token_id), by=actor)
        if own:
            self.end_session()
            self.redirect("/ui/login", status=303)
            return
        self.flash(f"Token {token_id} revoked.")
        self.redirect("/ui/tokens", status=303)


class UsersPage(UiHandler):
    """GET /ui/users (admins): every user, with how many tokens each holds."""

    async def prepare(self) -> None:
        await super().prepare()
        if self.user is not None and not self.user.is_admin:
            raise Forbidden("Only admins see the users of this server.")

    async def get(self) -> None:
        user = self.current_user_required
        raw = self.get_query_argument("offset", "0")
        offset = int(raw) if digits(raw) and len(raw) < 10 else 0
        users, count = await self.ctx.accounts.visible_users(user, PAGE, offset)
        rows = [
            {
                "id": u.id,
                "username": u.username,
                "admin": u.is_admin,
                "created": local_time(u.date_created, "UTC"),
                "tokens": await self.ctx.accounts.token_count(user, u.id),
                "me": u.id == user.id,
            }
            for u, _groups in users
        ]
        self.render_page("users.html", users=rows, pages=page_links(count, PAGE, offset))


class RevokeUserTokensAction(UiHandler):
    """POST /ui/users/<id>/revoke-tokens (admins): every token of that user stops working at once."""

    async def prepare(self) -> None:
        await super().prepare()
        if self.user is not None and not self.user.is_admin:
            raise Forbidden("Only admins revoke other users' tokens.")

    async def post(self, user_id: str) -> None:
        admin = self.current_user_required
        if not digits(user_id) or len(user_id) > 18:
            raise NotFound("Not found.")
        target, _groups = await self.ctx.accounts.visible_user(admin, int(user_id))
        actor = await self.actor()
        await self.ctx.accounts.revoke_all(admin, target.id, by=actor)
        if target.id == admin.id:
            self.end_session()
            self.redirect("/ui/login", status=303)
            return
        self.flash(f"Every token of {target.username} is revoked.")
        self.redirect("/ui/users", status=303)


class AuditPage(UiHandler):
    """GET /ui/audit: the audit log as GET /audit answers it (an admin's has everyone's, or ?user=)."""

    async def get(self) -> None:
        user = self.current_user_required
        raw = self.get_query_argument("offset", "0")
        offset = int(raw) if digits(raw) and len(raw) < 10 else 0
        filters = {name: self.get_query_argument(name, "") or None for name in ("action", "target", "user")}
        entries, count = await self.ctx.audit.entries(
            user, filters["user"], PAGE, offset, filters["action"], filters["target"]
        )
        rows = [
            {
                "at": local_time(e.at, "UTC"),
                "at_iso": iso(e.at),
                "actor": e.actor,
                "address": e.address or "",
                "action": e.action,
                "target": e.target,
                "changes": _changes_text(e.changes),
            }
            for e in entries
        ]
        query = {k: v for k, v in filters.items() if v}
        self.render_page("audit.html", rows=rows, pages=page_links(count, PAGE, offset), query=query)


def _changes_text(changes: dict[str, Any] | None) -> list[str]:
    """One line per field: `field: old -> new` for a change, `field: value` for a snapshot."""
    lines = []
    for name, value in (changes or {}).items():
        if isinstance(value, dict) and set(value) == {"old", "new"}:
            lines.append(f"{name}: {_short(value['old'])} → {_short(value['new'])}")
        else:
            lines.append(f"{name}: {_short(value)}")
    return lines


def _short(value: object) -> str:
    text = orjson.dumps(value).decode()
    return text if len(text) <= 200 else text[:199] + "…"
