"""UiHandler: the dashboard's session, XSRF check, security headers, flash messages and error pages.

Pages are rendered on the server from templates/; htmx (static/htmx.min.js) swaps parts of
them in place. A session is an ordinary token of the token table, issued at login and kept in a
signed, HttpOnly cookie: revoking it (logout, the tokens page, an admin) ends the session at once,
and page scripts never see it.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
from typing import Any
from urllib.parse import quote, urlencode

import tornado.escape
import tornado.web
from tornado.web import StaticFileHandler

from ..api.base import Context
from ..audit import Actor
from ..config import Config
from ..errors import VeggiecronError
from ..model import User

logger = logging.getLogger(__name__)

HERE = os.path.dirname(__file__)
TEMPLATES = os.path.join(HERE, "templates")
STATIC = os.path.join(HERE, "static")
SESSION_COOKIE = "vc_session"
FLASH_COOKIE = "vc_flash"
COOKIE_PATH = "/ui"
REFRESH_MS = 3000  # live parts of a page are fetched again this often while the tab is visible

# No inline script or style anywhere: htmx is told (meta htmx-config) not to add its indicator
# styles, not to eval, and not to run scripts from responses.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)


def cookie_secret(config: Config) -> str:
    """The key of signed cookies: derived from app.key (so rotating it ends sessions) but not app.key itself."""
    return hmac.new(config.app.key.encode(), b"veggiecron dashboard cookies", hashlib.sha256).hexdigest()


def secure_cookies(config: Config) -> bool:
    """Cookies are Secure when the dashboard is reached over https: behind a proxy ending TLS (seed.use_ssl)."""
    return config.seed.use_ssl


def app_settings(config: Config) -> dict[str, Any]:
    """The tornado Application settings the dashboard needs."""
    return {
        "cookie_secret": cookie_secret(config),
        # Read by htmx from the page (hx-headers), never by script from the cookie: HttpOnly.
        "xsrf_cookie_kwargs": {
            "httponly": True,
            "samesite": "Lax",
            "path": COOKIE_PATH,
            "secure": secure_cookies(config),
        },
    }


_versions: dict[str, str] = {}


def static_url(name: str) -> str:
    """/ui/static/<name>?v=<hash of the file>: cached for long, fetched again when the file changes."""
    version = _versions.get(name)
    if version is None:
        version = StaticFileHandler.get_version({"static_path": STATIC}, name) or ""
        _versions[name] = version
    return f"/ui/static/{name}?v={version}"


def safe_next(target: str | None, default: str = "/ui/") -> str:
    """A place to go back to: only a path of the dashboard, never another site."""
    if target and target.startswith("/ui/") and not target.startswith("//") and "\\" not in target:
        return target
    return default


class UiHandler(tornado.web.RequestHandler):
    """Base of every dashboard page and action; `requires_login` pages send strangers to /ui/login."""

    requires_login = True
    ctx: Context

    def initialize(self, ctx: Context) -> None:
        self.ctx = ctx
        self.user: User | None = None
        self.session_token: str | None = None

    def set_default_headers(self) -> None:
        self.set_header("Content-Security-Policy", CSP)
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("X-Frame-Options", "DENY")
        self.set_header("Referrer-Policy", "same-origin")
        self.set_header("Cache-Control", "no-store")

    def get_template_path(self) -> str:
        return TEMPLATES

    def static_url(self, path: str, include_host: bool | None = None, **kwargs: Any) -> str:
        return static_url(path)

    @property
    def is_htmx(self) -> bool:
        return self.request.headers.get("HX-Request") == "true"

    async def prepare(self) -> None:
        if self.request.method not in ("GET", "HEAD", "OPTIONS"):
            limit = self.ctx.config.api.max_body_bytes
            if len(self.request.body) > limit:
                raise tornado.web.HTTPError(413, log_message=f"the form is larger than {limit} bytes")
            self.check_xsrf_cookie()  # the _xsrf field of a form, or htmx's X-XSRFToken header
        self.user = await self.session_user()
        if self.user is None and self.requires_login:
            self.to_login()

    async def session_user(self) -> User | None:
        lifetime_days = self.ctx.config.security.token_lifetime_days
        raw = self.get_signed_cookie(SESSION_COOKIE, max_age_days=lifetime_days)
        if raw is None:
            return None
        self.session_token = raw.decode()
        return await self.ctx.accounts.authenticate(self.session_token)

    def start_session(self, token: str) -> None:
        self.set_signed_cookie(
            SESSION_COOKIE,
            token,
            expires_days=None,  # a browser session's cookie; the token's own expiry still applies
            httponly=True,
            samesite="Lax",
            secure=secure_cookies(self.ctx.config) or self.request.protocol == "https",
            path=COOKIE_PATH,
        )

    def end_session(self) -> None:
        self.clear_cookie(SESSION_COOKIE, path=COOKIE_PATH)

    def to_login(self) -> None:
        """Send a caller without a session to the login page (htmx follows HX-Redirect)."""
        here = self.request.uri if self.request.method == "GET" and not self.is_htmx else "/ui/"
        target = "/ui/login?" + urlencode({"next": safe_next(here)})
        if self.is_htmx:
            self.set_header("HX-Redirect", target)
            self.finish()
        else:
            self.redirect(target, status=303)

    @property
    def current_user_required(self) -> User:
        assert self.user is not None  # prepare() let only logged-in callers through
        return self.user

    async def actor(self) -> Actor:
        """The signed-in user, the address the request came from and the session's token id (for the audit log)."""
        return await self.ctx.audit.actor(self.current_user_required, self.request.remote_ip, self.session_token)

    # Flash messages: one line shown on the next page, after a form post redirects.

    def flash(self, message: str) -> None:
        self.set_signed_cookie(
            FLASH_COOKIE, message, expires_days=None, httponly=True, samesite="Lax", path=COOKIE_PATH
        )

    def take_flash(self) -> str:
        raw = self.get_signed_cookie(FLASH_COOKIE, max_age_days=1)
        if raw is None:
            return ""
        self.clear_cookie(FLASH_COOKIE, path=COOKIE_PATH)
        return raw.decode("utf-8", "replace")

    def get_template_namespace(self) -> dict[str, Any]:
        namespace = super().get_template_namespace()
        namespace.update(
            user=self.user,
            refresh_ms=REFRESH_MS,
            quote=lambda value: quote(value, safe=""),
            urlencode=urlencode,
            # One hidden _xsrf field, made once per page: a list of 100 jobs has 300 forms.
            xsrf_input=self.xsrf_form_html(),
            xsrf_token=self.xsrf_token.decode(),
        )
        return namespace

    def render_page(self, template: str, status: int = 200, **values: Any) -> None:
        self.set_status(status)
        values.setdefault("flash", self.take_flash())
        self.render(template, **values)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """An error page of our own: what went wrong in a sentence, never a traceback."""
        exc = kwargs["exc_info"][1] if "exc_info" in kwargs else None
        if isinstance(exc, VeggiecronError):
            status_code, message = exc.status_code, exc.description
        elif (
            isinstance(exc, tornado.web.HTTPError) and status_code == 403 and "xsrf" in (exc.log_message or "").lower()
        ):
            message = "This form has expired or did not come from this dashboard. Reload the page and try again."
        elif isinstance(exc, tornado.web.HTTPError) and exc.log_message and status_code < 500:
            message = exc.log_message
        elif status_code >= 500:
            message = "Something went wrong on the server; the event is logged there."
        else:
            message = self._reason
        self.set_status(status_code)
        self.clear_header("HX-Redirect")
        if self.is_htmx:
            # The message replaces the page's message area instead of the part the request aimed at.
            self.set_header("HX-Retarget", "#flash")
            self.set_header("HX-Reswap", "innerHTML")
            self.finish(tornado.escape.xhtml_escape(message))
            return
        try:
            self.render("error.html", status=status_code, message=message, flash="")
        except Exception:  # a page that cannot be drawn still says what happened, without a traceback
            logger.exception("the error page failed")
            self.clear_header("Content-Type")
            self.set_header("Content-Type", "text/plain; charset=UTF-8")
            self.finish(f"{status_code}: {message}\n")

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        if isinstance(value, VeggiecronError) and value.status_code < 500:
            logger.debug("%s %s -> %d %s", self.request.method, self.request.path, value.status_code, value.description)
        else:
            super().log_exception(typ, value, tb)


class StaticHandler(StaticFileHandler):
    """The dashboard's stylesheet and scripts: versioned URLs are cached for long."""

    def set_default_headers(self) -> None:
        self.set_header("X-Content-Type-Options", "nosniff")


class IndexRedirect(tornado.web.RequestHandler):
    def get(self) -> None:
        self.redirect("/ui/", permanent=True)
