"""Per-job scheduling policy as pure functions of (job settings, now, state): overlap, catch-up,
grace, jitter and the start_at/end_at window.

The scheduler calls these; tests call them with plain numbers, no clock. How a run is delivered
(retries, backoff) is its job type's business (jobtypes/http/delivery.py).
"""

from __future__ import annotations

import functools
import hashlib
import math
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from .calendars import validate_references
from .errors import Invalid
from .schedules import MAX_EPOCH, Interval
from .times import iso_utc_micros

# A slot this close to `now` is on time, whatever the catch-up policy.
ON_TIME_SECONDS = 1.0
# Bound on how many past slots one pass enumerates (a year of `every 1 seconds` is not walked).
MAX_SLOTS_EXAMINED = 10_000


class Overlap(StrEnum):
    SKIP = "skip"  # a slot due while the previous run is in flight is skipped (recorded)
    ALLOW = "allow"  # runs overlap freely
    BUFFER_ONE = "buffer_one"  # at most one run waits for the one in flight
    REPLACE = "replace"  # the run in flight is cancelled and the new one starts


class CatchUp(StrEnum):
    LATEST = "latest"  # one run for all missed slots
    ALL = "all"  # every missed slot, oldest first, up to max_catch_up
    NONE = "none"  # missed slots are not run


class Timing(Protocol):
    def next_after(self, after: float, anchor: float) -> float | None: ...

    def latest_at_or_before(self, at: float, anchor: float) -> float | None: ...


CALENDAR_END_MARGIN = 400 * 86400.0  # a schedule's step near year 9999 may cross it (a year, a zone)


@dataclass(frozen=True, slots=True)
class Window:
    """start_at / end_at: the job fires only inside [start_at, end_at]."""

    start_at: float | None = None
    end_at: float | None = None

    def next_after(self, schedule: Timing, after: float, anchor: float) -> float | None:
        """The schedule's first time after `after` that lies inside the window, or None."""
        if self.start_at is not None and after < self.start_at:
            after = math.nextafter(self.start_at, -math.inf)
        try:
            candidate = schedule.next_after(after, anchor)
        except (OverflowError, ValueError):
            # Wall-clock schedules step through dates: past the calendar's end there is no date.
            if after < MAX_EPOCH - CALENDAR_END_MARGIN:
                raise
            return None
        if candidate is None or (self.end_at is not None and candidate > self.end_at):
            return None
        if candidate > MAX_EPOCH:  # the calendar ends with year 9999: a later slot never comes
            return None
        return candidate

    def latest_at_or_before(self, schedule: Timing, at: float, anchor: float) -> float | None:
        if self.end_at is not None:
            at = min(at, self.end_at)
        candidate = schedule.latest_at_or_before(at, anchor)
        if candidate is None or (self.start_at is not None and candidate < self.start_at):
            return None
        return candidate


@dataclass(frozen=True, slots=True)
class Jittered:
    """A schedule shifted later by a fixed offset (the job's jitter)."""

    schedule: Timing
    offset: float

    def next_after(self, after: float, anchor: float) -> float | None:
        candidate = self.schedule.next_after(after - self.offset, anchor)
        if candidate is None:
            return None
        if candidate + self.offset <= after:
            # `after` was this very slot, and `after - offset` rounded to just below the schedule's
            # time it came from, which came back again: the slot after it is the next one.
            candidate = self.schedule.next_after(candidate, anchor)
            return None if candidate is None else candidate + self.offset
        return candidate + self.offset

    def latest_at_or_before(self, at: float, anchor: float) -> float | None:
        candidate = self.schedule.latest_at_or_before(at - self.offset, anchor)
        return None if candidate is None else candidate + self.offset


def jitter_offset(job_key: int | str, jitter_seconds: float) -> float:
    """A stable offset in [0, jitter_seconds) for this job: the same job always gets the same one."""
    if jitter_seconds <= 0:
        return 0.0
    digest = hashlib.sha256(f"veggiecron-jitter-{job_key}".encode()).digest()
    fraction = (int.from_bytes(digest[:8], "big") >> 11) / 2**53  # exactly representable, below 1
    offset = fraction * jitter_seconds
    return offset if offset < jitter_seconds else 0.0


