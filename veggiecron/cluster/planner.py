"""What a claim does to each due job, decided from its policies at the database's now (pure).

The same rules as the single scheduler's, applied across nodes: the catch-up plan says which
slots run, max_runs caps them, and the overlap policy looks at the job's runs in flight on any
node (counted by the claim): skip records the slots as skipped, buffer_one lets one slot wait,
replace cancels the runs in flight, allow sends them all. A follower's triggered slots (its
parents' results wrote them) are planned by its overlap policy alike, or recorded as skipped when
it is disabled.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ..follow import SKIPPED_DISABLED
from ..model import CompiledJob, DueJob, Run, RunOutcome, SlotDecision
from ..policies import CatchUp, Overlap, missed_reason, plan_slots
from ..times import iso_utc_micros

SKIPPED = "skipped: the previous run was still in flight"
RETRY_UNREADABLE = 60.0  # a job that cannot be compiled is looked at again after this long


def plan_claims(
    due: Sequence[DueJob], now: float, compiled: Callable[[DueJob], CompiledJob | None]
) -> list[SlotDecision]:
    """Decisions for the jobs a claim locked; compiled(job) is None for a job that no longer compiles."""
    decisions = []
    for item in due:
        job = compiled(item)
        if item.triggered:
            decisions.append(plan_triggered(job, item, now))
        elif job is None:
            decisions.append(_unreadable(item, now))
        else:
            decisions.append(plan_job(job, item, now))
    return decisions


def plan_triggered(job: CompiledJob | None, item: DueJob, now: float) -> SlotDecision:
    """A follower's triggered slots: by its overlap policy (sent each as a single daemon would
    start them one after the other), skipped when it is disabled, failed when it no longer compiles."""
    slots = item.triggered
    if job is None:
        error = "failed: the job's stored schedule, policy or data no longer validates"
        records = tuple(
            Run(item.job.id, s, now, 0.0, RunOutcome.FAILED, error=error, error_class="invalid_job") for s in slots
        )
        return SlotDecision(item.job.id, None, 0, records=records)
    if not job.enabled or not item.job.enabled:
        # The row locked by the claim, not only the compiled copy: a pause after failures changes
        # no version, so a copy compiled before it still says enabled.
        records = tuple(Run(job.id, s, now, 0.0, RunOutcome.SKIPPED, error=SKIPPED_DISABLED) for s in slots)
        return SlotDecision(job.id, None, len(slots), records=records)
    claims, buffered, skipped, replace = _by_overlap(job, item, slots, now, each=False)
    return SlotDecision(job.id, None, len(slots), claims, buffered, tuple(skipped), replace)


def plan_job(job: CompiledJob, item: DueJob, now: float) -> SlotDecision:
    due = item.job.next_run
    assert due is not None  # the claim selects jobs with a next run
    # A slot claimed ahead of its time is on time: planned as of its due time.
    plan = plan_slots(job.timing, job.anchor, due, max(due, now), job.policy.catch_up)
    slots = plan.run
    next_run = plan.next_run
    if job.max_runs is not None:
        slots = slots[: max(0, job.max_runs - item.job.run_count)]
        if item.job.run_count + len(slots) >= job.max_runs:
            next_run = None
    catch_up = job.policy.catch_up
    records = [
        Run(job.id, slot, now, 0.0, RunOutcome.MISSED, error=missed_reason(plan, catch_up, slot, now))
        for slot in plan.missed
    ]
    if plan.run and plan.run[0] > due and not plan.missed and catch_up.catch_up is not CatchUp.ALL:
        # Slots folded into the latest one (the claim came late: a node stalled in a claim held the
        # job) are recorded, by their oldest, so that every slot is accounted for.
        error = (
            f"missed: passed over by catch_up=latest; the slots from here until {iso_utc_micros(plan.run[0])} run once"
        )
        records.append(Run(job.id, due, now, 0.0, RunOutcome.MISSED, error=error))
    claims, buffered, skipped, replace = _by_overlap(job, item, slots, now, catch_up.catch_up is CatchUp.ALL)
    return SlotDecision(job.id, next_run, len(slots), claims, buffered, tuple(records + skipped), replace)


def _by_overlap(
    job: CompiledJob, item: DueJob, slots: tuple[float, ...], now: float, each: bool
) -> tuple[tuple[float, ...], tuple[float, ...], list[Run], bool]:
    """(claims, buffered, skipped records, replace) of these slots by the job's overlap policy;
    each: send every slot when no run is in flight (catch_up all)."""
    claims: tuple[float, ...] = slots
    buffered: tuple[float, ...] = ()
    records: list[Run] = []
    replace = False
    busy = item.in_flight > 0
    if job.overlap is Overlap.ALLOW:
        pass
    elif job.overlap is Overlap.REPLACE:
        replace = busy and bool(slots)
        claims = slots[-1:]  # each newer slot replaces the one before it
        records += [_skipped(job.id, slot, now) for slot in slots[:-1]]
    elif each and not busy:
        pass  # skip or buffer_one: catch_up all sends each slot it caught up on, as a single daemon does
    elif job.overlap is Overlap.BUFFER_ONE:
        start = 0 if busy else 1
        claims = slots[:start]
        waiting = item.buffered
        rest = slots[start:]
        if rest and not waiting:
            buffered, rest = rest[:1], rest[1:]
        records += [_skipped(job.id, slot, now) for slot in rest]
    else:  # skip
        claims = () if busy else slots[:1]
        records += [_skipped(job.id, slot, now) for slot in slots[len(claims) :]]
    return claims, buffered, records, replace


def _skipped(job_id: int, slot: float, now: float) -> Run:
    return Run(job_id, slot, now, 0.0, RunOutcome.SKIPPED, error=SKIPPED)


def _unreadable(item: DueJob, now: float) -> SlotDecision:
    """A stored job that no longer compiles: recorded once a minute, never sent, never lost."""
    due = item.job.next_run
    assert due is not None
    error = "failed: the job's stored schedule, policy or data no longer validates"
    run = Run(item.job.id, due, now, 0.0, RunOutcome.FAILED, error=error, error_class="invalid_job")
    return SlotDecision(item.job.id, max(due, now) + RETRY_UNREADABLE, 0, records=(run,))
