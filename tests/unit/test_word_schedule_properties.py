"""Property tests (Hypothesis) of the schedules in words, each against an oracle that does not share
their code: cronsim where a cron expression can say the schedule (days of the week, days of the month,
windows, written as one or more cron expressions with explicit minutes and hours, which cronsim reads
with Debian's DST rules, ours), and a minute-by-minute walk through the zone's wall clock where it
cannot (the nth weekday of a month, the last day of a month, every N weeks).

Zones are drawn from every IANA zone, half the time from zones with awkward DST rules, and instants
cluster around the zone's offset changes, so DST days are most of the examples. Derandomized, no
example database: CI sees the same examples each run.
"""

from __future__ import annotations

import calendar
import math
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from functools import cache
from zoneinfo import ZoneInfo

from cronsim import CronSim
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from veggiecron import grammar
from veggiecron.errors import Invalid
from veggiecron.policies import CatchUp, CatchUpPolicy, plan_slots
from veggiecron.schedules import parse_schedule
from veggiecron.wall_schedules import LAST, MonthDays, NthWeekday, Weekly, Windowed

SPAN_START = datetime(1990, 1, 1, tzinfo=UTC).timestamp()  # since then every zone's offsets are whole minutes
SPAN_END = datetime(2060, 1, 1, tzinfo=UTC).timestamp()
AWKWARD = (
    "America/New_York",
    "Europe/London",
    "Australia/Lord_Howe",  # moves by 30 minutes
    "America/Santiago",  # changes at midnight: the gap or the fold crosses the date
    "America/Havana",
    "Asia/Tehran",
    "Pacific/Chatham",
    "Pacific/Apia",  # skipped all of 2011-12-30
)
ALL_ZONES = tuple(sorted(grammar.zone_names()))
ORACLE_HORIZON = 30 * 366 * 86400


def checks(examples: int) -> settings:
    return settings(
        max_examples=examples, derandomize=True, database=None, deadline=None, suppress_health_check=list(HealthCheck)
    )


@cache
def transitions(zone: str) -> tuple[float, ...]:
    """The instants the zone's UTC offset changes, 1990 to 2060, to the second."""
    tz = ZoneInfo(zone)

    def offset(t: float) -> timedelta | None:
        return datetime.fromtimestamp(t, tz).utcoffset()

    found = []
    low, before = SPAN_START, offset(SPAN_START)
    while low < SPAN_END:
        high = low + 7 * 86400
        after = offset(high)
        if after != before:
            a, b = low, high
            while b - a > 1:
                middle = math.floor((a + b) / 2)
                a, b = (a, middle) if offset(middle) == after else (middle, b)
            found.append(float(b))
        low, before = high, after
    return tuple(found)


zones = st.one_of(st.sampled_from(AWKWARD), st.sampled_from(ALL_ZONES))


@st.composite
def instants(draw: st.DrawFn, zone: str) -> float:
    changes = transitions(zone)
    if changes and draw(st.integers(0, 3)) > 0:
        return draw(st.sampled_from(changes)) + draw(st.integers(-3 * 86400, 86400))
    return float(draw(st.integers(int(SPAN_START), int(SPAN_END))))


# --- the schedules, drawn as the text a user writes and the object it must read as --------------

DAY_TEXT = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
MONTH_TEXT = calendar.month_name[1:]
NTH_TEXT = {1: ("first", "1st"), 2: ("second", "2nd"), 3: ("third", "3rd"), 4: ("fourth", "4th"), 5: ("fifth", "5th")}
# Half the times in the small hours, where clocks change: the slots then fall in gaps and folds.
times_of_day = st.one_of(
    st.tuples(st.integers(0, 23), st.integers(0, 59)), st.tuples(st.integers(0, 3), st.sampled_from([0, 15, 30, 59]))
)
day_sets = st.sets(st.integers(0, 6), min_size=1).map(lambda s: tuple(sorted(s)))
month_sets = st.one_of(
    st.just(tuple(range(1, 13))), st.sets(st.integers(1, 12), min_size=1).map(lambda s: tuple(sorted(s)))
)