@dataclass(frozen=True, slots=True)
class SlotPlan:
    run: tuple[float, ...]  # slots to run now, oldest first
    missed: tuple[float, ...]  # slots recorded as missed and not run
    next_run: float | None  # the first slot after now
    # Past slots neither run nor recorded (catch_up=all keeps max_catch_up of each), said in
    # words for the oldest missed record: empty when every slot is accounted for.
    dropped: str = ""


@dataclass(frozen=True, slots=True)
class SlotRange:
    """The slots from a first one through a moment: the newest listed, all of them counted."""

    newest: tuple[float, ...]  # the newest slots of the range, oldest first
    count: int  # how many slots the range holds; when not `exact`, a lower bound
    exact: bool
    first: float
    last: float

    def count_text(self, count: int | None = None) -> str:
        """`count` (default: the range's) as a log line or run record says it."""
        count = self.count if count is None else count
        return f"{count:,}" if self.exact else f"more than {count:,}"


@dataclass(frozen=True, slots=True)
class CatchUpPolicy:
    catch_up: CatchUp = CatchUp.LATEST
    max_catch_up: int = 100
    grace_seconds: float | None = None
    window: Window = Window()  # noqa: RUF009 - frozen, so sharing the default is safe


def plan_slots(schedule: Timing, anchor: float, due: float, now: float, policy: CatchUpPolicy) -> SlotPlan:
    """Decide what runs when the scheduler reaches a job whose slot `due` is at or before `now`.

    On time (the usual case) this is just (due,). After downtime or a stall:
    - latest: one run, for the latest slot at or before now;
    - all: the newest max_catch_up slots since `due` within grace run, oldest first; the newest
      max_catch_up of the others are recorded as missed, and the oldest record counts the rest;
    - none: only a slot within ON_TIME_SECONDS of now runs.
    A slot more than grace_seconds late is missed, not run. Under latest and none, a skipped range
    is recorded as one missed slot (its oldest), not one record per slot.
    """
    window = policy.window
    next_run = window.next_after(schedule, now, anchor)
    grace = policy.grace_seconds

    def within_grace(slot: float) -> bool:
        return grace is None or now - slot <= grace

    if policy.catch_up is CatchUp.ALL:
        keep = policy.max_catch_up
        span = slots_through(schedule, window, anchor, due, now, keep=2 * keep)
        eligible = [slot for slot in span.newest if within_grace(slot)]
        to_run = eligible[-keep:] if keep > 0 else []
        running = set(to_run)
        not_run = [slot for slot in span.newest if slot not in running][-keep:]
        dropped = span.count - len(to_run) - len(not_run)
        note = ""
        if dropped > 0:
            oldest_kept = min(not_run[:1] + to_run[:1])
            before = window.latest_at_or_before(schedule, math.nextafter(oldest_kept, -math.inf), anchor)
            note = (
                f"{span.count_text(dropped)} older slots due from {iso_utc_micros(span.first)} to "
                f"{iso_utc_micros(before if before is not None else span.first)} were neither run nor recorded: "
                f"catch_up=all runs the newest max_catch_up ({keep}) and records as many missed"
            )
        return SlotPlan(tuple(to_run), tuple(not_run), next_run, note)

    latest = window.latest_at_or_before(schedule, now, anchor)
    if latest is None or latest < due:
        latest = due
    if policy.catch_up is CatchUp.LATEST:
        runnable = within_grace(latest)
    else:
        runnable = within_grace(latest) and now - latest <= ON_TIME_SECONDS
    run = (latest,) if runnable else ()
    skipped_any = latest != due or not runnable
    # Under latest, slots folded into the run are not missed; under none they are.
    missed = (due,) if skipped_any and (policy.catch_up is CatchUp.NONE or not runnable) else ()
    return SlotPlan(run, missed, next_run)


def missed_reason(plan: SlotPlan, policy: CatchUpPolicy, slot: float, now: float) -> str:
    """The error of a missed slot's record; the oldest one also says what was dropped."""
    grace = policy.grace_seconds
    if grace is not None and now - slot > grace:
        reason = f"missed: {now - slot:.1f}s late, more than grace_seconds ({grace:g})"
    else:
        reason = f"missed: passed over by catch_up={policy.catch_up.value}"
    if plan.dropped and plan.missed and slot == plan.missed[0]:
        reason += f"; {plan.dropped}"
    return reason


