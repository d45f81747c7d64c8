"""Logging in and out of the dashboard, with the API's accounts, throttling and tokens."""

from __future__ import annotations

from ..audit import Actor
from ..errors import TooManyRequests, Unauthorized
from .base import UiHandler, safe_next


class LoginPage(UiHandler):
    """GET /ui/login shows the form; POST checks the password (throttled as POST /login is) and starts a session."""

    requires_login = False

    def get(self) -> None:
        if self.user is not None:
            self.redirect(safe_next(self.get_query_argument("next", None)), status=303)
            return
        self.render_page("login.html", error="", username="", next=safe_next(self.get_query_argument("next", None)))

    async def post(self) -> None:
        username = self.get_body_argument("username", "")
        password = self.get_body_argument("password", "")
        target = safe_next(self.get_body_argument("next", None))
        try:
            user, token, _expires = await self.ctx.accounts.login(username, password, self.request.remote_ip or "")
        except Unauthorized:
            claimed = Actor(username[:64], None, self.request.remote_ip)
            await self.ctx.audit.record(claimed, "login.failed", f"user:{username[:64]}")
            self.render_page("login.html", 401, error="Wrong username or password.", username=username, next=target)
            return
        except TooManyRequests as exc:
            self.set_header("Retry-After", str(exc.retry_after))
            message = f"Too many failed logins. Try again in {exc.retry_after} seconds."
            self.render_page("login.html", 429, error=message, username=username, next=target)
            return
        if self.session_token:  # a second login in the same browser: the first session's token goes
            earlier = None if self.user is None else await self.actor()
            await self.ctx.accounts.logout(self.session_token, by=earlier)
        self.start_session(token)
        self.redirect(target, status=303)


class LogoutAction(UiHandler):
    """POST /ui/logout revokes the session's token (so a copied cookie stops working too)."""

    requires_login = False

    async def post(self) -> None:
        if self.session_token:
            actor = None if self.user is None else await self.actor()  # before its token is gone
            await self.ctx.accounts.logout(self.session_token, by=actor)
        self.end_session()
        self.redirect("/ui/login", status=303)
