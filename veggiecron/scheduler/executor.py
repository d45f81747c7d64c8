"""Send one slot through the runner, record its run, and account its outcome."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from ..clock import Clock
from ..follow import TRIGGERED_BY
from ..logs import job_fields
from ..model import CompiledJob, Run, RunOutcome
from ..times import iso_utc_micros
from .failures import FailureTracker
from .ports import Runner, ScheduleOwner
from .progress import ProgressWriter

logger = logging.getLogger(__name__)


async def send(
    runner: Runner,
    clock: Clock,
    job: CompiledJob,
    due: float,
    epoch: int,
    waited: float = 0.0,
    triggered_by: str | None = None,
) -> Run:
    """One slot through the runner, as the run to record; a fault inside veggiecron is its outcome.

    waited: seconds the slot waited in its lane before it reached the runner, added to the pool
    wait the runner measured (both are the wait for a connection). triggered_by: a follower's
    slot, the parent's run_id (the runner tells the target; the run records it).
    """
    started = clock.now()
    token = TRIGGERED_BY.set(triggered_by)  # read by the runner (and the clones it starts), then reset
    try:
        result = await runner.run(job, due, epoch)
    except Exception as exc:
        logger.exception(
            "job %d (%s): run failed inside veggiecron", job.id, job.name, extra=job_fields(job.id, job.name)
        )
        elapsed = (clock.now() - started) * 1000
        error = f"internal error: {type(exc).__name__}"
        return Run(job.id, due, started, elapsed, RunOutcome.FAILED, error=error, triggered_by=triggered_by)
    finally:
        TRIGGERED_BY.reset(token)
    return Run(
        job.id,
        due,
        result.started_at,
        result.duration_ms,
        result.outcome,
        result.attempts,
        result.status_code,
        result.error,
        result.response_excerpt,
        error_class=result.error_class,
        pool_wait_ms=None if result.pool_wait_ms is None else result.pool_wait_ms + waited * 1000.0,
        triggered_by=triggered_by,
    )


def log_run(job: CompiledJob, run: Run) -> None:
    """One line for a failed run (at INFO), one for any other at DEBUG: both schedulers log runs alike."""
    if run.outcome is RunOutcome.FAILED:
        logger.info(
            "job %d (%s): run due at %s failed after %d attempts: %s",
            job.id,
            job.name,
            iso_utc_micros(run.due_at),
            run.attempts,
            run.error,
            extra=job_fields(job.id, job.name),
        )
    elif logger.isEnabledFor(logging.DEBUG):
        logger.debug(
            "job %d (%s): run due at %s %s (%s)",
            job.id,
            job.name,
            iso_utc_micros(run.due_at),
            run.outcome.value,
            run.status_code,
            extra=job_fields(job.id, job.name),
        )


class Executor:
    """Sends the runs of the single scheduler and records them, with their failures tracked."""

    def __init__(
        self,
        runner: Runner,
        clock: Clock,
        progress: ProgressWriter,
        failures: FailureTracker,
        listeners: Sequence[Callable[[Run], None]],
        schedule: ScheduleOwner,
    ) -> None:
        """listeners are told of every recorded run (metrics); schedule is where the jobs are held."""
        self.runner = runner
        self.clock = clock
        self.progress = progress
        self.failures = failures
        self.listeners = tuple(listeners)
        self.schedule = schedule

    async def execute(
        self, job: CompiledJob, due: float, epoch: int = 1, waited: float = 0.0, triggered_by: str | None = None
    ) -> Run:
        """Run the slot; a fault inside veggiecron is the run's outcome, never the loop's end."""
        run = await send(self.runner, self.clock, job, due, epoch, waited, triggered_by)
        self.record(job, run)
        self.track_failures(job, run)
        return run

    def record_unsent(self, job: CompiledJob, run: Run) -> None:
        """Record a run the gate never sent; one that timed out waiting is kept for requeueing, but
        is never a failure of the target (see failures.py)."""
        self.record(job, run)
        if run.error_class is not None:
            self.track_failures(job, run)

    def track_failures(self, job: CompiledJob, run: Run) -> None:
        """Feed a finished run to the failure tracker; a job it pauses leaves the schedule."""
        # A job not in memory may wait in the store for its window: it is paused there too
        # (the store ignores the pause if the owner changed or deleted the job meanwhile).
        if self.failures.after_run(job, run, lambda: self.schedule.is_current(job)) is not None:
            self.schedule.remove(job.id)

    def record(self, job: CompiledJob, run: Run, epoch: int = 1) -> None:
        log_run(job, run)
        self.progress.runs.append(run)
        for listener in self.listeners:
            listener(run)
