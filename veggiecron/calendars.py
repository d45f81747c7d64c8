"""Calendars: named sets of dates a job's schedule skips (its `skip_calendars`).

A calendar is either dates its owner lists (single days and ranges) or the public holidays of a
country (and subdivision) or the closed days of a financial market, from the `holidays` library.
Pure: parsing a request into a CalendarSpec, and answering whether a date is in it.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Container
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from .errors import Invalid

if TYPE_CHECKING:
    from holidays import HolidayBase

NAME_PATTERN = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
SHARED_PREFIX = "shared:"  # how every user names a calendar an admin shared
MAX_DATE_ENTRIES = 1000
MAX_DAYS_LISTED = 3660  # ten years of listed days in one calendar, ranges counted day by day
MAX_SKIP_CALENDARS = 16


def validate_calendar_name(name: object) -> str:
    """A calendar's own name (not `shared:`, which is how others name a shared one)."""
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        raise Invalid("name", "name must be 1 to 64 characters: letters, digits, '_', '.', ':' or '-'")
    if name.lower().startswith(SHARED_PREFIX):
        raise Invalid("name", f"name may not start with {SHARED_PREFIX!r}: that is how shared calendars are named")
    return name


def validate_reference(ref: object, field: str = "skip_calendars") -> str:
    """A name a job uses for a calendar: its owner's own name, or `shared:<name>`."""
    if not isinstance(ref, str):
        raise Invalid(field, f"{field} must be a list of calendar names")
    # A name no calendar can have (an own one starting with "shared:") is read, and then not found.
    if not NAME_PATTERN.fullmatch(ref) and not (
        ref.startswith(SHARED_PREFIX) and NAME_PATTERN.fullmatch(ref[len(SHARED_PREFIX) :])
    ):
        raise Invalid(field, f"{field}: {ref[:80]!r} is not a calendar name")
    return ref


def validate_references(value: object, field: str = "skip_calendars") -> tuple[str, ...]:
    if not isinstance(value, list | tuple):
        raise Invalid(field, f"{field} must be a list of calendar names")
    if len(value) > MAX_SKIP_CALENDARS:
        raise Invalid(field, f"a job skips the days of at most {MAX_SKIP_CALENDARS} calendars")
    return tuple(dict.fromkeys(validate_reference(ref, field) for ref in value))


@dataclass(frozen=True, slots=True)
class CalendarSpec:
    """What a calendar holds: listed date ranges (inclusive), or a country's or market's holidays."""

    ranges: tuple[tuple[date, date], ...] = ()
    country: str | None = None
    subdivision: str | None = None
    market: str | None = None

    def to_json(self) -> dict[str, Any]:
        if self.market is not None:
            return {"holidays": {"market": self.market}}
        if self.country is not None:
            found: dict[str, Any] = {"country": self.country}
            if self.subdivision is not None:
                found["subdivision"] = self.subdivision
            return {"holidays": found}
        return {
            "dates": [
                first.isoformat() if first == last else {"from": first.isoformat(), "to": last.isoformat()}
                for first, last in self.ranges
            ]
        }

    def days(self) -> DaySet:
        return _day_set(self)


def parse_spec(fields: dict[str, Any]) -> CalendarSpec:
    """A calendar's `dates` or `holidays` from a request (exactly one of them); Invalid names the fault."""
    if ("dates" in fields) == ("holidays" in fields):
        raise Invalid("dates", "a calendar has either dates or holidays (one of them)")
    if "dates" in fields:
        return CalendarSpec(ranges=_parse_dates(fields["dates"]))
    import holidays  # a tenth of a second to import: only where a calendar of holidays is read

    found = fields["holidays"]
    if not isinstance(found, dict):
        raise Invalid(
            "holidays", 'holidays must be an object: {"country": "US", "subdivision": "CA"} or {"market": "NYSE"}'
        )
    unknown = set(found) - {"country", "subdivision", "market"}
    if unknown:
        raise Invalid("holidays", f"unknown holidays field {sorted(unknown)[0]!r}; use country, subdivision or market")
    if "market" in found:
        if set(found) != {"market"}:
            raise Invalid("holidays", "holidays.market is given alone")
        market = found["market"]
        if not isinstance(market, str) or market not in holidays.list_supported_financial():
            raise Invalid("holidays.market", f"holidays.market must be one of: {', '.join(_markets())}")
        return CalendarSpec(market=market)
    country, subdivision = found.get("country"), found.get("subdivision")
    supported = holidays.list_supported_countries()
    if not isinstance(country, str) or country not in supported:
        raise Invalid(
            "holidays.country",
            "holidays.country must be an ISO 3166-1 alpha-2 code the holidays library knows, such as US",
        )
    if "subdivision" in found and (not isinstance(subdivision, str) or subdivision not in supported[country]):
        choices = ", ".join(supported[country][:40]) or "none"
        raise Invalid("holidays.subdivision", f"holidays.subdivision of {country} must be one of: {choices}")
    return CalendarSpec(country=country, subdivision=subdivision)


