"""Failure streaks: failed runs kept for requeueing, auto-pause, failure and recovery notifications."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from typing import Any

from ..logs import job_fields
from ..model import CompiledJob, KeptFailure, Pause, Run, RunOutcome, idempotency_key
from ..times import iso_utc_micros
from .background import drain
from .ports import Runner
from .progress import ProgressWriter

logger = logging.getLogger(__name__)

NOTIFY_TIMEOUT = 10.0


def notification(job: CompiledJob, run: Run, event: str, reason: str | None = None) -> dict[str, Any]:
    """The JSON body POSTed to a job's notify_url."""
    return {
        "event": event,
        "job": job.name,
        "job_id": job.id,
        "run_id": idempotency_key(job.id, run.due_at),
        "scheduled_at": iso_utc_micros(run.due_at),
        "outcome": run.outcome.value,
        "status_code": run.status_code,
        "error": run.error,
        "error_class": run.error_class,
        "paused_reason": reason,
    }


class Notifier:
    """Sends notifications in the background; one that fails is logged and dropped."""

    def __init__(self, runner: Runner) -> None:
        self.runner = runner
        self._tasks: set[asyncio.Task[None]] = set()

    def send(self, job: CompiledJob, run: Run, event: str, reason: str | None = None) -> None:
        url = job.policy.notify_url
        if url is None:
            return
        task = asyncio.create_task(self._send(job, url, notification(job, run, event, reason)))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _send(self, job: CompiledJob, url: str, body: dict[str, Any]) -> None:
        error = await self.runner.notify(url, body, {}, NOTIFY_TIMEOUT, owner=job.user_id)
        if error is not None:
            logger.warning(
                "job %d (%s): %s notification to %s not delivered: %s",
                job.id,
                job.name,
                body["event"],
                url,
                error,
                extra=job_fields(job.id, job.name),
            )

    async def stop(self, grace: float) -> None:
        await drain(self._tasks, grace)


def counts_for_target(run: Run) -> bool:
    """Whether a run says something about its target: a failed run that made no attempt does not.

    A run that waited for a connection past its timeout, was cancelled, or failed inside
    veggiecron never reached the target: it is recorded as failed (and kept for Seed's requeue),
    but it neither lengthens nor ends the failure streak, so it cannot pause a healthy job.
    """
    return run.outcome is not RunOutcome.FAILED or run.attempts > 0


class FailureTracker:
    """Counts each job's consecutive failed runs and acts when the count changes."""

    def __init__(self, progress: ProgressWriter, notifier: Notifier) -> None:
        self.progress = progress
        self.notifier = notifier
        self._streaks: dict[int, int] = {}  # jobs whose streak this process has seen change

    def restart(self, job: CompiledJob) -> None:
        """The owner changed the job: its streak is the stored one (zero after re-enabling)."""
        if job.consecutive_failures:
            self._streaks[job.id] = job.consecutive_failures
        else:
            self._streaks.pop(job.id, None)

    def after_run(self, job: CompiledJob, run: Run, still_current: Callable[[], bool]) -> Pause | None:
        """Account for a finished run; answer the pause when the job must stop.

        still_current: whether the job was not changed by its owner since this run started (a
        job the owner changed keeps running as changed, whatever its old version's streak).
        """
        if job.keep_failures and run.outcome is RunOutcome.FAILED:
            self.progress.failures.append(KeptFailure(job.id, str(uuid.uuid4()), run.due_at, run.error or "failed"))
        if not counts_for_target(run):
            return None
        before = self._streaks.get(job.id, job.consecutive_failures)
        streak = before + 1 if run.outcome is RunOutcome.FAILED else 0
        if streak == before:
            return None
        self._streaks[job.id] = streak
        self.progress.streaks[job.id] = streak
        if streak == 0:
            self.notifier.send(job, run, "recovery")
            return None
        if streak == 1:
            self.notifier.send(job, run, "failure")
        limit = job.policy.pause_after_failures
        if limit is None or streak < limit or not still_current():
            return None
        reason = f"paused after {streak} consecutive failed runs; last error: {run.error}"
        logger.warning("job %d (%s): %s", job.id, job.name, reason, extra=job_fields(job.id, job.name))
        pause = Pause(job.id, job.version, reason)
        self.progress.pauses.append(pause)
        self.notifier.send(job, run, "paused", reason)
        return pause
