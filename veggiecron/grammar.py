"""The grammars of schedules a client writes, as regular expressions the server checks and the OpenAPI
document publishes (see patterns.py): a string the document's pattern takes is one the server takes.

- a native schedule: every [N] second(s)|minute(s)|hour(s), every [N] day(s) @ HH:MM,
  once @ <epoch seconds | YYYY-MM-DDTHH:MM:SS[.ffffff](Z|±HH:MM)>, a 5-field cron expression, or one
  of the forms in words schedule_reader.py reads (the same words, commas and `@` as it takes),
  `after <job> [fails|finishes]` among them;
- a Seed interval_definition: "<N> <days|hours|minutes|seconds|microseconds>", whole seconds;
- a cron expression: each field as cronsim reads it (lists, ranges low to high, steps, names,
  L and LW in the day of the month, nL and n#k in the day of the week), except the ones cronsim
  refuses because they name no day that exists (NEVER_CRON, published as a `not` pattern).

Numbers are bounded as the parser bounds them (intervals up to 366 days, at least the configured
shortest interval). Schedules already stored are read by schedules.parse_schedule, which is looser.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from zoneinfo import available_timezones

from .errors import Invalid
from .patterns import SPACE, any_case, int_range
from .schedule_reader import DAY_WORDS, MONTH_WORDS, NTH_WORDS, ORDINALS
from .schedules import GRAMMAR, MAX_DAYS, MAX_EPOCH, MAX_INTERVAL_SECONDS
from .wall_schedules import MAX_WEEKS, ordinal

S = SPACE
_MONTHS = "JAN FEB MAR APR MAY JUN JUL AUG SEP OCT NOV DEC".split()
_DAYS = "SUN MON TUE WED THU FRI SAT".split()
_STEP = "/0*[1-9][0-9]*"
DAYS_IN_MONTH = {m: d for m, d in zip(range(1, 13), (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31), strict=True)}


def _names(field: str) -> dict[int, str]:
    if field == "month":
        return {i + 1: name for i, name in enumerate(_MONTHS)}
    if field == "dow":
        return dict(enumerate(_DAYS))
    return {}


FIELDS = {"minute": (0, 59), "hour": (0, 23), "dom": (1, 31), "month": (1, 12), "dow": (0, 7)}


def _value(field: str, low: int, high: int) -> str:
    """One value from low to high: digits (leading zeros allowed) or, for months and days, a name."""
    names = [any_case(n) for v, n in _names(field).items() if low <= v <= high]
    return "(?:" + "|".join([int_range(low, high), *names]) + ")"


def _range(field: str) -> str:
    """start-end with start <= end (cronsim refuses a range that runs backwards)."""
    low, high = FIELDS[field]
    return "(?:" + "|".join(f"{_value(field, a, a)}-{_value(field, a, high)}" for a in range(low, high + 1)) + ")"


def _term(field: str) -> str:
    low, high = FIELDS[field]
    forms = [f"\\*(?:{_STEP})?", f"{_range(field)}(?:{_STEP})?", f"{_value(field, low, high)}(?:{_STEP})?"]
    if field == "dom":
        forms.append(f"{any_case('l')}(?:{any_case('w')})?(?:{_STEP})?")
    if field == "dow":
        forms.append(f"{int_range(0, 7)}{any_case('l')}")
        forms.append(f"{_value(field, 0, 7)}#0*[1-5]")
    return "(?:" + "|".join(forms) + ")"


def _list(term: str) -> str:
    return f"{term}(?:,{term})*"


def _cron(dom: str, month: str, dow: str) -> str:
    minute, hour = _list(_term("minute")), _list(_term("hour"))
    return f"{S}*{minute}{S}+{hour}{S}+{dom}{S}+{month}{S}+{dow}{S}*"


def _month_terms_within(months: frozenset[int]) -> str:
    """The month terms whose months all lie in `months` ("*" always takes January: never)."""
    forms = []
    for a in range(1, 13):
        for b in range(a, 13):
            span = list(range(a, b + 1))
            start = _value("month", a, a) if a == b else f"{_value('month', a, a)}-{_value('month', b, b)}"
            if set(span) <= months:
                forms.append(start)  # no step: every month of the span
            plain = [start] if a == b else [start]
            for step in range(1, len(span) if a < b else 13 - a):
                chosen = set(span[::step] if a < b else range(a, 13)[::step])
                if chosen <= months:
                    forms.extend(f"{p}/0*{step}" for p in plain)
            # a step at least as long as the span leaves only the start
            longest = len(span) if a < b else 13 - a
            if a in months:
                forms.append(f"{start}/{int_range(longest, 10**18)}")
    return "(?:" + "|".join(forms) + ")"


def _dom_terms(days: frozenset[int]) -> str:
    """Day-of-month terms whose days all lie in `days` (only 30 and 31 matter here)."""
    forms = []
    for a in sorted(days):
        for b in range(a, 32):
            span = set(range(a, b + 1))
            start = _value("dom", a, a) if a == b else f"{_value('dom', a, a)}-{_value('dom', b, b)}"
            if span <= days:
                forms.append(f"{start}(?:{_STEP})?")
            elif a in days:
                forms.append(f"{start}/{int_range(b - a + 1, 10**18)}")  # the step leaves only the start
        if a < 31 and a + 1 not in days:
            forms.append(f"{_value('dom', a, a)}/{int_range(32 - a, 10**18)}")
    return "(?:" + "|".join(forms) + ")"


@functools.cache
def cron_pattern() -> str:
    """A 5-field cron expression cronsim reads (before NEVER_CRON is taken out)."""
    return f"^{_cron(_list(_term('dom')), _list(_term('month')), _list(_term('dow')))}$"


@functools.cache
def never_cron_pattern() -> str:
    """The expressions cronsim refuses as naming no real day: day of month and month must both match
    (one of day fields starts with '*'), every day named is past the end of every month named."""
    star_dow = f"\\*[^{S[1:-1]}]*"
    short31 = frozenset(m for m, d in DAYS_IN_MONTH.items() if d < 31)
    only31 = _list(_dom_terms(frozenset({31})))
    high = _list(_dom_terms(frozenset({30, 31})))
    feb = _list(_month_terms_within(frozenset({2})))
    months31 = _list(_month_terms_within(short31))
    return f"^(?:{_cron(only31, months31, star_dow)}|{_cron(high, feb, star_dow)})$"


@functools.cache
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


@functools.cache
def never_schedule_pattern() -> str:
    """The schedules that name no real day: such cron expressions, and days of the month that none of
    the months named has (the 30th of February, the 31st of April)."""
    return f"^(?:{never_cron_pattern()[1:-1]}|{S}*(?:{_never_month_days()}){S}*)$"


def is_cron(text: str) -> bool:
    return bool(_compiled(cron_pattern()).fullmatch(text)) and not _compiled(never_cron_pattern()).fullmatch(text)


def _at_least(unit_seconds: int, min_seconds: int) -> int:
    return max(1, -(-min_seconds // unit_seconds))


@functools.cache
def schedule_pattern(min_interval: int = 1) -> str:
    """A native schedule (see the module's docstring); intervals from `min_interval` seconds (quotas)."""
    every = any_case("every")
    units = []
    for unit, size in (("second", 1), ("minute", 60), ("hour", 3600)):
        low = _at_least(size, min_interval)
        if low <= MAX_INTERVAL_SECONDS // size:
            count = f"{S}+{int_range(low, MAX_INTERVAL_SECONDS // size)}"
            optional = "?" if low == 1 else ""  # "every minute" is one minute
            units.append(f"{every}(?:{count}){optional}{S}+{any_case(unit)}[Ss]?")
    daily = (
        f"{every}(?:{S}+{int_range(1, MAX_DAYS)})?{S}+{any_case('day')}[Ss]?{S}*@{S}*(?:[01]?[0-9]|2[0-3]):[0-5][0-9]"
    )
    once = f"{any_case('once')}{S}*@{S}*(?:{EPOCH}|{INSTANT})"
    cron = cron_pattern()[1:-1]
    words = _word_forms(min_interval)
    return f"^(?:{S}*(?:{'|'.join([*units, daily, once, *words])}){S}*|{cron})$"


# The forms in words, as schedule_reader.py reads them: words in any case, commas with spaces or
# none around them, `@` with or without spaces, times H:MM or HH:MM.
_COMMA = f"{S}*,{S}*"
_CLOCK = "(?:[01]?[0-9]|2[0-3]):[0-5][0-9]"
_AT = f"{S}*@{S}*{_CLOCK}"


def _one_of(words: Iterable[str]) -> str:
    return "(?:" + "|".join(any_case(w) for w in sorted(words, key=lambda w: (-len(w), w))) + ")"


def _listed(item: str) -> str:
    return f"{item}(?:{_COMMA}{item})*"


def _word(word: str) -> str:
    return any_case(word)


_DAY = _one_of(DAY_WORDS)
_DAY_SET = (
    f"(?:{_word('weekday')}[Ss]?|{_word('weekend')}(?:{S}+{_word('day')}[Ss]?)?|{_word('weekends')}|{_listed(_DAY)})"
)
_MONTH_SET = f"(?:(?:{_one_of(('the', 'every', 'each'))}{S}+)?{_word('month')}|{_listed(_one_of(MONTH_WORDS))})"
_OF = f"{S}+{_word('of')}{S}+"


def _word_forms(min_interval: int) -> list[str]:
    every = _word("every")
    weekly = f"{every}{S}+(?:{_DAY_SET}|{_word('business')}{S}+{_word('day')}[Ss]?){_AT}"
    weeks = f"{every}(?:{S}+{int_range(1, MAX_WEEKS)})?{S}+{_word('week')}[Ss]?{S}+{_word('on')}{S}+{_DAY_SET}{_AT}"
    month_days = f"{_listed(_one_of(ORDINALS))}(?:{S}+{_word('day')}[Ss]?)?{_OF}{_MONTH_SET}{_AT}"
    nths = [*NTH_WORDS, *(ordinal(n) for n in range(1, 6))]
    nth_weekday = f"{_listed(_one_of(nths))}{S}+{_DAY}{_OF}{_MONTH_SET}{_AT}"
    # A follower's: after <job> [fails|finishes] (a job's name, as job_fields.NAME_PATTERN takes it).
    after = f"{_word('after')}{S}+[A-Za-z0-9_][A-Za-z0-9_.:-]{{0,127}}(?:{S}+(?:{_word('fails')}|{_word('finishes')}))?"
    forms = [weekly, weeks, month_days, nth_weekday, after]
    for unit, size, most in (("minute", 60, 1440), ("hour", 3600, 24)):
        low = _at_least(size, min_interval)
        if low <= most:
            count = f"(?:{S}+{int_range(low, most)})" + ("?" if low == 1 else "")
            window = f"{S}+{_word('from')}{S}+{_CLOCK}{S}+{_word('to')}{S}+{_CLOCK}(?:{S}+{_word('on')}{S}+{_DAY_SET})?"
            forms.append(f"{every}{count}{S}+{_word(unit)}[Ss]?{window}")
    return forms


def _never_month_days() -> str:
    """Days of the month that none of the months named has."""
    day = f"(?:{S}+{_word('day')}[Ss]?)?"
    feb = _listed(_one_of(("feb", "february")))
    short = _listed(_one_of(("feb", "february", "apr", "april", "jun", "june", "sep", "september", "nov", "november")))
    past_feb = _listed(_one_of(("30th", "31st")))
    return f"{past_feb}{day}{_OF}{feb}{_AT}|{_listed(_word('31st'))}{day}{_OF}{short}{_AT}"


def is_schedule(text: str, min_interval: int = 1) -> bool:
    return bool(_compiled(schedule_pattern(min_interval)).fullmatch(text)) and not _compiled(
        never_schedule_pattern()
    ).fullmatch(text)


@functools.cache
def interval_pattern(min_interval: int = 1) -> str:
    """A Seed interval_definition of whole seconds from `min_interval` up to 366 days."""
    forms = []
    for unit, size in (("days", 86400), ("hours", 3600), ("minutes", 60), ("seconds", 1)):
        low = _at_least(size, min_interval)
        if low <= MAX_INTERVAL_SECONDS // size:
            forms.append(f"{int_range(low, MAX_INTERVAL_SECONDS // size)}{S}+{unit}")
    forms.append(f"{int_range(max(1, min_interval), MAX_INTERVAL_SECONDS)}000000{S}+microseconds")
    return f"^{S}*(?:{'|'.join(forms)}){S}*$"


def is_interval(text: str, min_interval: int = 1) -> bool:
    return bool(_compiled(interval_pattern(min_interval)).fullmatch(text))


# Epoch seconds up to MAX_EPOCH, and an RFC 3339 time from 1971 to 9998 (so that no offset moves it
# out of that range); February 29th only in leap years.
_MAX = int(MAX_EPOCH)
EPOCH = f"(?:{int_range(0, _MAX - 1)}(?:\\.[0-9]+)?|0*{_MAX}(?:\\.0+)?)"
_YEAR = "(?:197[1-9]|19[89][0-9]|[2-8][0-9]{3}|9[0-8][0-9]{2}|99[0-8][0-9]|999[0-8])"
_LEAP = "(?:19(?:7[26]|8[048]|9[26])|[2-9][0-9](?:0[48]|[2468][048]|[13579][26])|(?:[2468][048]|[3579][26])00)"
_DATE = (
    f"(?:{_YEAR}-(?:(?:0[13578]|1[02])-(?:0[1-9]|[12][0-9]|3[01])|(?:0[469]|11)-(?:0[1-9]|[12][0-9]|30)"
    f"|02-(?:0[1-9]|1[0-9]|2[0-8]))|{_LEAP}-02-29)"
)
_TIME = "(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\\.[0-9]{1,6})?"
INSTANT = f"{_DATE}[Tt]{_TIME}(?:[Zz]|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])"


@functools.cache
def zone_names() -> frozenset[str]:
    """The IANA zone names a client may give (the OpenAPI document lists them)."""
    return frozenset(available_timezones())


def check_new_schedule(text: object) -> None:
    """A schedule a client writes (parse_schedule has read it already): in the published grammar."""
    if isinstance(text, str) and not is_schedule(text):
        # The reader took it, so what the grammar refuses is a character outside ASCII (a digit or
        # space of another script), which no reader of the published pattern takes.
        position = next((i for i, c in enumerate(text) if not c.isascii()), 0)
        raise Invalid(
            "schedule",
            f"schedule {text.strip()[:80]!r} has a character the grammar does not take at position {position}; "
            f"a schedule is one of: {GRAMMAR}",
            {"grammar": GRAMMAR, "position": position},
        )


def check_new_zone(name: object) -> None:
    if name not in zone_names():
        raise Invalid("timezone", f"unknown time zone: {str(name)[:64]!r}; give an IANA name such as 'Europe/London'")


def check_new_instant(raw: dict[str, object], name: str) -> None:
    """A start_at or end_at a client writes: epoch seconds, or a time in the published form."""
    value = raw.get(name)
    if isinstance(value, str) and not _compiled(f"^{INSTANT}$").fullmatch(value):
        raise Invalid(name, f"{name} must be epoch seconds or a time such as 2030-01-01T00:00:00Z")
