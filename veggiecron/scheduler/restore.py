"""Slots held when the server stopped or died, run or recorded as missed when it starts again.

A slot the scheduler took on (its job moved past it) but had not started, because it waited
for a connection to its target or behind its job's run in flight (overlap buffer_one), is
stored with the write that moved the job on. At the next start each is run, unless the job's
policies say a slot that late must not run: then it is recorded as missed, with the reason.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import NamedTuple

from ..compiler import compile_job
from ..jobtypes.registry import JobTypes
from ..model import CompiledJob, HeldSlot, Job, Run, RunOutcome
from ..policies import ON_TIME_SECONDS, CatchUp

logger = logging.getLogger(__name__)


class Restored(NamedTuple):
    to_run: list[tuple[CompiledJob, float]]  # (job, due_at) of the slots to run now
    missed: list[tuple[CompiledJob | None, Run]]  # missed records (job None: it no longer compiles)


def restore_held(held: Sequence[tuple[Job, HeldSlot]], now: float, job_types: JobTypes) -> Restored:
    """What becomes of each held slot at a start: run now, or recorded as missed with the reason."""
    restored = Restored([], [])
    for stored, slot in held:
        try:
            job: CompiledJob | None = compile_job(stored, job_types)
        except Exception:
            logger.exception("job %d (%s): a held slot cannot be run", stored.id, stored.name)
            job = None
        reason = restore_reason(job, stored, slot, now)
        if job is not None and reason is None:
            restored.to_run.append((job, slot.due_at))
        else:
            restored.missed.append((job, Run(slot.job_id, slot.due_at, now, 0.0, RunOutcome.MISSED, error=reason)))
    if held:
        logger.info(
            "%d due runs were held when the server stopped: %d run now, %d recorded as missed",
            len(held),
            len(restored.to_run),
            len(restored.missed),
        )
    return restored


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
