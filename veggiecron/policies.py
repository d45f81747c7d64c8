"""Per-job scheduling and delivery policies as pure functions of (job settings, now, state).

The scheduler and the runner call these; tests call them with plain numbers, no clock.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from enum import StrEnum
from typing import Protocol

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


@dataclass(frozen=True)
class Window:
    """start_at / end_at: the job fires only inside [start_at, end_at]."""

    start_at: float | None = None
    end_at: float | None = None

    def next_after(self, schedule: Timing, after: float, anchor: float) -> float | None:
        """The schedule's first time after `after` that lies inside the window, or None."""
        if self.start_at is not None and after < self.start_at:
            after = math.nextafter(self.start_at, -math.inf)
        candidate = schedule.next_after(after, anchor)
        if candidate is None or (self.end_at is not None and candidate > self.end_at):
            return None
        return candidate

    def latest_at_or_before(self, schedule: Timing, at: float, anchor: float) -> float | None:
        if self.end_at is not None:
            at = min(at, self.end_at)
        candidate = schedule.latest_at_or_before(at, anchor)
        if candidate is None or (self.start_at is not None and candidate < self.start_at):
            return None
        return candidate


@dataclass(frozen=True)
class Jittered:
    """A schedule shifted later by a fixed offset (the job's jitter)."""

    schedule: Timing
    offset: float

    def next_after(self, after: float, anchor: float) -> float | None:
        candidate = self.schedule.next_after(after - self.offset, anchor)
        return None if candidate is None else candidate + self.offset

    def latest_at_or_before(self, at: float, anchor: float) -> float | None:
        candidate = self.schedule.latest_at_or_before(at - self.offset, anchor)
        return None if candidate is None else candidate + self.offset


def jitter_offset(job_id: int, jitter_seconds: float) -> float:
    """A stable offset in [0, jitter_seconds) for this job: the same job always gets the same one."""
    if jitter_seconds <= 0:
        return 0.0
    digest = hashlib.sha256(f"veggiecron-jitter-{job_id}".encode()).digest()
    fraction = int.from_bytes(digest[:8], "big") / 2**64
    return fraction * jitter_seconds


@dataclass(frozen=True)
class SlotPlan:
    run: tuple[float, ...]  # slots to run now, oldest first
    missed: tuple[float, ...]  # slots recorded as missed and not run
    next_run: float | None  # the first slot after now


@dataclass(frozen=True)
class CatchUpPolicy:
    catch_up: CatchUp = CatchUp.LATEST
    max_catch_up: int = 100
    grace_seconds: float | None = None
    window: Window = Window()  # noqa: RUF009 - frozen, so sharing the default is safe


def plan_slots(schedule: Timing, anchor: float, due: float, now: float, policy: CatchUpPolicy) -> SlotPlan:
    """Decide what runs when the scheduler reaches a job whose slot `due` is at or before `now`.

    On time (the usual case) this is just (due,). After downtime or a stall:
    - latest: one run, for the latest slot at or before now;
    - all: every slot since `due`, oldest first, the newest max_catch_up of them;
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
        slots = [due]
        candidate = window.next_after(schedule, due, anchor)
        while candidate is not None and candidate <= now and len(slots) < MAX_SLOTS_EXAMINED:
            slots.append(candidate)
            candidate = window.next_after(schedule, candidate, anchor)
        eligible = [slot for slot in slots if within_grace(slot)]
        to_run = eligible[-policy.max_catch_up :] if policy.max_catch_up > 0 else []
        not_run = [slot for slot in slots if slot not in to_run][-policy.max_catch_up or None :]
        return SlotPlan(tuple(to_run), tuple(not_run), next_run)

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


def retry_delay(attempt: int, base: float, cap: float, rng: random.Random | None = None) -> float:
    """Exponential backoff with full jitter: uniform in [0, min(cap, base * 2**(attempt-1)))."""
    ceiling = min(cap, base * 2 ** max(0, attempt - 1))
    return (rng or random).uniform(0, ceiling)


def retry_after_seconds(value: str | None, now: float) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - now)


def is_retryable_status(status: int, retry_on: Collection[int] = ()) -> bool:
    """5xx, 408 and 429 may succeed later; other 4xx cannot, unless the job lists them."""
    if status in retry_on:
        return True
    if status in (408, 429) or status >= 500:
        return True
    return False


def utc_iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat()
