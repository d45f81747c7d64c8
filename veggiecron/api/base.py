"""BaseHandler: bounded body reading, parsing, authentication and the response envelope.

Every error, ours or tornado's, leaves through write_error as
{"id": "error", "description": "...", "data": {...}}; a client never sees a traceback.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import orjson
import tornado.web
from tornado.httputil import HTTPInputError, parse_body_arguments

from ..audit_trail import AuditTrail
from ..auth import Accounts, token_from_headers
from ..calendar_service import CalendarService
from ..clock import Clock
from ..config import Config
from ..errors import Invalid, PayloadTooLarge, TooManyRequests, Unauthorized, VeggiecronError
from ..health import Health
from ..jobs import JobService
from ..json_numbers import digits
from ..metrics import Metrics
from ..model import User
from ..oidc import OidcIssuer
from ..seed import SeedService
from ..signing_service import SigningService
from .forms import nest_fields

logger = logging.getLogger(__name__)

TOKEN_REQUIRED = (
    "a valid token is required: send it as X-Auth-Token: <token>, Authorization: Token <token> "
    "or Authorization: Bearer <token> (log in at POST /login)"
)


@dataclass
class Context:
    """What handlers may reach, handed to each through initialize(): services, never the store."""

    config: Config
    jobs: JobService
    accounts: Accounts
    seed: SeedService
    health: Health
    metrics: Metrics
    clock: Clock
    calendars: CalendarService
    audit: AuditTrail
    signing: SigningService
    oidc: OidcIssuer


@tornado.web.stream_request_body
class BaseHandler(tornado.web.RequestHandler):
    """Reads the body in chunks so an oversized one is refused without being held in memory."""

    requires_auth = True
    auth_challenge = 'Token realm="veggiecron"'  # the WWW-Authenticate header of a 401
    ctx: Context

    def initialize(self, ctx: Context) -> None:
        self.ctx = ctx
        self.user: User | None = None
        self._chunks: list[bytes] = []
        self._received = 0
        self._too_large = False
        self._fields: dict[str, Any] | None = None
        self.body_was_form = False  # set by body_fields(): form values are text
        # Until prepare() returns, the body is unread: an error answered then closes the connection.
        self._preparing = True

    def set_default_headers(self) -> None:
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        self.set_header("Cache-Control", "no-store")
        self.set_header("X-Content-Type-Options", "nosniff")

    async def prepare(self) -> None:
        limit = self.ctx.config.api.max_body_bytes
        length = self.request.headers.get("Content-Length")
        if length is not None and digits(length) and int(length) > limit:
            raise PayloadTooLarge(f"request body is larger than {limit} bytes", {"limit": limit})
        if self.requires_auth:
            self.user = await self.authenticate()
            await self.authorize(self.user)
        self._preparing = False

    async def authorize(self, user: User) -> None:
        """Refuse an authenticated caller that may not use this endpoint (raise Forbidden)."""

    async def authenticate(self) -> User:
        """The caller, from a token in X-Auth-Token or Authorization (Token or Bearer)."""
        token = token_from_headers(self.request.headers.get("X-Auth-Token"), self.request.headers.get("Authorization"))
        user = await self.ctx.accounts.authenticate(token)
        if user is None:
            raise Unauthorized(TOKEN_REQUIRED)
        return user

    def on_finish(self) -> None:
        self.ctx.metrics.observe_request(self.get_status())

    def data_received(self, chunk: bytes) -> None:
        self._received += len(chunk)
        if self._received > self.ctx.config.api.max_body_bytes:
            self._too_large = True
            self._chunks = []
        elif not self._too_large:
            self._chunks.append(chunk)

    @property
    def current_user_required(self) -> User:
        if self.user is None:
            raise Unauthorized("a valid token is required")
        return self.user

    def body_fields(self) -> dict[str, Any]:
        """The request body as a dict, from JSON or from a form (urlencoded or multipart)."""
        if self._fields is not None:
            return self._fields
        limit = self.ctx.config.api.max_body_bytes
        if self._too_large:
            raise PayloadTooLarge(f"request body is larger than {limit} bytes", {"limit": limit})
        body = b"".join(self._chunks)
        content_type = self.request.headers.get("Content-Type", "")
        is_form = content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data"))
        if content_type.startswith("application/x-www-form-urlencoded") and body.lstrip()[:1] == b"{":
            # `curl -d '{"username": ...}'` labels a JSON body as a form. No field name starts
            # with "{", so such a body is read as the JSON it is.
            is_form = False
        fields: dict[str, Any]
        if not body.strip():
            fields = {}
        elif is_form:
            arguments: dict[str, list[bytes]] = {}
            try:
                parse_body_arguments(content_type, body, arguments, {})
            except HTTPInputError as exc:
                raise Invalid("body", f"malformed form body: {exc}") from None
            texts: dict[str, list[str]] = {}
            for key, values in arguments.items():
                try:
                    texts[key] = [value.decode("utf-8") for value in values]
                except UnicodeDecodeError:
                    raise Invalid(key, f"field {key!r} is not valid UTF-8") from None
            # data[url]=...: objects as OpenAPI clients write them in a form (see api/forms.py).
            fields = nest_fields(texts)
        else:
            try:
                parsed = orjson.loads(body)
            except orjson.JSONDecodeError as exc:
                raise Invalid("body", f"request body is not valid JSON: {exc}") from None
            if not isinstance(parsed, dict):
                raise Invalid("body", "request body must be a JSON object")
            fields = parsed
        self._fields = fields
        self.body_was_form = is_form and bool(fields)
        return fields

    def query_int(self, name: str, default: int, low: int, high: int) -> int:
        raw = self.get_query_argument(name, None)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:
            raise Invalid(name, f"{name} must be an integer") from None
        if not low <= value <= high:
            raise Invalid(name, f"{name} must be between {low} and {high}")
        return value

    def page(self) -> tuple[int, int]:
        api = self.ctx.config.api
        return (
            self.query_int("limit", api.default_page_size, 1, api.max_page_size),
            self.query_int("offset", 0, 0, 2**31),
        )

    def compute_etag(self) -> None:
        # Answers are no-store and change with every run: a hash of each body would buy nothing.
        return None

    def answer(self, description: str, data: Any = None, status: int = 200) -> None:
        self.set_status(status)
        self.finish(
            orjson.dumps({"id": "success", "description": description, "data": data if data is not None else {}})
        )

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs["exc_info"][1] if "exc_info" in kwargs else None
        data: dict[str, Any] = {}
        if isinstance(exc, VeggiecronError):
            status_code = exc.status_code
            description, data = exc.description, exc.data
        elif isinstance(exc, tornado.web.HTTPError):
            description = exc.log_message if exc.log_message and status_code < 500 else self._reason
        elif status_code >= 500:
            description = "internal server error; the event is logged on the server"
        else:
            description = self._reason
        self.set_status(status_code)
        self.error_headers(exc, status_code)
        self.finish(orjson.dumps({"id": "error", "description": description, "data": data}))

    def error_headers(self, exc: BaseException | None, status_code: int) -> None:
        """The headers an error answer owes the client, in both APIs."""
        if status_code == 405:
            self.set_header("Allow", self.allowed_methods())
        if status_code == 401:
            self.set_header("WWW-Authenticate", self.auth_challenge)
        if isinstance(exc, TooManyRequests):
            self.set_header("Retry-After", str(exc.retry_after))
        self.close_if_body_unread()

    def allowed_methods(self) -> str:
        """The methods this handler answers, for the Allow header of a 405."""
        own = [
            m
            for m in ("GET", "POST", "PUT", "PATCH", "DELETE")
            if getattr(type(self), m.lower()) is not getattr(tornado.web.RequestHandler, m.lower())
        ]
        return ", ".join(own)

    def close_if_body_unread(self) -> None:
        """Tornado drops the connection when a streaming request ends in prepare(); say so."""
        if self._preparing:
            self.set_header("Connection", "close")

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        # Domain errors are answers, not faults: log them at debug without a traceback.
        if isinstance(value, VeggiecronError) and value.status_code < 500:
            logger.debug("%s %s -> %d %s", self.request.method, self.request.path, value.status_code, value.description)
        else:
            super().log_exception(typ, value, tb)


class NotFoundHandler(BaseHandler):
    requires_auth = False

    async def prepare(self) -> None:
        raise tornado.web.HTTPError(404, reason="Not Found", log_message=f"no such endpoint: {self.request.path}")
