"""Send one slot through the runner, record its run, and account its outcome."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from ..clock import Clock
from ..logs import job_fields
from ..model import CompiledJob, Run, RunOutcome
from ..policies import utc_iso
from .failures import FailureTracker
from .ports import Runner
from .progress import ProgressWriter

logger = logging.getLogger(__name__)


async def send(runner: Runner, clock: Clock, job: CompiledJob, due: float, epoch: int, waited: float = 0.0) -> Run:
    """One slot through the runner, as the run to record; a fault inside veggiecron is its outcome.

    waited: seconds the slot waited in its lane before it reached the runner, added to the pool
    wait the runner measured (both are the wait for a connection).
    """
    started = clock.now()
    try:
        result = await runner.run(job.id, job.target, due, epoch)
    except Exception as exc:
        logger.exception(
            "job %d (%s): run failed inside veggiecron", job.id, job.name, extra=job_fields(job.id, job.name)
        )
        elapsed = (clock.now() - started) * 1000
        return Run(job.id, due, started, elapsed, RunOutcome.FAILED, error=f"internal error: {type(exc).__name__}")
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
    )


class Executor:
    def __init__(
        self,
        runner: Runner,
        clock: Clock,
        progress: ProgressWriter,
        failures: FailureTracker,
        listeners: Sequence[Callable[[Run], None]],
        still_current: Callable[[CompiledJob], bool],
        paused: Callable[[int], None],
    ) -> None:
        """listeners are told of every recorded run (metrics); still_current says whether the
        owner left the job unchanged; paused takes a job out of the schedule."""
        self.runner = runner
        self.clock = clock
        self.progress = progress
        self.failures = failures
        self.listeners = tuple(listeners)
        self._still_current = still_current
        self._paused = paused

    async def execute(self, job: CompiledJob, due: float, epoch: int = 1, waited: float = 0.0) -> Run:
        """Run the slot; a fault inside veggiecron is the run's outcome, never the loop's end."""
        run = await send(self.runner, self.clock, job, due, epoch, waited)
        self.record(job, run)
        self.account(job, run)
        return run

    def account(self, job: CompiledJob, run: Run) -> None:
        """Feed a finished run to the failure tracker; a job it pauses leaves the schedule."""
        # A job not in memory may wait in the store for its window: it is paused there too
        # (the store ignores the pause if the owner changed or deleted the job meanwhile).
        if self.failures.after_run(job, run, lambda: self._still_current(job)) is not None:
            self._paused(job.id)

    def record(self, job: CompiledJob, run: Run, epoch: int = 1) -> None:
        if run.outcome is RunOutcome.FAILED:
            logger.info(
                "job %d (%s): run due at %s failed after %d attempts: %s",
                job.id,
                job.name,
                utc_iso(run.due_at),
                run.attempts,
                run.error,
                extra=job_fields(job.id, job.name),
            )
        elif logger.isEnabledFor(logging.DEBUG):
            logger.debug(
                "job %d (%s): run due at %s %s (%s)",
                job.id,
                job.name,
                utc_iso(run.due_at),
                run.outcome.value,
                run.status_code,
                extra=job_fields(job.id, job.name),
            )
        self.progress.runs.append(run)
        for listener in self.listeners:
            listener(run)
