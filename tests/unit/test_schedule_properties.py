"""Property tests (Hypothesis) of the schedule grammar and the next-run maths.

Schedules of every form are generated (intervals, `every N days @ HH:MM` in zones with odd DST
rules, `once @` timestamps, cron expressions built from valid fields), with anchors and `now`
values spread over a century and clustered around the DST transitions of the zone in play.
Every test is derandomized and keeps no example database, so CI sees the same examples each run.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from functools import cache
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from veggiecron.errors import Invalid
from veggiecron.jobtypes.http.delivery import retry_delay
from veggiecron.policies import (
    MAX_SLOTS_EXAMINED,
    CatchUp,
    CatchUpPolicy,
    Jittered,
    Timing,
    Window,
    jitter_offset,
    plan_slots,
)
from veggiecron.schedules import (
    MAX_DAYS,
    MAX_EPOCH,
    MAX_INTERVAL_SECONDS,
    Cron,
    DailyAt,
    Interval,
    Once,
    parse_schedule,
)

ZONES = ("UTC", "America/New_York", "Europe/London", "Australia/Lord_Howe", "Asia/Kolkata")
SPAN_START = datetime(1971, 1, 1, tzinfo=UTC).timestamp()
SPAN_END = datetime(2100, 1, 1, tzinfo=UTC).timestamp()
YEAR = 365 * 86400
ITERATIONS = 50


def checks(examples: int) -> settings:
    """Deterministic, bounded, and patient with zoneinfo and cronsim."""
    return settings(
        max_examples=examples,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )


# --- DST transitions: the instants where a zone's UTC offset changes -------------------------


@cache
def transitions(zone: str) -> tuple[float, ...]:
    """Every offset change of `zone` from 1971 to 2100, to the second (empty for UTC and Kolkata)."""
    tz = ZoneInfo(zone)

    def offset(t: float) -> timedelta | None:
        return datetime.fromtimestamp(t, tz).utcoffset()

    found: list[float] = []
    step = 7 * 86400
    low = SPAN_START
    before = offset(low)
    while low < SPAN_END:
        high = low + step
        after = offset(high)
        if after != before:
            a, b = low, high
            while b - a > 1:
                middle = math.floor((a + b) / 2)
                if offset(middle) == after:
                    b = middle
                else:
                    a = middle
            found.append(float(b))
        low, before = high, after
    return tuple(found)


def test_the_zone_list_has_the_transitions_the_properties_lean_on() -> None:
    assert transitions("UTC") == () and transitions("Asia/Kolkata") == ()
    assert len(transitions("America/New_York")) > 200
    # Lord Howe moves its clocks by 30 minutes: its folds and gaps are half an hour long.
    lord_howe = ZoneInfo("Australia/Lord_Howe")
    t = transitions("Australia/Lord_Howe")[-1]
    jumps = {
        abs(
            (datetime.fromtimestamp(t, lord_howe).utcoffset() or timedelta())
            - (datetime.fromtimestamp(t - 1, lord_howe).utcoffset() or timedelta())
        )
    }
    assert jumps == {timedelta(minutes=30)}


# --- strategies ----------------------------------------------------------------------------

zones = st.sampled_from(ZONES)


@cache
def instants(zone: str = "UTC") -> st.SearchStrategy[float]:
    """Epoch seconds: anywhere in 1971-2100, whole minutes, or within two days of a DST change."""
    anywhere = st.floats(SPAN_START, SPAN_END, allow_nan=False, allow_infinity=False)
    whole_seconds = st.integers(int(SPAN_START), int(SPAN_END)).map(float)
    whole_minutes = st.integers(int(SPAN_START) // 60, int(SPAN_END) // 60).map(lambda m: m * 60.0)
    options = [anywhere, whole_seconds, whole_minutes]
    changes = transitions(zone)
    if changes:
        near = st.tuples(
            st.sampled_from(changes),
            st.one_of(
                st.integers(-2 * 86400, 2 * 86400),
                st.integers(-180, 180).map(lambda m: m * 60),  # whole minutes around the change
                st.floats(-7200, 7200, allow_nan=False),
            ),
        ).map(lambda pair: float(pair[0] + pair[1]))
        options = [near, near, *options]  # DST days get half the examples
    return st.one_of(*options)


# How long before `now` a job's anchor (its creation, or its last timing change) lies.
anchor_ages = st.one_of(
    st.just(0.0),
    st.floats(0, 3600),
    st.floats(0, 20 * YEAR),
    st.integers(0, 20 * YEAR).map(float),
)


@cache
def small_or_any(low: int, high: int) -> st.SearchStrategy[int]:
    return st.one_of(st.integers(low, min(high, low + 10)), st.integers(low, high))


@st.composite
def interval_texts(draw: st.DrawFn) -> tuple[str, Interval]:
    unit, size = draw(st.sampled_from([("second", 1), ("minute", 60), ("hour", 3600)]))
    count = draw(small_or_any(1, MAX_INTERVAL_SECONDS // size))
    plural = draw(st.booleans())
    if count == 1 and draw(st.booleans()):
        text = f"every {unit}{'s' if plural else ''}"
    else:
        text = f"every {count} {unit}{'s' if plural else ''}"
    return _noisy(draw, text), Interval(count * size)


@st.composite
def daily_texts(draw: st.DrawFn, zone: str) -> tuple[str, DailyAt]:
    days = draw(small_or_any(1, MAX_DAYS))
    hour, minute = draw(st.integers(0, 23)), draw(st.integers(0, 59))
    hh = f"{hour:02d}" if draw(st.booleans()) else str(hour)
    at = draw(st.sampled_from(["@", " @ ", "@ ", " @"]))
    if days == 1 and draw(st.booleans()):
        text = f"every day{at}{hh}:{minute:02d}"
    else:
        text = f"every {days} day{'s' if draw(st.booleans()) else ''}{at}{hh}:{minute:02d}"
    return _noisy(draw, text), DailyAt(days, hour, minute, zone)


OFFSETS = [timezone(timedelta(minutes=m)) for m in (-720, -570, -300, 0, 330, 345, 630, 840)]


ONCE_MOMENTS = st.datetimes(
    datetime(1970, 1, 2), datetime(9999, 12, 30), timezones=st.sampled_from([*OFFSETS, *(ZoneInfo(z) for z in ZONES)])
)


@st.composite
def once_texts(draw: st.DrawFn) -> tuple[str, Once]:
    form = draw(st.sampled_from(["epoch", "float", "iso"]))
    if form == "epoch":
        at = float(draw(st.integers(0, int(MAX_EPOCH))))
        return f"once @ {int(at)}", Once(at)
    if form == "float":
        at = draw(st.floats(0, MAX_EPOCH, allow_nan=False, allow_infinity=False))
        return f"once @ {at!r}", Once(at)
    moment = draw(ONCE_MOMENTS)
    text = moment.isoformat()
    if moment.utcoffset() == timedelta(0) and draw(st.booleans()):
        text = moment.replace(tzinfo=None).isoformat() + "Z"
    return f"once @ {text}", Once(moment.timestamp())


@cache
def _cron_field(low: int, high: int, names: tuple[str, ...] = ()) -> st.SearchStrategy[str]:
    value = st.integers(low, high).map(str)
    if names:
        value = st.one_of(value, st.sampled_from(names))
    span = st.tuples(st.integers(low, high), st.integers(low, high)).map(lambda p: f"{min(p)}-{max(p)}")
    step = st.tuples(st.one_of(st.just("*"), value, span), st.integers(1, high - low + 1)).map(
        lambda p: f"{p[0]}/{p[1]}"
    )
    term = st.one_of(st.integers(low, high).map(str), span, step)
    listed = st.lists(term, min_size=2, max_size=4).map(",".join)
    return st.one_of(st.just("*"), value, span, step, listed)


MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
DAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")


CRON_DOM = st.one_of(_cron_field(1, 31), st.sampled_from(["L", "LW"]))
CRON_DOW = st.one_of(
    _cron_field(0, 7, DAYS),
    st.tuples(st.integers(0, 7), st.integers(1, 5)).map(lambda p: f"{p[0]}#{p[1]}"),  # the nth weekday
    st.integers(0, 7).map(lambda d: f"{d}L"),  # the last such weekday of the month
)


@st.composite
def cron_texts(draw: st.DrawFn, zone: str) -> tuple[str, Cron]:
    minute = draw(_cron_field(0, 59))
    hour = draw(_cron_field(0, 23))
    dom = draw(CRON_DOM)
    month = draw(_cron_field(1, 12, MONTHS))
    dow = draw(CRON_DOW)
    fields = [minute, hour, dom, month, dow]
    if draw(st.booleans()):
        fields = [f.lower() for f in fields]
    text = "  ".join(fields) if draw(st.booleans()) else " ".join(fields)
    try:  # a few combinations can never match (the 31st of February): those are refused
        expected = parse_schedule(text, zone)
    except Invalid:
        assume(False)
    assert isinstance(expected, Cron)
    return text, expected


def _noisy(draw: st.DrawFn, text: str) -> str:
    """Any case, any runs of whitespace: the grammar ignores both."""
    if draw(st.booleans()):
        text = "  " + text.replace(" ", " \t ") + "\n"
    case = draw(st.sampled_from(["lower", "upper", "title", "swapcase"]))
    return str(getattr(text, case)())


@cache
def schedule_texts(zone: str) -> st.SearchStrategy[tuple[str, Interval | DailyAt | Once | Cron]]:
    return st.one_of(interval_texts(), daily_texts(zone), once_texts(), cron_texts(zone))


@cache
def repeating(zone: str) -> st.SearchStrategy[Interval | DailyAt | Cron]:
    return st.one_of(interval_texts(), daily_texts(zone), cron_texts(zone)).map(lambda pair: pair[1])


@cache
def any_schedule(zone: str) -> st.SearchStrategy[Interval | DailyAt | Once | Cron]:
    return schedule_texts(zone).map(lambda pair: pair[1])


@dataclass(frozen=True)
class Case:
    zone: str
    schedule: Interval | DailyAt | Once | Cron
    timing: Timing  # the schedule, maybe shifted by a job's jitter
    offset: float  # that jitter (0 when none)
    anchor: float
    now: float


JITTER_KEYS = st.one_of(st.integers(1, 10**6), st.text(max_size=20))
JITTERS = st.floats(0.001, 86400)


@st.composite
def cases(draw: st.DrawFn, jitter: bool = True, once: bool = True) -> Case:
    zone = draw(zones)
    schedule = draw(any_schedule(zone) if once else repeating(zone))
    now = draw(instants(zone))
    anchor = now - draw(anchor_ages)
    timing: Timing = schedule
    offset = 0.0
    if jitter and not isinstance(schedule, Once) and draw(st.booleans()):
        offset = jitter_offset(draw(JITTER_KEYS), draw(JITTERS))
        timing = Jittered(schedule, offset)
    return Case(zone, schedule, timing, offset, anchor, now)


# --- the grammar ----------------------------------------------------------------------------


@checks(150)
@given(data=st.data())
def test_every_form_parses_to_what_it_says(data: st.DataObject) -> None:
    zone = data.draw(zones)
    text, expected = data.draw(schedule_texts(zone))
    assert parse_schedule(text, zone) == expected


@checks(150)
@given(data=st.data())
def test_parse_of_format_round_trips(data: st.DataObject) -> None:
    zone = data.draw(zones)
    schedule = data.draw(any_schedule(zone))
    text = schedule.format()
    assert parse_schedule(text, zone) == schedule
    assert parse_schedule(text, zone).format() == text  # the canonical text is a fixed point


@checks(400)
@given(text=st.text(max_size=220), zone=st.one_of(st.sampled_from(ZONES), st.text(max_size=70)))
def test_any_text_either_parses_or_is_invalid(text: str, zone: str) -> None:
    try:
        parsed = parse_schedule(text, zone)
    except Invalid as exc:
        assert exc.field in ("schedule", "timezone")
    else:
        assert parse_schedule(parsed.format(), zone) == parsed


_FIELD_CHARS = "0123456789*/,-#LW?"


@checks(300)
@given(
    head=st.sampled_from(["", "every ", "once @ ", "every day @ ", "every 5 "]),
    fields=st.lists(
        st.text(alphabet=_FIELD_CHARS + "ADEFHIJMNOPRSTUVY", min_size=1, max_size=8), min_size=1, max_size=6
    ),
    zone=zones,
)
def test_near_misses_either_parse_or_are_invalid(head: str, fields: list[str], zone: str) -> None:
    """Text shaped like the grammar (cron fields, numbers, dates) finds the parser's edges faster."""
    text = head + " ".join(fields)
    try:
        parsed = parse_schedule(text, zone)
    except Invalid as exc:
        assert exc.field == "schedule"
    else:
        assert parse_schedule(parsed.format(), zone) == parsed


