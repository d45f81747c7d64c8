"""The Seed Scheduler API (/api/v1/ and friends), answered in Django REST Framework's shapes."""

from __future__ import annotations

import base64
import binascii
from typing import Any
from urllib.parse import urlencode

import orjson
import tornado.web

from ... import __version__
from ...auth import token_from_headers
from ...errors import Forbidden, Invalid, NotFound, Unauthorized, VeggiecronError
from ...json_numbers import digits
from ...model import User
from ...seed.validation import validate_email
from ..audit import actor_of
from ..base import BaseHandler
from .views import failed_task_view, group_view, schedule_view, seed_user_view, webhook_view

NOT_PROVIDED = "Authentication credentials were not provided."


class SeedHandler(BaseHandler):
    """Token or HTTP Basic authentication; DRF error bodies such as {"detail": ...} or {"field": [...]}."""

    requires_admin = False
    auth_challenge = 'Basic realm="api"'

    async def authorize(self, user: User) -> None:
        if self.requires_admin and not user.is_admin:
            raise Forbidden("You do not have permission to perform this action.")

    async def authenticate(self) -> User:
        header = self.request.headers.get("Authorization", "")
        if header.lower().startswith("basic "):
            try:
                decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                raise Unauthorized("Invalid basic header. Credentials not correctly base64 encoded.") from None
            username, _, password = decoded.partition(":")
            user = await self.ctx.accounts.check_password(username, password, self.request.remote_ip or "")
            if user is None:
                raise Unauthorized("Invalid username/password.")
            return user
        token = token_from_headers(self.request.headers.get("X-Auth-Token"), header or None)
        if token is None:
            raise Unauthorized(NOT_PROVIDED)
        user = await self.ctx.accounts.authenticate(token)
        if user is None:
            raise Unauthorized("Invalid token.")
        return user

    @property
    def base(self) -> str:
        # seed.use_ssl (Seed's USE_SSL): https links behind a proxy that ends TLS and forwards plain HTTP.
        scheme = "https" if self.ctx.config.seed.use_ssl else self.request.protocol
        return f"{scheme}://{self.request.host}"

    def reply(self, body: Any, status: int = 200) -> None:
        self.set_status(status)
        self.finish(orjson.dumps(body))

    def paginated(self, results: list[Any], count: int, limit: int, offset: int) -> None:
        """DRF's limit/offset page: count, absolute next and previous links, results."""
        url = f"{self.base}{self.request.path}"
        others = [
            (k, v.decode())
            for k, vs in self.request.query_arguments.items()
            for v in vs
            if k not in ("limit", "offset")
        ]

        def link(at: int) -> str:
            return f"{url}?{urlencode([*others, ('limit', limit), ('offset', at)])}"

        self.reply(
            {
                "count": count,
                "next": link(offset + limit) if offset + limit < count else None,
                "previous": link(max(0, offset - limit)) if offset > 0 else None,
                "results": results,
            }
        )

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs["exc_info"][1] if "exc_info" in kwargs else None
        body: dict[str, Any]
        if isinstance(exc, Invalid) and exc.field not in ("body",):
            status_code, body = 400, {exc.field: [exc.description]}
        elif isinstance(exc, NotFound):
            status_code, body = 404, {"detail": "Not found."}
        elif isinstance(exc, VeggiecronError):
            status_code, body = exc.status_code, {"detail": exc.description}
        elif status_code == 405:
            body = {"detail": f'Method "{self.request.method}" not allowed.'}
        elif status_code == 404:
            body = {"detail": "Not found."}
        elif status_code >= 500:
            body = {"detail": "A server error occurred."}
        else:
            body = {"detail": self._reason}
        self.set_status(status_code)
        self.error_headers(exc, status_code)
        self.finish(orjson.dumps(body))

    def pk(self, value: str) -> int:
        if not digits(value) or len(value) > 18:
            raise NotFound("Not found.")
        return int(value)


class ApiRootHandler(SeedHandler):
    async def get(self) -> None:
        names = ("user", "group", "schedule", "webhook", "failed-tasks")
        self.reply({name: f"{self.base}/api/v1/{name}/" for name in names})


