"""Creating and changing a job in a form, with a live preview of its next five runs.

The form's fields become the native API's fields and go through the same JobService; its
validation errors are shown beside the field they name, and a refused form changes nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from ..errors import Conflict, Invalid, VeggiecronError
from ..job_fields import tags_from_text
from ..jobtypes.base import JobType
from ..jobtypes.registry import DEFAULT_TYPE
from ..model import Job
from .base import UiHandler
from .views import field_text
from .words import follower_words, local_time, relative

PREVIEW_RUNS = 5
# The API's error field -> the form field it is shown beside; the type's own fields are added by
# name (data.<field>), other data.* fields go to "options".
FORM_FIELDS = {
    "name": "name",
    "schedule": "schedule",
    "timezone": "timezone",
    "tags": "tags",
    "enabled": "enabled",
    "skip_calendars": "skip_calendars",
}


@dataclass
class JobForm:
    """What the form shows: the values as typed, and an error per field ("form" for the whole form).

    The job type's own fields (JobType.form_fields: an http job's URL and method) each have an input
    of their own in `values`; the rest of the job's data is edited as a JSON object of options.
    """

    job_type: JobType
    name: str = ""
    values: dict[str, str] = field(default_factory=dict)
    schedule: str = "every 5 minutes"
    timezone: str = "UTC"
    tags: str = ""
    enabled: bool = True
    options: str = ""  # the rest of the job's data, as a JSON object
    skip_calendars: str = ""  # calendars' names, separated as tags are
    errors: dict[str, str] = field(default_factory=dict)

    @classmethod
    def blank(cls, job_type: JobType) -> JobForm:
        return cls(job_type, values={f.name: f.default for f in job_type.form_fields})

    @classmethod
    def of(cls, job: Job, job_type: JobType) -> JobForm:
        data = dict(job.data)
        values = {f.name: field_text(data.pop(f.name, f.default), f) for f in job_type.form_fields}
        options = json.dumps(data, indent=2) if data else ""
        skip = ", ".join(job.policy.get("skip_calendars") or [])
        return cls(
            job_type, job.name, values, job.schedule, job.timezone, ", ".join(job.tags), job.enabled, options, skip
        )

    def fields(self, creating: bool) -> dict[str, Any]:
        """The native API's fields; Invalid("options") when the options are not a JSON object."""
        options: Any = {}
        if self.options.strip():
            try:
                options = json.loads(self.options)
            except ValueError as exc:
                raise Invalid("options", f"options must be a JSON object: {exc}") from None
            if not isinstance(options, dict):
                raise Invalid("options", 'options must be a JSON object, such as {"timeout": 10}')
        typed = {f.name: self.values.get(f.name, "").strip() for f in self.job_type.form_fields}
        data = {**options, **{name: value for name, value in typed.items() if value}}
        fields: dict[str, Any] = {
            "data": data,
            "schedule": self.schedule,
            "timezone": self.timezone.strip() or "UTC",
            "enabled": self.enabled,
            "tags": tags_from_text(self.tags),
            "skip_calendars": tags_from_text(self.skip_calendars) or None,  # none: the field is removed
        }
        if creating:
            fields.update(name=self.name.strip(), type=self.job_type.name)
        return fields

    def fail(self, exc: VeggiecronError) -> None:
        api_field = exc.data.get("field", "")
        own = {f"data.{f.name}": f.name for f in self.job_type.form_fields}
        if isinstance(exc, Invalid | Conflict) and api_field:
            where = (
                FORM_FIELDS.get(api_field)
                or own.get(api_field)
                or ("options" if api_field.startswith("data") else "form")
            )
        else:
            where = "form"
        where = "options" if api_field == "options" else where
        self.errors[where] = exc.description