@checks(100)
@given(value=st.one_of(st.none(), st.integers(), st.floats(), st.binary(), st.lists(st.integers())))
def test_non_strings_are_invalid(value: object) -> None:
    with pytest.raises(Invalid):
        parse_schedule(value)


@pytest.mark.parametrize("zone", ["America", "Europe", "Etc", "Australia"])
def test_a_zone_folder_name_is_an_invalid_timezone(zone: str) -> None:
    """ZoneInfo raises IsADirectoryError for these; the schedule grammar must answer Invalid."""
    with pytest.raises(Invalid) as caught:
        parse_schedule("every day @ 09:00", zone)
    assert caught.value.field == "timezone"


# --- next runs ------------------------------------------------------------------------------


@checks(150)
@given(case=cases())
def test_next_after_is_strictly_after(case: Case) -> None:
    nxt = case.timing.next_after(case.now, case.anchor)
    if isinstance(case.schedule, Once):
        assert nxt == (case.schedule.at if case.schedule.at > case.now else None)
    else:
        assert nxt is not None
        assert nxt > case.now


@checks(60)
@given(case=cases())
def test_next_runs_strictly_increase(case: Case) -> None:
    times: list[float] = []
    at = case.now
    for _ in range(ITERATIONS):
        nxt = case.timing.next_after(at, case.anchor)
        if nxt is None:
            break
        times.append(nxt)
        at = nxt
    assert all(later > earlier for earlier, later in zip([case.now, *times], times, strict=False)), times
    if not isinstance(case.schedule, Once):
        assert len(times) == ITERATIONS or isinstance(case.schedule, Cron)