class TokenAuthHandler(SeedHandler):
    """POST /api/token-auth/ with username and password -> {"token": ...}."""

    requires_auth = False

    async def post(self) -> None:
        fields = self.body_fields()
        for name in ("username", "password"):
            if not fields.get(name):
                raise Invalid(name, "This field is required.")
        user = await self.ctx.accounts.check_password(
            fields["username"], fields["password"], self.request.remote_ip or ""
        )
        if user is None:
            raise Invalid("non_field_errors", "Unable to log in with provided credentials.")
        token, _expires = await self.ctx.accounts.issue_token(user, address=self.request.remote_ip)
        self.reply({"token": token})


class UserTokenHandler(SeedHandler):
    """POST /api/v1/user/token/ (admins): a token for the user named by an email, created if missing."""

    requires_admin = True

    async def post(self) -> None:
        email = validate_email(self.body_fields().get("email"))
        admin = await actor_of(self)
        user = await self.ctx.accounts.user_for_email(email, by=admin)
        lifetime = self.ctx.config.security.service_token_lifetime_days * 86400
        token, _expires = await self.ctx.accounts.issue_token(user, lifetime, by=admin)
        self.reply({"token": token}, status=201)


class UsersHandler(SeedHandler):
    async def get(self) -> None:
        limit, offset = self.page()
        users, count = await self.ctx.accounts.visible_users(self.current_user_required, limit, offset)
        self.paginated([seed_user_view(u, groups, self.base) for u, groups in users], count, limit, offset)


class UserHandler(SeedHandler):
    async def get(self, user_id: str) -> None:
        user, groups = await self.ctx.accounts.visible_user(self.current_user_required, self.pk(user_id))
        self.reply(seed_user_view(user, groups, self.base))


class GroupsHandler(SeedHandler):
    async def get(self) -> None:
        limit, offset = self.page()
        groups, count = await self.ctx.accounts.groups(limit, offset)
        self.paginated([group_view(g, self.base) for g in groups], count, limit, offset)


class GroupHandler(SeedHandler):
    async def get(self, group_id: str) -> None:
        self.reply(group_view(await self.ctx.accounts.group(self.pk(group_id)), self.base))


class SchedulesHandler(SeedHandler):
    async def get(self) -> None:
        limit, offset = self.page()
        items, count = await self.ctx.seed.list_schedules(self.current_user_required, limit, offset)
        self.paginated([schedule_view(job, seed, self.base) for job, seed in items], count, limit, offset)

    async def post(self) -> None:
        base = self.base
        job, seed = await self.ctx.seed.create(
            self.current_user_required,
            self.body_fields(),
            lambda job, seed: schedule_view(job, seed, base),
            await actor_of(self),
        )
        view = schedule_view(job, seed, base)
        self.set_header("Location", view["url"])
        self.reply(view, status=201)


class ScheduleHandler(SeedHandler):
    async def get(self, schedule_id: str) -> None:
        job, seed = await self.ctx.seed.get(self.current_user_required, schedule_id)
        self.reply(schedule_view(job, seed, self.base))

    async def put(self, schedule_id: str) -> None:
        await self._update(schedule_id, partial=False)

    async def patch(self, schedule_id: str) -> None:
        await self._update(schedule_id, partial=True)

    async def _update(self, schedule_id: str, partial: bool) -> None:
        job, seed = await self.ctx.seed.update(
            self.current_user_required, schedule_id, self.body_fields(), partial, await actor_of(self)
        )
        self.reply(schedule_view(job, seed, self.base))

    async def delete(self, schedule_id: str) -> None:
        await self.ctx.seed.delete(self.current_user_required, schedule_id, await actor_of(self))
        self.set_status(204)
        self.finish()


class FailedTasksHandler(SeedHandler):
    async def get(self) -> None:
        limit, offset = self.page()
        failures, count = await self.ctx.seed.failures(self.current_user_required, limit, offset)
        uuids = await self.ctx.seed.schedule_ids([f.job_id for f in failures])
        self.paginated([failed_task_view(f, uuids.get(f.job_id), self.base) for f in failures], count, limit, offset)

    async def post(self) -> None:
        """Requeue every failed task: each is delivered once more and removed."""
        await self.ctx.seed.requeue(self.current_user_required)
        self.reply({"requeued_failed_tasks": True}, status=201)


