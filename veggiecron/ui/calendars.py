"""The calendars page: the user's calendars and the shared ones, with what each holds and which
of the user's jobs skip its days."""

from __future__ import annotations

from ..calendars import Calendar
from .base import UiHandler
from .words import iso, local_time

SHOWN_DATES = 6


def holds(calendar: Calendar) -> str:
    """What a calendar holds, in a few words."""
    spec = calendar.spec
    if spec.market is not None:
        return f"Days the {spec.market} market is closed"
    if spec.country is not None:
        return f"Public holidays of {spec.country}" + (f"-{spec.subdivision}" if spec.subdivision else "")
    parts = [a.isoformat() if a == b else f"{a.isoformat()} to {b.isoformat()}" for a, b in spec.ranges]
    more = len(parts) - SHOWN_DATES
    return ", ".join(parts[:SHOWN_DATES]) + (f" and {more} more" if more > 0 else "")


class CalendarsPage(UiHandler):
    """GET /ui/calendars."""

    async def get(self) -> None:
        user = self.current_user_required
        calendars = await self.ctx.calendars.visible(user)
        rows = []
        for calendar in calendars:
            jobs = await self.ctx.calendars.jobs_of(user, calendar)
            rows.append(
                {
                    "name": calendar.ref,
                    "shared": calendar.shared,
                    "holds": holds(calendar),
                    "jobs": jobs,
                    "updated": local_time(calendar.date_updated, "UTC"),
                    "updated_iso": iso(calendar.date_updated),
                }
            )
        self.render_page("calendars.html", calendars=rows)