@checks(100)
@given(case=cases(jitter=False, once=False))
def test_first_run_never_precedes_now(case: Case) -> None:
    first = case.schedule.first_run(case.now, case.anchor)
    assert first is not None and first > case.now


@checks(100)
@given(case=cases(jitter=False, once=False))
def test_interval_and_daily_slots_keep_their_shape(case: Case) -> None:
    """Interval slots stay on the anchor's grid; daily slots fall on the anchor's day cycle."""
    nxt = case.schedule.next_after(case.now, case.anchor)
    assert nxt is not None
    if isinstance(case.schedule, Interval):
        steps = (nxt - case.anchor) / case.schedule.seconds
        assert abs(steps - round(steps)) < 1e-6 and round(steps) >= 1
        assert nxt - case.schedule.seconds <= case.now + 1e-6
    elif isinstance(case.schedule, DailyAt):
        tz = ZoneInfo(case.schedule.zone)
        local = datetime.fromtimestamp(nxt, tz)
        start = datetime.fromtimestamp(case.anchor, tz).date()
        assert (local.date() - start).days % case.schedule.days == 0
        wanted = local.replace(hour=case.schedule.hour, minute=case.schedule.minute, second=0, microsecond=0)
        # The wall time itself, or, when it falls in a DST gap, the first instant after the gap.
        assert (local.hour, local.minute) == (case.schedule.hour, case.schedule.minute) or (
            datetime.fromtimestamp(wanted.timestamp(), tz).replace(tzinfo=None) != wanted.replace(tzinfo=None)
        )


