"""The native veggiecron API: /register, /login, /logout and /job."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import orjson

from ..audit import Actor
from ..auth import token_from_headers
from ..config import Config
from ..errors import Forbidden, Invalid, NotFound, Unauthorized
from ..job_fields import CREATE_FIELDS, job_filter, tags_from_text
from ..jobtypes.base import JobType
from ..jobtypes.registry import DEFAULT_TYPE, JobTypes
from ..json_numbers import digits
from ..model import Job, idempotency_key
from ..times import in_zone, with_utc
from .audit import actor_of
from .base import BaseHandler
from .forms import typed_by_schema
from .openapi.request_schemas import job_form_schema
from .views import job_view, run_view, token_view, user_view


def _job_fields(
    fields: dict[str, Any], form: bool, config: Config, job_types: JobTypes, job_type: JobType | None
) -> dict[str, Any]:
    """Form posts carry text: each value is read as the document's form schema types it (epoch
    seconds as a number, "true" as a boolean), `data` as JSON text or as bracketed fields
    (data[url]=...) typed by its job type's data schema, `tags` as text separated by spaces or
    commas. JSON bodies may send `data` as an object or as that JSON text."""
    if form and job_type is not None:
        schema = job_form_schema(config, job_types, CREATE_FIELDS, ())
        schema["properties"]["data"] = job_type.data_schema()  # its $ref, spelled out
        fields = typed_by_schema(fields, schema)
        if isinstance(fields.get("tags"), str):
            fields = {**fields, "tags": tags_from_text(fields["tags"])}
        if isinstance(fields.get("skip_calendars"), str):  # names separated as tags are
            fields = {**fields, "skip_calendars": tags_from_text(fields["skip_calendars"])}
    if isinstance(fields.get("data"), str):
        try:
            fields = {**fields, "data": orjson.loads(fields["data"])}
        except orjson.JSONDecodeError as exc:
            raise Invalid("data", f"data must be a JSON object: {exc}") from None
    return fields


class RegisterHandler(BaseHandler):
    """POST /register: anyone (security.registration open), an admin's token (admin), or nobody (closed)."""

    requires_auth = False

    async def prepare(self) -> None:
        # Checked before the body is read: a refused request's connection is closed, its body unread.
        mode = self.ctx.config.security.registration
        if mode == "closed":
            raise Forbidden(
                "registration is closed on this server; an admin creates users "
                "(veggiecron create-admin, POST /api/v1/user/token/)",
                {"registration": mode},
            )
        if mode == "admin":
            admin = self.user = await self.authenticate()
            if not admin.is_admin:
                raise Forbidden("only admins may register users on this server", {"registration": mode})
        await super().prepare()

    async def post(self) -> None:
        fields = self.body_fields()
        # An admin registering someone, or the new user (open registration).
        by = None if self.user is None else Actor.of(self.user, self.request.remote_ip)
        user = await self.ctx.accounts.register(
            fields.get("username"), fields.get("password"), by=by, address=self.request.remote_ip
        )
        self.answer(f'You are registered as "{user.username}"! Proceed to login.', user_view(user), status=201)


class LoginHandler(BaseHandler):
    requires_auth = False

    async def post(self) -> None:
        fields = self.body_fields()
        address = self.request.remote_ip or ""
        try:
            user, token, expires_at = await self.ctx.accounts.login(
                fields.get("username"), fields.get("password"), address
            )
        except Unauthorized:
            # Who tried is only a claim: the row names it, and belongs to no account.
            name = fields.get("username")
            claimed = name[:64] if isinstance(name, str) else ""
            await self.ctx.audit.record(Actor(claimed, None, address), "login.failed", f"user:{claimed}")
            raise
        self.answer(
            "You have successfully generated an auth token! Check the data key.",
            with_utc({"token": token, "expires_at": expires_at, "username": user.username}, "expires_at"),
        )


class LogoutHandler(BaseHandler):
    async def post(self) -> None:
        token = token_from_headers(self.request.headers.get("X-Auth-Token"), self.request.headers.get("Authorization"))
        if token:
            actor = await actor_of(self)  # before its token is gone
            await self.ctx.accounts.logout(token, by=actor)
        self.answer("You are logged out; this token no longer works.")


class JobAnswer(BaseHandler):
    async def _answer_job(self, job: Job) -> None:
        """One job with its newest runs."""
        runs = await self.ctx.jobs.recent_runs(job)
        self.answer(f'Job "{job.name}"', {**await self._view(job), "runs": [run_view(r) for r in runs]})

    async def _view(self, job: Job, new: bool = False) -> dict[str, Any]:
        """The job with the name of the job it runs after and of those that run after it (none yet
        for a new job: no store read)."""
        parent, followers = await self.ctx.jobs.chain_rules.links(job, new)
        return {**job_view(self.ctx.jobs.shown(job)), "parent": parent, "followers": followers}