def skipped_reason(passed: SlotRange, skipped: int) -> str:
    """The error of the one record for the slots that passed while a parked job's run was in
    flight: `skipped` of the range's slots (fewer when max_runs ended the job part-way)."""
    if skipped == 1:
        return "skipped: the previous run was still in flight"
    first = iso_utc_micros(passed.first)
    if skipped < passed.count:
        return f"skipped {skipped} slots due from {first}: the previous run was still in flight"
    error = (
        f"skipped {passed.count_text()} slots due from {first} to "
        f"{iso_utc_micros(passed.last)}: the previous run was still in flight"
    )
    return error if passed.exact else error + f" (counting stops at {passed.count:,} slots)"


def slots_through(
    schedule: Timing, window: Window, anchor: float, first: float, now: float, keep: int = MAX_SLOTS_EXAMINED
) -> SlotRange:
    """The slots from `first` (included) through `now`: the newest `keep` listed, all counted.

    Walking forward stops at MAX_SLOTS_EXAMINED (a year of `every 1 seconds` is not walked).
    Past it the newest slots are found walking back from `now`, and the count is exact for an
    interval (arithmetic) and a lower bound, said as such, for calendar schedules.
    """
    slots = [first]
    candidate = window.next_after(schedule, first, anchor)
    while candidate is not None and candidate <= now and len(slots) < MAX_SLOTS_EXAMINED:
        slots.append(candidate)
        candidate = window.next_after(schedule, candidate, anchor)
    if candidate is None or candidate > now:
        return SlotRange(tuple(slots[-keep:] if keep > 0 else ()), len(slots), True, first, slots[-1])
    found = window.latest_at_or_before(schedule, now, anchor)
    last = found if found is not None and found >= candidate else candidate  # `candidate` is one such slot
    newest: list[float] = []
    at: float | None = last
    while at is not None and at >= first and len(newest) < keep:
        newest.append(at)
        at = window.latest_at_or_before(schedule, math.nextafter(at, -math.inf), anchor)
    newest.reverse()
    period = _fixed_period(schedule)
    if period is not None:
        return SlotRange(tuple(newest), round((last - first) / period) + 1, True, first, last)
    return SlotRange(tuple(newest), MAX_SLOTS_EXAMINED, False, first, last)


def _fixed_period(schedule: Timing) -> float | None:
    """Seconds between slots when they never vary (intervals, jittered or not); None for calendars."""
    while isinstance(schedule, Jittered):
        schedule = schedule.schedule
    return float(schedule.seconds) if isinstance(schedule, Interval) else None


POLICY_FIELDS = (
    "overlap",
    "catch_up",
    "max_catch_up",
    "grace_seconds",
    "jitter_seconds",
    "start_at",
    "end_at",
    "pause_after_failures",
    "notify_url",
    "skip_calendars",
)


@dataclass(frozen=True, slots=True)
class JobPolicy:
    """A job's policies, validated; `overlap` None means: follow data.enable_shadows."""

    overlap: Overlap | None = None
    catch_up: CatchUpPolicy = CatchUpPolicy()  # noqa: RUF009 - frozen, so sharing the default is safe
    jitter_seconds: float = 0.0
    pause_after_failures: int | None = None
    notify_url: str | None = None
    skip_calendars: tuple[str, ...] = ()  # names of calendars whose days have no slots (skip_days.py)

    def overlap_for(self, enable_shadows: bool) -> Overlap:
        if self.overlap is not None:
            return self.overlap
        return Overlap.ALLOW if enable_shadows else Overlap.SKIP


DEFAULT_POLICY = JobPolicy()


def _number(raw: dict[str, object], name: str, low: float, high: float) -> float | None:
    value = raw.get(name)
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            raise Invalid(name, f"{name} must be a number") from None
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
        raise Invalid(name, f"{name} must be a number")
    if not low <= value <= high:
        raise Invalid(name, f"{name} must be between {low:g} and {high:g}")
    return float(value)