def _day_text(draw: st.DrawFn, days: tuple[int, ...]) -> str:
    if days == (0, 1, 2, 3, 4) and draw(st.booleans()):
        return draw(st.sampled_from(["weekday", "weekdays"]))
    if days == (5, 6) and draw(st.booleans()):
        return draw(st.sampled_from(["weekend day", "weekend days", "weekends", "weekend"]))
    names = [
        draw(st.sampled_from([DAY_TEXT[d], DAY_TEXT[d][:3], DAY_TEXT[d] + "s"])) for d in draw(st.permutations(days))
    ]
    return draw(st.sampled_from([",", ", ", " , "])).join(names)


def _month_text(draw: st.DrawFn, months: tuple[int, ...]) -> str:
    if len(months) == 12 and draw(st.booleans()):
        return draw(st.sampled_from(["month", "the month", "every month", "each month"]))
    return ",".join(draw(st.sampled_from([MONTH_TEXT[m - 1], MONTH_TEXT[m - 1][:3]])) for m in months)


def _at(draw: st.DrawFn, hour: int, minute: int) -> str:
    hh = f"{hour:02d}" if draw(st.booleans()) else str(hour)
    return f"{draw(st.sampled_from(['@', ' @ ', '@ ']))}{hh}:{minute:02d}"


def _noisy(draw: st.DrawFn, text: str) -> str:
    if draw(st.booleans()):
        text = " \t" + text.replace(" ", "  ") + "\n"
    return str(getattr(text, draw(st.sampled_from(["lower", "upper", "title", "swapcase"])))())


@st.composite
def weekly(draw: st.DrawFn, zone: str, weeks: int | None = None) -> tuple[str, Weekly]:
    days, (hour, minute) = draw(day_sets), draw(times_of_day)
    weeks = draw(st.integers(1, 6)) if weeks is None else weeks
    if weeks == 1 and draw(st.booleans()):
        text = f"every {_day_text(draw, days)}{_at(draw, hour, minute)}"
    else:
        text = f"every {weeks} week{'s' if weeks > 1 else ''} on {_day_text(draw, days)}{_at(draw, hour, minute)}"
    return _noisy(draw, text), Weekly(days, hour, minute, weeks, zone)


@st.composite
def month_days(draw: st.DrawFn, zone: str, last: bool | None = None) -> tuple[str, MonthDays]:
    days = set(draw(st.sets(st.integers(1, 28), max_size=3)))  # days every month has: no month is skipped
    days |= set(draw(st.sets(st.integers(29, 31), max_size=1)))
    if draw(st.booleans()) if last is None else last:
        days.add(LAST)
    if not days:
        days = {draw(st.integers(1, 28))}
    months, (hour, minute) = draw(month_sets), draw(times_of_day)
    words = [("last" if d == LAST else calendar_ordinal(d)) for d in draw(st.permutations(sorted(days)))]
    day = draw(st.sampled_from(["", " day", " days"])) if LAST not in days else " day"
    text = f"{','.join(words)}{day} of {_month_text(draw, months)}{_at(draw, hour, minute)}"
    return _noisy(draw, text), MonthDays(tuple(sorted(days)), months, hour, minute, zone)


def calendar_ordinal(n: int) -> str:
    return f"{n}{'th' if 11 <= n <= 13 else {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th')}"


@st.composite
def nth_weekdays(draw: st.DrawFn, zone: str) -> tuple[str, NthWeekday]:
    nths = draw(st.sets(st.sampled_from([1, 2, 3, 4, 5, LAST]), min_size=1))
    if nths == {5}:
        nths.add(1)  # a fifth one alone can be 28 years away (February): beyond the walk's patience
    weekday, months, (hour, minute) = draw(st.integers(0, 6)), draw(month_sets), draw(times_of_day)
    words = [("last" if n == LAST else draw(st.sampled_from(NTH_TEXT[n]))) for n in draw(st.permutations(sorted(nths)))]
    day = draw(st.sampled_from([DAY_TEXT[weekday], DAY_TEXT[weekday][:3]]))
    text = f"{','.join(words)} {day} of {_month_text(draw, months)}{_at(draw, hour, minute)}"
    return _noisy(draw, text), NthWeekday(tuple(sorted(nths)), weekday, months, hour, minute, zone)


