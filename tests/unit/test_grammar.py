"""grammar: the schedule grammars the server checks input against are the patterns the document publishes,
and every string they take is one the parsers read (cron expressions exactly as cronsim does)."""

from __future__ import annotations

import calendar
import itertools
import random
import re
from datetime import UTC, datetime

from cronsim import CronSim, CronSimError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from veggiecron import grammar
from veggiecron.patterns import int_range
from veggiecron.schedules import parse_schedule
from veggiecron.seed.validation import interval_seconds

FAST = settings(
    max_examples=100, derandomize=True, database=None, deadline=None, suppress_health_check=list(HealthCheck)
)


def cronsim_reads(expression: str) -> bool:
    try:
        CronSim(" ".join(expression.split()).upper(), datetime(2000, 1, 1, tzinfo=UTC))
    except (CronSimError, ValueError):
        return False
    return True


def test_int_range_matches_exactly_its_numbers() -> None:
    for low, high in ((0, 59), (1, 31), (1, 8784), (5, 527040), (0, 7)):
        pattern = re.compile(int_range(low, high))
        for n in itertools.chain(range(0, 1200), random.Random(1).sample(range(0, high * 3 + 1000), 500)):
            assert bool(pattern.fullmatch(str(n))) == (low <= n <= high), (low, high, n)
        assert pattern.fullmatch(f"00{low}")


TOKENS = ["*", "*/2", "1", "30", "31", "2", "4", "FEB", "apr", "L", "LW", "5L", "MON#2", "1-5", "5-1", "0", "7"]
TOKENS += ["59", "60", "24", "32", "13", "30-31", "31/5", "2/11", "2-3/2", "jan-mar", "?", "15W", "*/0", "1,2", "31,30"]


def test_cron_fields_as_cronsim_reads_them() -> None:
    rng = random.Random(7)
    for _ in range(20_000):
        expression = " ".join(rng.choice(TOKENS) for _ in range(5))
        assert grammar.is_cron(expression) == cronsim_reads(expression), expression


@FAST
@given(st.from_regex(grammar.cron_pattern(), fullmatch=True))
def test_what_the_cron_pattern_takes_cronsim_reads_unless_it_names_no_day(expression: str) -> None:
    assert grammar.is_cron(expression) == cronsim_reads(expression), expression


def test_a_cron_naming_no_real_day_is_refused() -> None:
    for expression in ("0 0 31 2 *", "0 0 30 feb *", "0 0 31 4,6 *", "0 0 30-31 2 *"):
        assert not grammar.is_cron(expression) and not cronsim_reads(expression)
    for expression in ("0 0 31 1 *", "0 0 30 4 *", "0 0 31 2 1", "0 0 31 */2 *"):
        assert grammar.is_cron(expression) and cronsim_reads(expression)


@FAST
@given(st.from_regex(grammar.schedule_pattern(), fullmatch=True).filter(lambda s: len(s) <= 200))
def test_what_the_schedule_pattern_takes_parses(text: str) -> None:
    if grammar.is_schedule(text):
        parse_schedule(text)


@FAST
@given(st.from_regex(grammar.interval_pattern(), fullmatch=True))
def test_what_the_interval_pattern_takes_is_whole_seconds_in_range(text: str) -> None:
    assert 1 <= interval_seconds(text) <= 366 * 86400


def test_intervals_below_a_second_or_beyond_366_days_are_not_in_the_grammar() -> None:
    for text in ("0 seconds", "500000 microseconds", "367 days", "1 fortnights", "\u0663 minutes"):
        assert not grammar.is_interval(text), text
    assert grammar.is_interval(" 2000000 microseconds ") and not grammar.is_interval("30 seconds", min_interval=60)


def test_leap_days_only_in_leap_years() -> None:
    leap = re.compile(f"^{grammar.INSTANT}$")
    for year in range(1971, 9999, 7):
        assert bool(leap.fullmatch(f"{year}-02-29T00:00:00Z")) == calendar.isleap(year), year
    assert not leap.fullmatch("2030-02-30T00:00:00Z") and leap.fullmatch("2030-01-31t23:59:59.5+05:30")


def test_unicode_digits_and_spaces_are_not_in_the_grammar() -> None:
    assert grammar.is_schedule("every 10 seconds") and not grammar.is_schedule("every \u0661\u0660 seconds")
    assert not grammar.is_schedule("every\u300010 seconds")
