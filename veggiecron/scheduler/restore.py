"""Slots held when the server stopped or died, run or recorded as missed when it starts again.

A slot the scheduler took on (its job moved past it) but had not started, because it waited
for a connection to its target or behind its job's run in flight (overlap buffer_one), is
stored with the write that moved the job on. At the next start each is run, unless the job's
policies say a slot that late must not run: then it is recorded as missed, with the reason.
"""

from __future__ import annotations

from ..model import CompiledJob, HeldSlot, Job
from ..policies import ON_TIME_SECONDS, CatchUp


def restore_reason(job: CompiledJob | None, stored: Job, slot: HeldSlot, now: float) -> str | None:
    """Why a held slot is not run after a restart (its missed record's error), or None to run it."""
    held = "waiting for a connection" if slot.reason == "waiting" else "waiting behind the run in flight"
    if job is None:
        return f"missed: the job no longer validates; the slot was {held} when the server stopped"
    if not stored.enabled:
        return f"missed: the job was disabled; the slot was {held} when the server stopped"
    late = now - slot.due_at
    catch_up = job.policy.catch_up
    if catch_up.grace_seconds is not None and late > catch_up.grace_seconds:
        return (
            f"missed: {late:.1f}s late after a restart, more than grace_seconds ({catch_up.grace_seconds:g}); "
            f"the slot was {held} when the server stopped"
        )
    if catch_up.catch_up is CatchUp.NONE and late > ON_TIME_SECONDS:
        return f"missed: {late:.1f}s late after a restart, and catch_up=none runs no late slot"
    return None