@st.composite
def windows(draw: st.DrawFn, zone: str) -> tuple[str, Windowed]:
    step = draw(st.one_of(st.integers(1, 180), st.sampled_from([60, 120, 180, 240]), st.integers(181, 1440)))
    start, end = draw(st.integers(0, 1439)), draw(st.integers(0, 1439))
    days = draw(st.one_of(st.just((0, 1, 2, 3, 4, 5, 6)), day_sets))
    if step % 60 == 0 and draw(st.booleans()):
        every = "every hour" if step == 60 else f"every {step // 60} hours"
    else:
        every = "every minute" if step == 1 and draw(st.booleans()) else f"every {step} minutes"
    text = f"{every} from {start // 60}:{start % 60:02d} to {end // 60:02d}:{end % 60:02d}"
    if days != (0, 1, 2, 3, 4, 5, 6) or draw(st.booleans()):
        text += f" on {_day_text(draw, days)}"
    return _noisy(draw, text), Windowed(step, start, end, days, zone)


def word_schedules(zone: str) -> st.SearchStrategy[tuple[str, Weekly | MonthDays | NthWeekday | Windowed]]:
    return st.one_of(weekly(zone), month_days(zone), nth_weekdays(zone), windows(zone))


# --- oracles -------------------------------------------------------------------------------------


def cronsim_next(expressions: list[str], zone: str, after: float) -> float | None:
    """The earliest instant after `after` that any of the cron expressions names, as cronsim reads them."""
    tz = ZoneInfo(zone)
    found = []
    for expression in expressions:
        # cronsim steps wall-clock times: in a repeated hour it can offer one already past; walk on.
        for step, candidate in enumerate(CronSim(expression, datetime.fromtimestamp(math.floor(after), tz))):
            if candidate.timestamp() > after:
                found.append(candidate.timestamp())
                break
            if step > 100:
                break
    return min(found) if found else None


def cron_days(days: tuple[int, ...], shift: int = 0) -> str:
    return ",".join(str((d + 1 + shift) % 7) for d in days)  # cron counts from Sunday, 0