class FailedTaskHandler(SeedHandler):
    async def get(self, failure_id: str) -> None:
        failure = await self.ctx.seed.failure(self.current_user_required, self.pk(failure_id))
        uuids = await self.ctx.seed.schedule_ids([failure.job_id])
        self.reply(failed_task_view(failure, uuids.get(failure.job_id), self.base))


class WebhooksHandler(SeedHandler):
    async def get(self) -> None:
        limit, offset = self.page()
        hooks, count = await self.ctx.seed.webhooks(self.current_user_required, limit, offset)
        self.paginated([webhook_view(h) for h in hooks], count, limit, offset)

    async def post(self) -> None:
        hook = await self.ctx.seed.create_webhook(self.current_user_required, self.body_fields())
        self.reply(webhook_view(hook), status=201)


class WebhookHandler(SeedHandler):
    async def get(self, hook_id: str) -> None:
        self.reply(webhook_view(await self.ctx.seed.webhook(self.current_user_required, self.pk(hook_id))))

    async def put(self, hook_id: str) -> None:
        hook = await self.ctx.seed.update_webhook(
            self.current_user_required, self.pk(hook_id), self.body_fields(), partial=False
        )
        self.reply(webhook_view(hook))

    async def patch(self, hook_id: str) -> None:
        hook = await self.ctx.seed.update_webhook(
            self.current_user_required, self.pk(hook_id), self.body_fields(), partial=True
        )
        self.reply(webhook_view(hook))

    async def delete(self, hook_id: str) -> None:
        await self.ctx.seed.delete_webhook(self.current_user_required, self.pk(hook_id))
        self.set_status(204)
        self.finish()


class SeedHealthHandler(SeedHandler):
    """GET /api/health/: 200 when the database answers and the scheduler loop is alive, else 503."""

    async def get(self) -> None:
        report = await self.ctx.health.probe(count_jobs=False)
        self.reply(
            {
                "up": report.healthy,
                "result": {
                    "database": "Accessible" if report.database else "Inaccessible",
                    "scheduler": "Running" if report.scheduler else "Stopped",
                    "version": __version__,
                },
            },
            status=200 if report.healthy else 503,
        )


class SeedMetricsHandler(SeedHandler):
    """GET lists the metric names (also served as Prometheus text at /metrics); POST is accepted (201)."""

    async def get(self) -> None:
        self.reply({"metrics_available": self.ctx.metrics.names()})

    async def post(self) -> None:
        self.reply({"scheduled_metrics_initiated": True}, status=201)  # Seed Scheduler answers 201


def routes(args: dict[str, Any]) -> list[tuple[str, type[tornado.web.RequestHandler], dict[str, Any]]]:
    """The Seed Scheduler API's routes; a trailing slash is optional."""
    table: list[tuple[str, type[tornado.web.RequestHandler]]] = [
        (r"/api/token-auth/?", TokenAuthHandler),
        (r"/api/health/?", SeedHealthHandler),
        (r"/api/metrics/?", SeedMetricsHandler),
        (r"/api/v1/?", ApiRootHandler),
        (r"/api/v1/user/token/?", UserTokenHandler),
        (r"/api/v1/user/?", UsersHandler),
        (r"/api/v1/user/([^/]+)/?", UserHandler),
        (r"/api/v1/group/?", GroupsHandler),
        (r"/api/v1/group/([^/]+)/?", GroupHandler),
        (r"/api/v1/schedule/?", SchedulesHandler),
        (r"/api/v1/schedule/([^/]+)/?", ScheduleHandler),
        (r"/api/v1/failed-tasks/?", FailedTasksHandler),
        (r"/api/v1/failed-tasks/([^/]+)/?", FailedTaskHandler),
        (r"/api/v1/webhook/?", WebhooksHandler),
        (r"/api/v1/webhook/([^/]+)/?", WebhookHandler),
    ]
    return [(pattern, handler, args) for pattern, handler in table]