class JobsHandler(JobAnswer):
    """GET /job lists the caller's jobs (filtered by tag, q, state and failing; or one, with ?name=).

    POST /job creates one."""

    async def get(self) -> None:
        user = self.current_user_required
        name = self.get_query_argument("name", None)
        if name is not None:
            await self._answer_job(await self.ctx.jobs.get(user, name))
            return
        limit, offset = self.page()
        # Not stripped: tornado turns control characters into spaces, and "state=%17" must be a
        # 400 like any other state the document does not list, not the empty filter ("state=").
        state = self.get_query_argument("state", None, strip=False)
        where = job_filter(
            self.get_query_arguments("tag"),
            self.get_query_argument("q", None),
            "?" if state and not state.strip() else state,
            self.get_query_argument("failing", None),
        )
        jobs, count = await self.ctx.jobs.list_jobs(user, limit, offset, where)
        self.answer(
            f"{count} jobs",
            {
                "count": count,
                "limit": limit,
                "offset": offset,
                "jobs": [job_view(self.ctx.jobs.shown(j)) for j in jobs],
            },
        )

    async def post(self) -> None:
        fields = self.body_fields()
        job_type = self.ctx.jobs.types.get(fields.get("type", DEFAULT_TYPE)) if self.body_was_form else None
        fields = _job_fields(fields, self.body_was_form, self.ctx.config, self.ctx.jobs.types, job_type)
        job = await self.ctx.jobs.create(self.current_user_required, fields, await actor_of(self))
        self.set_header("Location", f"/job/{job.name}")
        self.answer(f'Successfully created {job.type} job: "{job.name}"', await self._view(job, new=True), status=201)


class JobHandler(JobAnswer):
    """GET, PUT/PATCH and DELETE /job/<name>."""

    async def get(self, name: str) -> None:
        await self._answer_job(await self.ctx.jobs.get(self.current_user_required, name))

    async def patch(self, name: str) -> None:
        fields = self.body_fields()
        job_type = None
        if self.body_was_form:  # its data is typed by the job's own type
            job_type = self.ctx.jobs.types.get((await self.ctx.jobs.get(self.current_user_required, name)).type)
        fields = _job_fields(fields, self.body_was_form, self.ctx.config, self.ctx.jobs.types, job_type)
        job = await self.ctx.jobs.update(self.current_user_required, name, fields, await actor_of(self))
        self.answer(f'Updated job "{job.name}"', await self._view(job))

    put = patch

    async def delete(self, name: str) -> None:
        followers = self.get_query_argument("followers", None, strip=False)
        if followers not in (None, "disable"):
            raise Invalid(
                "followers", "followers must be 'disable' (delete the job and disable the jobs that follow it)"
            )
        user, actor = self.current_user_required, await actor_of(self)
        job = await self.ctx.jobs.delete(user, name, actor, disable_followers=followers == "disable")
        self.answer(f'Deleted job "{job.name}"', {"name": job.name})


class JobRunHandler(BaseHandler):
    """POST /job/<name>/run fires the job now, outside its schedule."""

    async def post(self, name: str) -> None:
        job, due = await self.ctx.jobs.run_now(self.current_user_required, name, await actor_of(self))
        # A run by hand is deliberate: a disabled (or paused) job runs too, and stays disabled.
        note = "" if job.enabled else " (it stays disabled: only this run was asked for)"
        run_id = idempotency_key(job.id, due)
        self.answer(
            f'Job "{job.name}" started{note}; its run shows in GET /job/{job.name}/runs as run_id {run_id}',
            with_utc({"name": job.name, "run_id": run_id, "due_at": due, "enabled": job.enabled}, "due_at"),
            status=202,
        )


class JobRunsHandler(BaseHandler):
    """GET /job/<name>/runs pages through the job's run history, newest first."""

    async def get(self, name: str) -> None:
        limit, offset = self.page()
        job, runs, count = await self.ctx.jobs.runs(self.current_user_required, name, limit, offset)
        self.answer(
            f'{count} runs of job "{job.name}"',
            {"count": count, "limit": limit, "offset": offset, "runs": [run_view(r) for r in runs]},
        )


class JobNextHandler(BaseHandler):
    """GET /job/<name>/next?count=10 previews the next run times, in UTC and in the job's zone."""

    async def get(self, name: str) -> None:
        count = self.query_int("count", 10, 1, 1000)
        job = await self.ctx.jobs.get(self.current_user_required, name)
        zone = ZoneInfo(job.timezone)
        times = self.ctx.jobs.upcoming(job, count)
        # Slots the job's skip_calendars take away, up to the last run previewed (or a year on).
        until = times[-1] if len(times) == count else self.ctx.clock.now() + 366 * 86400
        skipped = [
            {"at": at, "utc": datetime.fromtimestamp(at, UTC).isoformat(), "calendars": list(names)}
            for at, names in self.ctx.jobs.skipped_upcoming(job, until, count)
        ]
        runs = [
            {
                "at": at,
                "utc": datetime.fromtimestamp(at, UTC).isoformat(),
                "local": local.isoformat() if (local := in_zone(at, zone)) is not None else None,
            }
            for at in times
        ]
        self.answer(
            f'Next {len(runs)} runs of job "{job.name}"',
            {"name": job.name, "timezone": job.timezone, "runs": runs, "skipped": skipped},
        )


class TokensHandler(BaseHandler):
    """GET /tokens lists the caller's unexpired tokens (ids and times, never the tokens)."""

    async def get(self) -> None:
        limit, offset = self.page()
        current = token_from_headers(
            self.request.headers.get("X-Auth-Token"), self.request.headers.get("Authorization")
        )
        tokens, count = await self.ctx.accounts.tokens_of(self.current_user_required, current or "", limit, offset)
        views = [token_view(t) for t in tokens]
        self.answer(f"{count} tokens", {"count": count, "limit": limit, "offset": offset, "tokens": views})


class TokenHandler(BaseHandler):
    """DELETE /tokens/<id> revokes one of the caller's tokens."""

    async def delete(self, token_id: str) -> None:
        if not digits(token_id) or len(token_id) > 18:
            raise NotFound(f"you have no token {token_id[:32]!r}")
        actor = await actor_of(self)  # before the revoke: the caller may be revoking its own token
        await self.ctx.accounts.revoke(self.current_user_required, int(token_id), by=actor)
        self.answer(f"Token {token_id} revoked", {"id": int(token_id)})
