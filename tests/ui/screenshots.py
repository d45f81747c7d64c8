"""The README's screenshots of the dashboard: the job list and a job's page, light and dark.

    python -m tests.ui.screenshots [--out docs]

Starts the server on a temporary database with a few jobs and a made-up run history (written
through the store contract), and has Chromium (/usr/bin/chromium) photograph the pages.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

from tests.ui.browser import CHROMIUM, CHROMIUM_ARGS, LiveServer, log_in
from veggiecron.model import Progress, Run, RunOutcome

JOBS = [
    ("billing-report", "/billing/report", "0 6 * * 1-5", "Europe/London", ["billing", "daily"]),
    ("health-ping", "/health", "every 30 seconds", "UTC", ["ops"]),
    ("search-reindex", "/search/reindex", "every 6 hours", "UTC", ["search"]),
    ("newsletter", "/newsletter/send", "every day @ 09:00", "America/New_York", ["marketing"]),
    ("cache-warmup", "/cache/warm", "*/15 * * * *", "UTC", ["ops"]),
    ("partner-sync", "http://127.0.0.1:9/partner/sync", "every 5 minutes", "UTC", ["partners"]),
]


def seed_history(live: LiveServer) -> str:
    name, api = live.new_user("demo")
    for job_name, path, schedule, zone, tags in JOBS:
        url = path if path.startswith("http") else live.sink.url + path
        live.run(api.create_job(job_name, url, schedule, timezone=zone, tags=tags))
    live.call(api, "PATCH", "/job/newsletter", json={"enabled": False})
    store = live.server.store
    jobs, _ = live.run(store.list_jobs(1, 100, 0))
    now = time.time()
    runs: list[Run] = []
    for index, job in enumerate(jobs):
        for k in range(20):
            due = now - (20 - k) * 300
            failing = job.name == "partner-sync" and k >= 16 or job.name == "search-reindex" and k in (5, 6)
            duration = 40 + 25 * ((k * 7 + index * 3) % 9) + (400 if job.name == "billing-report" and k % 6 == 0 else 0)
            runs.append(
                Run(
                    job.id,
                    due,
                    due + 0.002 + 0.004 * ((k + index) % 5),
                    float(duration),
                    RunOutcome.FAILED if failing else RunOutcome.OK,
                    attempts=3 if failing else 1,
                    status_code=None if failing and job.name == "partner-sync" else (502 if failing else 200),
                    error="Connect call failed ('127.0.0.1', 9)" if failing else None,
                    response_excerpt=None if failing else '{"status": "ok"}',
                    error_class=("connect" if job.name == "partner-sync" else "http_status") if failing else None,
                )
            )
    streaks = [(job.id, 4) for job in jobs if job.name == "partner-sync"]
    live.run(store.record_progress(Progress(runs=runs, streaks=streaks)))
    return name


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="docs", help="folder of the PNG files (default docs)")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as folder:
        live = LiveServer(str(Path(folder) / "demo.db"))
        try:
            user = seed_history(live)
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                for theme in ("light", "dark"):
                    context = browser.new_context(
                        base_url=live.base, color_scheme=theme, viewport={"width": 1280, "height": 720}
                    )
                    page = context.new_page()
                    log_in(page, user)
                    page.screenshot(path=str(out / f"dashboard-jobs-{theme}.png"))
                    page.goto("/ui/jobs/partner-sync")
                    page.screenshot(path=str(out / f"dashboard-job-{theme}.png"))
                    context.close()
                browser.close()
        finally:
            live.close()
    print(f"screenshots written to {out}/")


if __name__ == "__main__":
    main()