@checks(150)
@given(case=cases())
def test_latest_at_or_before_is_the_last_slot_not_after_now(case: Case) -> None:
    latest = case.timing.latest_at_or_before(case.now, case.anchor)
    if latest is None:
        return
    assert latest <= case.now
    following = case.timing.next_after(latest, case.anchor)
    assert following is None or following > case.now
    # No slot lies between the latest one and now: both roads lead to the same next run.
    assert following == case.timing.next_after(case.now, case.anchor)


# --- cron in repeated (fall-back) hours ----------------------------------------------------
# cronsim steps through wall-clock times; in the second pass of a repeated hour it used to offer
# the first pass's time, already past, and plan_slots then gave the scheduler a next run in the past.

# 01:30 EST on 2024-11-03 in New York: the second 01:30 of the night (fold=1).
NY_SECOND_0130 = datetime(2024, 11, 3, 1, 30, fold=1, tzinfo=ZoneInfo("America/New_York")).timestamp()
# 01:40 on 2024-04-07 on Lord Howe Island, which turns its clocks back half an hour at 02:00.
LORD_HOWE_SECOND_0140 = datetime(2024, 4, 7, 1, 40, fold=1, tzinfo=ZoneInfo("Australia/Lord_Howe")).timestamp()
LONDON_SECOND_0110 = datetime(2024, 10, 27, 1, 10, fold=1, tzinfo=ZoneInfo("Europe/London")).timestamp()
FOLD_CASES = [
    ("45 1 * * *", "America/New_York", NY_SECOND_0130),
    ("50 1 * * *", "Australia/Lord_Howe", LORD_HOWE_SECOND_0140),
    ("30 1 * * SUN", "Europe/London", LONDON_SECOND_0110),
]