def _markets() -> list[str]:
    import holidays

    return sorted(holidays.list_supported_financial())


def _parse_dates(value: object) -> tuple[tuple[date, date], ...]:
    if not isinstance(value, list) or not value:
        raise Invalid(
            "dates", 'dates must be a non-empty list of dates ("2026-12-24") and ranges ({"from": ..., "to": ...})'
        )
    if len(value) > MAX_DATE_ENTRIES:
        raise Invalid("dates", f"a calendar lists at most {MAX_DATE_ENTRIES} dates and ranges")
    ranges = []
    total = 0
    for i, entry in enumerate(value):
        field = f"dates[{i}]"
        if isinstance(entry, dict):
            if set(entry) != {"from", "to"}:
                raise Invalid(field, f'{field} must be a date or {{"from": "YYYY-MM-DD", "to": "YYYY-MM-DD"}}')
            first, last = _date(entry["from"], f"{field}.from"), _date(entry["to"], f"{field}.to")
            if last < first:
                raise Invalid(field, f"{field}: 'to' is before 'from'")
        else:
            first = last = _date(entry, field)
        total += (last - first).days + 1
        if total > MAX_DAYS_LISTED:
            raise Invalid("dates", f"a calendar lists at most {MAX_DAYS_LISTED} days in all")
        ranges.append((first, last))
    return tuple(sorted(set(ranges)))


def _date(value: object, field: str) -> date:
    if isinstance(value, str) and len(value) == 10:
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise Invalid(field, f"{field} must be a date written YYYY-MM-DD")


def spec_from_json(raw: dict[str, Any]) -> CalendarSpec:
    """A stored calendar's spec (written by to_json, so valid)."""
    if "dates" in raw:
        return CalendarSpec(ranges=_parse_dates(raw["dates"]))
    found = raw["holidays"]
    return CalendarSpec(country=found.get("country"), subdivision=found.get("subdivision"), market=found.get("market"))


class DaySet(Container[date]):
    """Membership of dates in one calendar; holidays are computed a year at a time as asked."""

    __slots__ = ("_days", "_holidays")

    def __init__(self, days: frozenset[date], found: HolidayBase | None) -> None:
        self._days = days
        self._holidays = found

    def __contains__(self, day: object) -> bool:
        if self._holidays is not None:
            return day in self._holidays  # expands the year on first use
        return day in self._days


@functools.lru_cache(maxsize=256)
def _day_set(spec: CalendarSpec) -> DaySet:
    import holidays

    if spec.market is not None:
        return DaySet(frozenset(), holidays.financial_holidays(spec.market))
    if spec.country is not None:
        return DaySet(frozenset(), holidays.country_holidays(spec.country, subdiv=spec.subdivision))
    days: set[date] = set()
    for first, last in spec.ranges:
        days.update(first + timedelta(days=n) for n in range((last - first).days + 1))
    return DaySet(frozenset(days), None)


@dataclass(frozen=True, slots=True)
class Calendar:
    """A stored calendar; `ref` is the name jobs use for it."""

    id: int
    user_id: int
    name: str
    shared: bool
    spec: CalendarSpec
    date_created: float
    date_updated: float

    @property
    def ref(self) -> str:
        return SHARED_PREFIX + self.name if self.shared else self.name