class JobFormPage(UiHandler):
    """GET/POST /ui/new and /ui/jobs/<name>/edit."""

    async def get(self, name: str | None = None) -> None:
        if name is None:
            job_type = self.ctx.jobs.types.get(self.get_query_argument("type", DEFAULT_TYPE))
            form, times = JobForm.blank(job_type), self._preview("every 5 minutes", "UTC")
        else:
            job = await self._editable(name)
            form = JobForm.of(self.ctx.jobs.shown(job), self.ctx.jobs.types.get(job.type))
            now = self.ctx.clock.now()
            times = ([(local_time(t, job.timezone), relative(t, now)) for t in self.ctx.jobs.upcoming(job, 5)], "")
        await self._show(form, name, times)

    async def post(self, name: str | None = None) -> None:
        if name is None:
            job_type = self.ctx.jobs.types.get(self.get_body_argument("type", DEFAULT_TYPE))
        else:
            job_type = self.ctx.jobs.types.get((await self.ctx.jobs.get(self.current_user_required, name)).type)
        form = JobForm(
            job_type,
            name=self.get_body_argument("name", name or ""),
            values={f.name: self.get_body_argument(f.name, f.default) for f in job_type.form_fields},
            schedule=self.get_body_argument("schedule", ""),
            timezone=self.get_body_argument("timezone", "UTC"),
            tags=self.get_body_argument("tags", ""),
            enabled=self.get_body_argument("enabled", "") == "on",
            options=self.get_body_argument("options", ""),
            skip_calendars=self.get_body_argument("skip_calendars", ""),
        )
        user = self.current_user_required
        try:
            if name is None:
                job = await self.ctx.jobs.create(user, form.fields(creating=True), await self.actor())
                message = f"Job {job.name} created."
            else:
                await self._editable(name)
                job = await self.ctx.jobs.update(user, name, form.fields(creating=False), await self.actor())
                message = f"Job {job.name} saved."
        except (Invalid, Conflict) as exc:
            form.fail(exc)
        except VeggiecronError as exc:
            if exc.status_code not in (403, 503):
                raise
            form.fail(exc)  # a quota, or a database that cannot write now: said above the form
        if form.errors:
            preview = self._preview(form.schedule, form.timezone, form.skip_calendars)
            await self._show(form, name, preview, status=400)
            return
        self.flash(message)
        self.redirect("/ui/jobs/" + quote(job.name, safe=""), status=303)

    async def _editable(self, name: str) -> Job:
        job = await self.ctx.jobs.get(self.current_user_required, name)
        uuids = await self.ctx.seed.schedule_ids([job.id])
        if job.id in uuids:
            raise Conflict(
                f"Job {job.name} is a Seed Scheduler schedule: change it through that API "
                f"(PATCH /api/v1/schedule/{uuids[job.id]}/), so its Seed fields stay in step."
            )
        return job

    def _preview(self, schedule: str, zone: str, skip: str = "") -> tuple[list[tuple[str, str]], str]:
        return preview_runs(self, schedule, zone, skip)

    async def _show(
        self, form: JobForm, name: str | None, preview: tuple[list[tuple[str, str]], str], status: int = 200
    ) -> None:
        calendars = [c.ref for c in await self.ctx.calendars.visible(self.current_user_required)]
        action = "/ui/new" if name is None else "/ui/jobs/" + quote(name, safe="") + "/edit"
        times, preview_error = preview
        self.render_page(
            "job_form.html",
            status,
            form=form,
            creating=name is None,
            action=action,
            times=times,
            preview_error=preview_error,
            follows=follower_words(form.schedule, form.timezone or "UTC"),
            calendars=calendars,
            cancel="/ui/" if name is None else "/ui/jobs/" + quote(name, safe=""),
        )


def preview_runs(handler: UiHandler, schedule: str, zone: str, skip: str = "") -> tuple[list[tuple[str, str]], str]:
    """The next runs of a schedule being typed, in its zone, off its calendars' days, or what is wrong."""
    try:
        user_id = handler.current_user_required.id
        at = handler.ctx.jobs.preview_schedule(
            schedule, zone.strip() or "UTC", PREVIEW_RUNS, user_id, tuple(tags_from_text(skip))
        )
    except Invalid as exc:
        return [], exc.description
    now = handler.ctx.clock.now()
    name = zone.strip() or "UTC"
    return [(local_time(t, name), relative(t, now)) for t in at], ""


class PreviewPartial(UiHandler):
    """GET /ui/preview?schedule=&timezone=: the form's preview, fetched by htmx as the schedule is typed."""

    def get(self) -> None:
        schedule, zone = self.get_query_argument("schedule", ""), self.get_query_argument("timezone", "UTC")
        times, error = preview_runs(self, schedule, zone, self.get_query_argument("skip_calendars", ""))
        self.render("preview.html", times=times, preview_error=error, follows=follower_words(schedule, zone or "UTC"))
