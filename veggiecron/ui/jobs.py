"""The job list (/ui/) and the actions on a job: run now, pause, resume, delete.

Every action is a form post that works without JavaScript (it redirects back with a message);
sent by htmx, it answers only the part that changed: the job's row, or its page's summary.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

from ..errors import Invalid
from ..job_fields import job_filter
from ..json_numbers import digits
from ..model import Job, JobFilter, JobState
from .base import UiHandler, safe_next
from .views import CHART_RUNS, job_row, page_links


class JobListPage(UiHandler):
    """GET /ui/: the user's jobs, filtered like GET /job; ?rows=1 from htmx answers the rows alone (live refresh)."""

    async def get(self) -> None:
        user = self.current_user_required
        query = {
            "q": self.get_query_argument("q", ""),
            "state": self.get_query_argument("state", ""),
            "tag": self.get_query_argument("tag", ""),
            "failing": "true" if self.get_query_argument("failing", "") in ("true", "1", "on") else "",
        }
        error: Invalid | None = None
        page_size = self.ctx.config.api.default_page_size  # the API's: a page costs what a read of it does
        try:
            where = job_filter([query["tag"]] if query["tag"] else [], query["q"], query["state"], query["failing"])
            limit = self._int("limit", page_size, 1, self.ctx.config.api.max_page_size)
            offset = self._int("offset", 0, 0, 2**31)
        except Invalid as exc:
            error, where, limit, offset = exc, JobFilter(), page_size, 0
        if error is not None:
            jobs: list[Job] = []
            count = 0
        else:
            jobs, count = await self.ctx.jobs.list_jobs(user, limit, offset, where)
        now = self.ctx.clock.now()
        recent = await self.ctx.jobs.recent_runs_of(jobs, CHART_RUNS)
        seeds = await self.ctx.seed.schedule_ids([job.id for job in jobs]) if jobs else {}
        rows = [job_row(job, recent.get(job.id, []), seeds.get(job.id), now) for job in jobs]
        failing = await self.ctx.jobs.count_failing(user)
        shown = {k: v for k, v in query.items() if v}
        if offset:
            shown["offset"] = str(offset)
        if limit != page_size:
            shown["limit"] = str(limit)
        here = "/ui/" + ("?" + urlencode(shown) if shown else "")
        values: dict[str, Any] = {
            "rows": rows,
            "failing": failing,
            "title": f"({failing} failing) Jobs – veggiecron" if failing else "Jobs – veggiecron",
            "oob": False,
            "message": "",
            "here": here,
            "refresh_url": "/ui/?" + urlencode({**shown, "rows": "1"}),
        }
        if self.is_htmx and self.get_query_argument("rows", None):
            self.render("job_rows.html", **values)
            return
        self.render_page(
            "jobs.html",
            400 if error else 200,
            **values,
            query=query,
            error=error,
            states=[s.value for s in JobState],
            pages=page_links(count, limit, offset),
            limit=limit,
            filtered=bool(where),
        )

    def _int(self, name: str, default: int, low: int, high: int) -> int:
        raw = self.get_query_argument(name, "")
        if not raw:
            return default
        if not digits(raw) or not low <= int(raw) <= high:
            raise Invalid(name, f"{name} must be a whole number from {low} to {high}")
        return int(raw)


class JobAction(UiHandler):
    """A form post on one job. The form says where it was (`from`: list or job) so the answer fits there."""

    async def act(self, name: str) -> str:
        """Do it; answer the message shown."""
        raise NotImplementedError

    async def post(self, name: str) -> None:
        message = await self.act(name)
        origin = self.get_body_argument("from", "list")
        if not self.is_htmx:
            self.flash(message)
            default = "/ui/" if origin == "list" else "/ui/jobs/" + quote(name, safe="")
            self.redirect(safe_next(self.get_body_argument("next", None), default), status=303)
            return
        await self.answer_in_place(name, origin, message)

    async def answer_in_place(self, name: str, origin: str, message: str) -> None:
        user = self.current_user_required
        job = await self.ctx.jobs.get(user, name)
        recent = await self.ctx.jobs.recent_runs_of([job], CHART_RUNS)
        seed = (await self.ctx.seed.schedule_ids([job.id])).get(job.id)
        row = job_row(job, recent.get(job.id, []), seed, self.ctx.clock.now())
        template = "job_row_answer.html" if origin == "list" else "job_summary.html"
        here = safe_next(self.get_body_argument("next", None))
        self.render(template, row=row, message=message, here=here, oob=True)


class RunAction(JobAction):
    async def act(self, name: str) -> str:
        job, _due = await self.ctx.jobs.run_now(self.current_user_required, name, await self.actor())
        return f"Job {job.name} started; its run shows in the history when it ends."


class PauseAction(JobAction):
    async def act(self, name: str) -> str:
        job = await self.ctx.jobs.update(self.current_user_required, name, {"enabled": False}, await self.actor())
        return f"Job {job.name} paused: it does not run until resumed."


class ResumeAction(JobAction):
    async def act(self, name: str) -> str:
        job = await self.ctx.jobs.update(self.current_user_required, name, {"enabled": True}, await self.actor())
        return f"Job {job.name} resumed."


class DeleteAction(UiHandler):
    """GET asks for confirmation (the no-script path); POST deletes. From htmx, the row goes away in place."""

    async def get(self, name: str) -> None:
        job = await self.ctx.jobs.get(self.current_user_required, name)
        self.render_page("confirm_delete.html", name=job.name, href="/ui/jobs/" + quote(job.name, safe=""))

    async def post(self, name: str) -> None:
        job = await self.ctx.jobs.delete(self.current_user_required, name, await self.actor())
        message = f"Job {job.name} deleted."
        if self.is_htmx and self.get_body_argument("from", "list") == "list":
            self.render("deleted_row.html", message=message)
            return
        self.flash(message)
        if self.is_htmx:
            self.set_header("HX-Redirect", "/ui/")
            self.finish()
            return
        self.redirect("/ui/", status=303)