@pytest.mark.parametrize(("expression", "zone", "now"), FOLD_CASES)
def test_cron_next_after_in_a_repeated_hour_is_after_now(expression: str, zone: str, now: float) -> None:
    cron = Cron(expression, zone)
    nxt = cron.next_after(now, now - 7 * 86400)
    assert nxt is not None and nxt > now


@pytest.mark.parametrize(("expression", "zone", "now"), FOLD_CASES)
def test_plan_slots_in_a_repeated_hour_moves_past_now(expression: str, zone: str, now: float) -> None:
    cron = Cron(expression, zone)
    anchor = now - 7 * 86400
    due = cron.first_run(now, anchor)  # what a job created (or changed) at `now` is given
    assert due is not None
    plan = plan_slots(cron, anchor, min(due, now), now, CatchUpPolicy())
    assert plan.next_run is not None and plan.next_run > now


@pytest.mark.parametrize(("expression", "zone", "now"), FOLD_CASES)
def test_cron_latest_in_a_repeated_hour_is_the_slot_that_ran(expression: str, zone: str, now: float) -> None:
    cron = Cron(expression, zone)
    anchor = now - 7 * 86400
    latest = cron.latest_at_or_before(now, anchor)
    assert latest is not None and now - latest < 3600  # the slot of the first pass, not yesterday's


def fall_backs(zone: str) -> tuple[tuple[float, float], ...]:
    """(start, end) of every repeated stretch of wall time: the second pass of a fall-back hour."""
    tz = ZoneInfo(zone)
    spans = []
    for t in transitions(zone):
        before = datetime.fromtimestamp(t - 1, tz).utcoffset() or timedelta()
        after = datetime.fromtimestamp(t, tz).utcoffset() or timedelta()
        if after < before:
            spans.append((t, t + (before - after).total_seconds()))
    return tuple(spans)


@st.composite
def repeated_hour_cases(draw: st.DrawFn) -> tuple[Cron, float]:
    """A cron job fixed to a minute of a repeated hour, asked about an instant in its second pass."""
    zone = draw(st.sampled_from(["America/New_York", "Europe/London", "Australia/Lord_Howe"]))
    start, end = draw(st.sampled_from(fall_backs(zone)))
    now = draw(st.floats(start, end - 0.001))  # clear of the end, which rounds to the next hour
    local = datetime.fromtimestamp(now, ZoneInfo(zone))
    minute = draw(st.integers(min(local.minute + 1, 59), 59))  # still ahead on the wall clock
    rest = draw(st.sampled_from(["* * *", "* * SUN", f"{local.day} * *", f"* {local.month} *"]))
    return Cron(f"{minute} {local.hour} {rest}", zone), now


@checks(100)
@given(case=repeated_hour_cases())
def test_cron_next_runs_move_past_now_in_repeated_hours(case: tuple[Cron, float]) -> None:
    """The general properties, aimed where the cases above live (the general strategies reach
    these instants too rarely to find them by chance)."""
    cron, now = case
    anchor = now - 400 * 86400  # every expression drawn has a slot in the year before
    nxt = cron.next_after(now, anchor)
    assert nxt is not None and nxt > now
    latest = cron.latest_at_or_before(now, anchor)
    assert latest is not None and latest <= now and cron.next_after(latest, anchor) == nxt


# --- catch-up plans, windows and jitter -----------------------------------------------------


window_starts = st.one_of(st.none(), st.floats(-30 * 86400, 30 * 86400))
window_ends = st.one_of(st.none(), st.floats(-30 * 86400, 60 * 86400))


@st.composite
def windows(draw: st.DrawFn, around: float) -> Window:
    start = draw(window_starts)
    end = draw(window_ends)
    start = None if start is None else around + start
    end = None if end is None else around + end
    if start is not None and end is not None and end <= start:
        start, end = end, start + 1  # parse_policy insists that end_at > start_at
    return Window(start, end)