def _instant(raw: dict[str, object], name: str) -> float | None:
    value = raw.get(name)
    if value is None:
        return None
    if isinstance(value, str) and not _is_number_text(value):
        try:
            # RFC 3339 allows a lower-case t and z; fromisoformat takes "t" but neither "Z" nor "z".
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            raise Invalid(name, f"{name} must be epoch seconds or an ISO 8601 time with an offset") from None
        if parsed.tzinfo is None:
            raise Invalid(name, f"{name} needs an explicit UTC offset, e.g. 2030-01-01T00:00:00Z")
        return parsed.timestamp()
    return _number(raw, name, 0, 253402300799)


def _is_number_text(value: str) -> bool:
    """Epoch seconds as a form sends them ("1700000000", "1.7e9"); else an ISO 8601 time."""
    try:
        float(value)
    except ValueError:
        return False
    return True


def _choice(raw: dict[str, object], name: str, kind: type[StrEnum]) -> StrEnum | None:
    value = raw.get(name)
    if value is None:
        return None
    try:
        return kind(str(value)) if isinstance(value, str) else kind("\x00")
    except ValueError:
        raise Invalid(name, f"{name} must be one of: {', '.join(m.value for m in kind)}") from None


def parse_policy(raw: dict[str, object]) -> JobPolicy:
    """Validate a job's policy fields (any subset of POLICY_FIELDS); raise Invalid naming the field."""
    if not raw:
        return DEFAULT_POLICY  # most jobs set no policy: they share one object
    # Jobs giving the same policy share one parsed object (it is frozen). The key holds each
    # value's type, so that true and 1, which are equal in Python, are told apart.
    key = tuple((name, type(value), tuple(value) if isinstance(value, list) else value) for name, value in raw.items())
    try:
        return _shared_policy(key)
    except TypeError:  # a list or object where a scalar belongs: unhashable, parsed to name it
        return _parse_policy(raw)


@functools.lru_cache(maxsize=4096)
def _shared_policy(key: tuple[tuple[str, type, object], ...]) -> JobPolicy:
    return _parse_policy({name: value for name, _, value in key})


def _parse_policy(raw: dict[str, object]) -> JobPolicy:
    for key in raw:
        if key not in POLICY_FIELDS:
            raise Invalid(key, f"unknown policy field {key!r}")
    overlap = _choice(raw, "overlap", Overlap)
    catch_up = _choice(raw, "catch_up", CatchUp) or CatchUp.LATEST
    max_catch_up = _number(raw, "max_catch_up", 1, 1000)
    if max_catch_up is not None and max_catch_up != int(max_catch_up):
        raise Invalid("max_catch_up", "max_catch_up must be a whole number")
    grace = _number(raw, "grace_seconds", 0, 366 * 86400)
    jitter = _number(raw, "jitter_seconds", 0, 86400) or 0.0
    start_at, end_at = _instant(raw, "start_at"), _instant(raw, "end_at")
    pause = _number(raw, "pause_after_failures", 1, 10000)
    if pause is not None and pause != int(pause):
        raise Invalid("pause_after_failures", "pause_after_failures must be a whole number")
    notify_url = raw.get("notify_url")
    if notify_url is not None and not isinstance(notify_url, str):
        # A notify_url a client sends is held to the rules of a target URL by the jobs service.
        raise Invalid("notify_url", "notify_url is required and must be a string")
    return JobPolicy(
        overlap=Overlap(overlap) if overlap else None,
        catch_up=CatchUpPolicy(
            catch_up=CatchUp(catch_up),
            max_catch_up=int(max_catch_up or 100),
            grace_seconds=grace,
            window=Window(start_at, end_at),
        ),
        jitter_seconds=jitter,
        pause_after_failures=int(pause) if pause is not None else None,
        notify_url=notify_url if isinstance(notify_url, str) else None,
        skip_calendars=validate_references(raw["skip_calendars"]) if raw.get("skip_calendars") is not None else (),
    )


def jitter_key(user_id: int, name: str) -> str:
    """What a job's jitter offset is drawn from: stable across restarts, known before the job is stored."""
    return f"{user_id}/{name}"


def job_timing(schedule: Timing, policy: JobPolicy, jitter_key: str) -> Timing:
    """The schedule as the scheduler sees it: shifted by the job's stable jitter offset."""
    if policy.jitter_seconds <= 0:
        return schedule
    return Jittered(schedule, jitter_offset(jitter_key, policy.jitter_seconds))
