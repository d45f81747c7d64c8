"""The native API's calendars: GET/POST /calendars and GET/PUT/DELETE /calendars/<name>."""

from __future__ import annotations

from typing import Any

from ..calendars import Calendar
from ..times import with_utc
from .base import BaseHandler


def calendar_view(calendar: Calendar) -> dict[str, Any]:
    """A calendar as the API shows it: `name` is how jobs name it (`shared:<name>` when shared)."""
    return with_utc(
        {
            "name": calendar.ref,
            "shared": calendar.shared,
            **calendar.spec.to_json(),
            "date_created": calendar.date_created,
            "date_updated": calendar.date_updated,
        },
        "date_created",
        "date_updated",
    )


class CalendarsHandler(BaseHandler):
    """GET /calendars lists the caller's calendars and the shared ones; POST creates one."""

    async def get(self) -> None:
        calendars = await self.ctx.calendars.visible(self.current_user_required)
        self.answer(
            f"{len(calendars)} calendars",
            {"count": len(calendars), "calendars": [calendar_view(c) for c in calendars]},
        )

    async def post(self) -> None:
        calendar = await self.ctx.calendars.create(self.current_user_required, self.body_fields())
        self.answer(f'Created calendar "{calendar.ref}"', calendar_view(calendar), status=201)


class CalendarHandler(BaseHandler):
    """GET, PUT and DELETE /calendars/<name> (a shared one is `shared:<name>`)."""

    async def get(self, name: str) -> None:
        calendar = await self.ctx.calendars.get(self.current_user_required, name)
        self.answer(f'Calendar "{calendar.ref}"', calendar_view(calendar))

    async def put(self, name: str) -> None:
        calendar = await self.ctx.calendars.update(self.current_user_required, name, self.body_fields())
        self.answer(
            f'Updated calendar "{calendar.ref}"; the jobs that skip it are rescheduled', calendar_view(calendar)
        )

    async def delete(self, name: str) -> None:
        calendar = await self.ctx.calendars.delete(self.current_user_required, name)
        self.answer(f'Deleted calendar "{calendar.ref}"', {"name": calendar.ref})