SHORT_LAGS = st.one_of(st.floats(0, 2), st.floats(0, 3600), st.floats(0, 2 * 86400))
LAGS = st.one_of(st.floats(0, 2), st.floats(0, 3600), st.floats(0, 5 * YEAR))
MAX_CATCH_UPS = st.one_of(st.just(100), st.integers(1, 1000))
GRACES = st.one_of(st.none(), st.floats(0, 366 * 86400))


@st.composite
def plans(draw: st.DrawFn) -> tuple[Case, Window, CatchUpPolicy, float]:
    case = draw(cases(once=False))
    window = draw(windows(case.now))
    catch_up = draw(st.sampled_from(list(CatchUp)))
    # `due` is a slot the scheduler held; `now` is when it got to it (on time, or after a stall).
    due = window.next_after(case.timing, case.now, case.anchor)
    assume(due is not None)
    assert due is not None
    # Bound the walk under catch_up=all: every second for five years is a long list.
    lag = draw(SHORT_LAGS if catch_up is CatchUp.ALL else LAGS)
    now = due + lag
    policy = CatchUpPolicy(
        catch_up=catch_up,
        max_catch_up=draw(MAX_CATCH_UPS),
        grace_seconds=draw(GRACES),
        window=window,
    )
    return Case(case.zone, case.schedule, case.timing, case.offset, case.anchor, due), window, policy, now


@checks(150)
@given(plan_case=plans())
def test_plan_slots_never_runs_the_future_and_moves_past_now(
    plan_case: tuple[Case, Window, CatchUpPolicy, float],
) -> None:
    case, window, policy, now = plan_case
    due = case.now
    plan = plan_slots(case.timing, case.anchor, due, now, policy)
    assert all(slot <= now for slot in plan.run)
    assert all(slot >= due for slot in plan.run)
    assert plan.next_run is None or plan.next_run > now
    assert list(plan.run) == sorted(set(plan.run))
    assert not set(plan.run) & set(plan.missed)
    if policy.grace_seconds is not None:
        assert all(now - slot <= policy.grace_seconds for slot in plan.run)
    for slot in (*plan.run, *([plan.next_run] if plan.next_run is not None else [])):
        assert window.start_at is None or slot >= window.start_at
        assert window.end_at is None or slot <= window.end_at
    if policy.catch_up is CatchUp.ALL:
        assert len(plan.run) <= policy.max_catch_up
        assert len(plan.run) + len(plan.missed) <= MAX_SLOTS_EXAMINED
    else:
        assert len(plan.run) <= 1
        assert len(plan.missed) <= 1
    if policy.catch_up is CatchUp.LATEST and policy.grace_seconds is None:
        assert len(plan.run) == 1  # one run stands for every slot missed


@checks(100)
@given(data=st.data())
def test_window_next_after_stays_inside_the_window(data: st.DataObject) -> None:
    case = data.draw(cases())
    window = data.draw(windows(case.now))
    nxt = window.next_after(case.timing, case.now, case.anchor)
    if nxt is None:
        return
    assert nxt > case.now
    assert window.start_at is None or nxt >= window.start_at
    assert window.end_at is None or nxt <= window.end_at
    latest = window.latest_at_or_before(case.timing, case.now, case.anchor)
    if latest is not None:
        assert latest <= case.now
        assert window.start_at is None or latest >= window.start_at
        assert window.end_at is None or latest <= window.end_at


@checks(200)
@given(
    key=st.one_of(st.integers(), st.text(max_size=40)),
    jitter=st.one_of(st.floats(1e-6, 86400), st.floats(-10, 0), st.sampled_from([0.0, 1e-6, 1.0, 86400.0])),
)
def test_jitter_offset_is_stable_and_below_the_jitter(key: int | str, jitter: float) -> None:
    offset = jitter_offset(key, jitter)
    assert offset == jitter_offset(key, jitter)
    if jitter <= 0:
        assert offset == 0.0
    else:
        assert 0.0 <= offset < jitter


@checks(200)
@given(
    attempt=st.integers(1, 11),
    base=st.floats(0, 3600, allow_nan=False),
    extra=st.floats(0, 86400, allow_nan=False),
    seed=st.integers(0, 2**32),
)
def test_retry_delay_is_within_the_backoff_ceiling(attempt: int, base: float, extra: float, seed: int) -> None:
    cap = base + extra  # parse_http_data insists that retry_backoff_max_seconds >= retry_backoff_seconds
    delay = retry_delay(attempt, base, cap, random.Random(seed))
    assert 0.0 <= delay <= min(cap, base * 2 ** (attempt - 1))