def as_cron(schedule: Weekly | MonthDays | Windowed) -> list[str]:
    """The schedule as cron expressions; minutes and hours are never '*', so cronsim uses Debian's
    rules for fixed times: a time in a gap runs at the gap's end, a repeated one once, at the first."""
    if isinstance(schedule, Weekly):
        return [f"{schedule.minute} {schedule.hour} * * {cron_days(schedule.days)}"]
    if isinstance(schedule, MonthDays):
        days = ",".join("L" if d == LAST else str(d) for d in schedule.days)
        return [f"{schedule.minute} {schedule.hour} {days} {','.join(map(str, schedule.months))} *"]
    end = schedule.end if schedule.end >= schedule.start else schedule.end + 1440
    by_hour: dict[tuple[int, int], list[int]] = {}
    for minute in range(schedule.start, end + 1, schedule.step):
        by_hour.setdefault((minute // 1440, minute % 1440 // 60), []).append(minute % 60)
    return [
        f"{','.join(map(str, minutes))} {hour} * * {cron_days(schedule.days, shift)}"
        for (shift, hour), minutes in by_hour.items()
    ]


def walk_next(
    is_slot: Callable[[datetime], bool], is_day: Callable[[date], bool], zone: str, after: float
) -> float | None:
    """The first whole minute after `after` at which a slot fires, found by walking the zone's clock.

    A slot is a wall time; it fires at its first occurrence (a repeated hour's second pass does not
    fire), and a slot the clock skips (a DST gap) fires at the first minute after the gap. Hours of
    days that hold no slot are stepped over whole, when no clock change lies within them.
    """
    tz = ZoneInfo(zone)
    t = math.floor(after / 60) * 60.0
    t = t + 60 if t <= after else t
    previous = datetime.fromtimestamp(t - 60, tz)
    while t < after + ORACLE_HORIZON:
        now = datetime.fromtimestamp(t, tz)
        wall, before = now.replace(tzinfo=None), previous.replace(tzinfo=None)
        if is_slot(wall) and now.fold == 0:
            return t
        skipped = before + timedelta(minutes=1)
        while skipped < wall:  # the wall times a gap skipped
            if is_slot(skipped):
                return t
            skipped += timedelta(minutes=1)
        later = datetime.fromtimestamp(t + 3600, tz)
        if (
            not is_day(wall.date())
            and not is_day(later.date())
            and later.replace(tzinfo=None) - wall == timedelta(hours=1)
        ):
            previous, t = datetime.fromtimestamp(t + 3540, tz), t + 3600
        else:
            previous, t = now, t + 60
    return None


def days_predicate(schedule: Weekly | MonthDays | NthWeekday, anchor_day: date) -> Callable[[date], bool]:
    if isinstance(schedule, Weekly):
        mondays = (anchor_day.toordinal() - anchor_day.weekday()) // 7

        def weekly_day(d: date) -> bool:
            weeks_on = (d.toordinal() - d.weekday()) // 7 - mondays
            return d.weekday() in schedule.days and weeks_on % schedule.weeks == 0

        return weekly_day
    if isinstance(schedule, MonthDays):

        def month_day(d: date) -> bool:
            last = d.day == calendar.monthrange(d.year, d.month)[1]
            return d.month in schedule.months and (d.day in schedule.days or (LAST in schedule.days and last))

        return month_day

    def nth_weekday(d: date) -> bool:
        nth = (d.day - 1) // 7 + 1
        last = d.day + 7 > calendar.monthrange(d.year, d.month)[1]
        wanted = nth in schedule.nths or (LAST in schedule.nths and last)
        return d.month in schedule.months and d.weekday() == schedule.weekday and wanted

    return nth_weekday


def walked(schedule: Weekly | MonthDays | NthWeekday, anchor: float) -> Callable[[float], float | None]:
    is_day = days_predicate(schedule, datetime.fromtimestamp(anchor, ZoneInfo(schedule.zone)).date())

    def is_slot(wall: datetime) -> bool:
        return (wall.hour, wall.minute) == (schedule.hour, schedule.minute) and is_day(wall.date())

    return lambda after: walk_next(is_slot, is_day, schedule.zone, after)


def agree(ours: Callable[[float], float | None], oracle: Callable[[float], float | None], after: float) -> None:
    """The next five slots from `after` are the oracle's."""
    at = after
    for _ in range(5):
        expected, got = oracle(at), ours(at)
        assert got == expected, (at, got, expected)
        if got is None:
            return
        at = got


# --- properties ----------------------------------------------------------------------------------


@checks(200)
@given(data=st.data())
def test_each_form_reads_as_what_it_says_and_its_stored_text_reads_back(data: st.DataObject) -> None:
    zone = data.draw(zones)
    text, expected = data.draw(word_schedules(zone))
    assert parse_schedule(text, zone) == expected
    assert grammar.is_schedule(text), text  # the published pattern takes what the server takes
    stored = expected.format()
    assert parse_schedule(stored, zone) == expected and parse_schedule(stored, zone).format() == stored


@checks(120)
@given(data=st.data())
def test_weekdays_and_days_of_the_month_fire_where_cronsim_says(data: st.DataObject) -> None:
    zone = data.draw(zones)
    _, schedule = data.draw(st.one_of(weekly(zone, weeks=1), month_days(zone)))
    after = data.draw(instants(zone))
    expressions = as_cron(schedule)
    agree(lambda t: schedule.next_after(t, after), lambda t: cronsim_next(expressions, zone, t), after)


@checks(120)
@given(data=st.data())
def test_windows_fire_where_cronsim_says(data: st.DataObject) -> None:
    zone = data.draw(zones)
    _, schedule = data.draw(windows(zone))
    after = data.draw(instants(zone))
    expressions = as_cron(schedule)
    agree(lambda t: schedule.next_after(t, after), lambda t: cronsim_next(expressions, zone, t), after)


@checks(80)
@given(data=st.data())
def test_nth_weekdays_last_days_and_every_n_weeks_fire_where_the_walk_finds_them(data: st.DataObject) -> None:
    zone = data.draw(zones)
    _, schedule = data.draw(st.one_of(nth_weekdays(zone), month_days(zone, last=True), weekly(zone)))
    after = data.draw(instants(zone))
    anchor = after - data.draw(st.one_of(st.just(0), st.integers(0, 3 * 366 * 86400)))
    agree(lambda t: schedule.next_after(t, anchor), walked(schedule, anchor), after)


@checks(100)
@given(data=st.data())
def test_latest_at_or_before_is_the_slot_before_the_next(data: st.DataObject) -> None:
    zone = data.draw(zones)
    _, schedule = data.draw(word_schedules(zone))
    now = data.draw(instants(zone))
    anchor = now - data.draw(st.integers(0, 2 * 366 * 86400))
    latest = schedule.latest_at_or_before(now, anchor)
    following = schedule.next_after(now, anchor)
    assert following is not None and following > now
    if latest is not None:
        assert anchor < latest <= now and schedule.next_after(latest, anchor) == following


VOCABULARY = [
    *"every once of on from to the each week weeks day days month weekday weekdays weekend weekends".split(),
    *"monday mon fridays sat january jan dec may first fifth last 1st 2nd 15th 31st 32nd 0th".split(),
    *"minute minutes hour hours second seconds 5 0 61 1440 1441 24 25 @ , 9:30 09:00 23:59 24:00 7:5 x".split(),
]


@checks(400)
@given(
    words=st.lists(st.sampled_from(VOCABULARY), min_size=1, max_size=9),
    joints=st.lists(st.sampled_from([" ", "  ", "\t"]), min_size=9, max_size=9),
)
def test_the_published_pattern_takes_exactly_what_the_reader_reads(words: list[str], joints: list[str]) -> None:
    text = "".join(w + j for w, j in zip(words, joints, strict=False)).strip()
    try:
        parse_schedule(text, "UTC")
        parses = True
    except Invalid:
        parses = False
    assert grammar.is_schedule(text) == parses, text


@checks(200)
@given(data=st.data(), junk=st.sampled_from(["moon", "fortnight", "onn", "25:61", "x1", "mondayy"]))
def test_a_word_spoiled_in_a_good_schedule_is_the_position_named(data: st.DataObject, junk: str) -> None:
    """Every word before the spoiled one is a good schedule's, so the reader stops at the spoiled one."""
    text, _ = data.draw(word_schedules("UTC"))
    words = text.replace(",", " , ").replace("@", " @ ").split()
    spoiled = data.draw(st.integers(0, len(words) - 1))
    words[spoiled] = junk
    broken = " ".join(words)
    try:
        parse_schedule(broken, "UTC")
    except Invalid as exc:
        assert exc.data["position"] == broken.index(junk), (broken, exc.description)
        assert exc.data["word"] == junk
    else:
        raise AssertionError(f"{broken!r} parsed")


@checks(100)
@given(data=st.data(), catch_up=st.sampled_from(list(CatchUp)))
def test_catch_up_plans_of_forms_in_words_run_only_past_slots_and_move_past_now(
    data: st.DataObject, catch_up: CatchUp
) -> None:
    """After a stall (up to ten days), the plan runs slots of the schedule between the held one and
    now, and the next run is after now: the scheduler's use of next_after and latest_at_or_before."""
    zone = data.draw(zones)
    _, schedule = data.draw(word_schedules(zone))
    anchor = data.draw(instants(zone))
    due = schedule.next_after(anchor, anchor)
    assert due is not None
    now = due + data.draw(st.integers(0, 10 * 86400))
    plan = plan_slots(schedule, anchor, due, now, CatchUpPolicy(catch_up=catch_up, max_catch_up=20))
    assert plan.next_run is not None and plan.next_run > now
    assert list(plan.run) == sorted(set(plan.run)) and all(due <= slot <= now for slot in plan.run)
    for slot in plan.run:  # each run is a slot: the next slot after the one before it is itself
        assert schedule.next_after(slot - 0.5, anchor) == slot
    if catch_up is CatchUp.LATEST:
        assert plan.run == (schedule.latest_at_or_before(now, anchor),)
