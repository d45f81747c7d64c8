"""A job's page: its summary and actions, settings, next five runs and run history."""

from __future__ import annotations

from urllib.parse import urlencode

from ..json_numbers import digits
from ..model import RunOutcome
from .base import UiHandler
from .views import OUTCOMES, job_row, page_links, run_view, settings_view
from .words import follower_words, local_time, relative

HISTORY_PAGE = 20
CHART_RUNS = 60


class JobPage(UiHandler):
    """GET /ui/jobs/<name>; ?live=1 from htmx answers the summary and the history alone (live refresh)."""

    async def get(self, name: str) -> None:
        user = self.current_user_required
        outcome_text = self.get_query_argument("outcome", "")
        offset_text = self.get_query_argument("offset", "0")
        error = ""
        outcome = None
        if outcome_text:
            if outcome_text not in OUTCOMES:
                error = f"Choose one of: {', '.join(OUTCOMES)}."
            else:
                outcome = RunOutcome(outcome_text)
        offset = int(offset_text) if digits(offset_text) and len(offset_text) < 10 else 0
        job = await self.ctx.jobs.get(user, name)
        _job, runs, count = await self.ctx.jobs.runs(user, name, HISTORY_PAGE, offset, outcome)
        recent = (await self.ctx.jobs.recent_runs_of([job], CHART_RUNS)).get(job.id, [])
        seed = (await self.ctx.seed.schedule_ids([job.id])).get(job.id)
        now = self.ctx.clock.now()
        row = job_row(job, recent, seed, now, chart_size=(600, 80))
        query = {}
        if outcome is not None:
            query["outcome"] = outcome.value
        if offset:
            query["offset"] = str(offset)
        here = row.href + ("?" + urlencode(query) if query else "")
        values = {
            "row": row,
            "here": here,
            "runs": [run_view(r, job.timezone, now) for r in runs],
            "pages": page_links(count, HISTORY_PAGE, offset),
            "outcome": outcome_text if not error else "",
            "outcomes": OUTCOMES,
            "outcome_error": error,
            "refresh_url": row.href + "?" + urlencode({**query, "live": "1"}),
            "message": "",
            "oob": False,
        }
        if self.is_htmx and self.get_query_argument("live", None):
            self.render("job_live.html", **values)
            return
        times = self.ctx.jobs.upcoming(job, 5)
        upcoming = [(local_time(at, job.timezone), relative(at, now)) for at in times]
        # The slots its calendars take away, up to the last of those runs (or a year on).
        until = times[-1] if len(times) == 5 else now + 366 * 86400
        skipped = [
            (local_time(at, job.timezone), ", ".join(names))
            for at, names in self.ctx.jobs.skipped_upcoming(job, until, 5)
        ]
        parent, followers = await self.ctx.jobs.chain_rules.links(job)
        self.render_page(
            "job.html",
            400 if error else 200,
            **values,
            settings=settings_view(self.ctx.jobs.shown(job), self.ctx.jobs.types.get(job.type)),
            upcoming=upcoming,
            skipped=skipped,
            follows=follower_words(job.schedule, job.timezone),
            parent=parent,
            followers=followers,
            edit_href=row.href + "/edit",
        )
