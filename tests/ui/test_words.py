"""How the dashboard words schedules and times, and draws a job's recent runs."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from urllib.parse import urlencode

import pytest
import tornado.template

from veggiecron.model import Run, RunOutcome
from veggiecron.ui import views
from veggiecron.ui.charts import run_chart
from veggiecron.ui.views import run_view
from veggiecron.ui.words import cron_words, duration, relative, schedule_words


@pytest.mark.parametrize(
    ("schedule", "words"),
    [
        ("every 10 seconds", "Every 10 seconds"),
        ("every 5 minutes", "Every 5 minutes"),
        ("every day @ 13:00", "Every day at 13:00"),
        ("every 2 days @ 07:05", "Every 2 days at 07:05"),
        ("* * * * *", "Every minute"),
        ("*/15 * * * *", "Every 15 minutes"),
        ("5 * * * *", "Every hour at minute 5"),
        ("0 */6 * * *", "Every 6 hours at minute 0"),
        ("30 8 * * *", "Every day at 08:30"),
        ("0 8 * * 1-5", "Weekdays at 08:00"),
        ("0 9 * * 1,3", "Every Monday, Wednesday at 09:00"),
        ("0 3 1 * *", "Monthly on day 1 at 03:00"),
        ("0 3 1 1 *", "Cron 0 3 1 1 *"),
        ("once @ 2030-01-01T12:00:00Z", "Once, at 2030-01-01 12:00:00 UTC"),
        ("not a schedule", "not a schedule"),
    ],
)
def test_schedules_in_words(schedule: str, words: str) -> None:
    assert schedule_words(schedule, "UTC") == words


@pytest.mark.parametrize(
    ("schedule", "words"),
    [
        ("every monday @ 09:00", "Every Monday at 09:00"),
        ("every mon,wed,fri @ 17:30", "Every Monday, Wednesday and Friday at 17:30"),
        ("every weekday @ 09:30", "Weekdays at 09:30"),
        ("every weekend day @ 10:00", "Weekends at 10:00"),
        ("every 2 weeks on monday @ 09:00", "Every 2 weeks on Monday at 09:00"),
        ("1st,15th of month @ 12:00", "On the 1st and 15th of every month at 12:00"),
        ("last day of month @ 23:00", "On the last day of every month at 23:00"),
        ("first monday of month @ 08:00", "On the first Monday of every month at 08:00"),
        ("2nd,4th tuesday of month @ 18:00", "On the second and fourth Tuesday of every month at 18:00"),
        ("first monday of jan,apr,jul,oct @ 08:00", "On the first Monday of January, April, July and October at 08:00"),
        ("every 5 minutes from 09:00 to 17:00", "Every 5 minutes from 09:00 to 17:00"),
        ("every hour from 08:00 to 18:00 on weekdays", "Every hour from 08:00 to 18:00 on weekdays"),
        (
            "every 90 minutes from 22:00 to 02:00 on sat",
            "Every 90 minutes from 22:00 to 02:00 the next day on Saturday",
        ),
    ],
)
def test_schedules_in_words_for_days_months_and_windows(schedule: str, words: str) -> None:
    assert schedule_words(schedule, "Europe/London") == words


def test_cron_words_keep_anything_unusual_as_cron() -> None:
    assert cron_words("0 8 1 * 1") == "Cron 0 8 1 * 1"  # day and weekday both: left as written


@pytest.mark.parametrize(
    ("delta", "words"),
    [
        (0.2, "now"),
        (12, "in 12 s"),
        (240, "in 4 min"),
        (-7200, "2 h ago"),
        (86400 * 3, "in 3 days"),
        (86400, "in 1 day"),
    ],
)
def test_relative_times(delta: float, words: str) -> None:
    assert relative(1000.0 + delta, 1000.0) == words


def test_durations() -> None:
    assert [duration(25), duration(1234), duration(185_000)] == ["25 ms", "1.2 s", "3 min"]


def test_the_chart_marks_failures_by_shape_and_says_what_it_shows() -> None:
    runs = [
        Run(1, 100.0 + i, 100.0 + i + 0.005 * i, 10.0 * (i + 1), RunOutcome.FAILED if i == 2 else RunOutcome.OK, id=i)
        for i in range(5)
    ][::-1]
    svg = run_chart(runs)
    assert svg.startswith('<svg class="chart" role="img" aria-label="Last 5 runs: 4 not failed, 1 failed')
    assert svg.count('class="bar ok"') == 4 and svg.count('class="bar fail"') == 1
    assert svg.count('class="cross"') == 1 and 'class="late"' in svg
    assert "style" not in svg
    assert run_chart(runs) is run_chart(runs)  # drawn once for the same runs
    assert run_chart([]) == ""


def test_a_run_shows_the_part_of_its_lateness_spent_waiting_for_a_connection() -> None:
    waited = Run(1, 100.0, 100.3, 20.0, RunOutcome.OK, 1, 200, pool_wait_ms=290.0)
    assert (run_view(waited, "UTC", 200.0).lateness, run_view(waited, "UTC", 200.0).pool_wait) == ("300 ms", "290 ms")
    for wait in (None, 0.2):  # never reached a connection, or no wait worth showing
        assert run_view(Run(1, 100.0, 100.0, 20.0, RunOutcome.OK, pool_wait_ms=wait), "UTC", 200.0).pool_wait == ""


def test_the_history_says_how_long_a_run_waited_for_a_connection() -> None:
    loader = tornado.template.Loader(str(Path(views.__file__).parent / "templates"))
    waited = run_view(Run(1, 100.0, 100.3, 20.0, RunOutcome.OK, 1, 200, pool_wait_ms=290.0), "UTC", 200.0)
    html = loader.load("history.html").generate(
        row=SimpleNamespace(chart="", href="/ui/jobs/j"),
        runs=[waited],
        outcome=None,
        pages={"count": 1},
        history_oob=False,
        urlencode=urlencode,
    )
    assert b"300 ms <small>(290 ms waiting for a connection)</small>" in html
