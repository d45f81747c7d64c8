"""What the scheduler needs from the outside world, and what its parts ask of their owner, as protocols.

A run goes from the loop to the lane gate (gate.start), from the gate back to its owner
(GateOwner.send), through the executor to the Runner, and its run record to the progress writer.
"""

from __future__ import annotations

from typing import Protocol

from ..model import CompiledJob, Run, RunResult


class Runner(Protocol):
    async def run(self, job: CompiledJob, due_at: float, epoch: int = 1) -> RunResult:
        """Send one run of a job by its type (all its clones and retries); never raises for the target's faults.

        epoch: which copy of the slot this is; the same Idempotency-Key goes with every copy.
        """

    async def notify(
        self, url: str, body: object, headers: dict[str, str], timeout: float, owner: int | None = None
    ) -> str | None:
        """POST a small JSON event once; None when delivered, else why not."""


class GateOwner(Protocol):
    """What the lane gate asks of the scheduler that owns it."""

    async def send(self, job: CompiledJob, due: float, epoch: int, waited: float) -> Run:
        """Send a slot the gate let through and record its run; waited: seconds it waited in its lane."""

    def record_unsent(self, job: CompiledJob, run: Run, epoch: int) -> None:
        """Record a run the gate never sent: skipped by the overlap policy, cancelled, or timed out
        waiting for its lane (error_class set: kept for requeueing like a failure)."""

    def job_settled(self, job_id: int) -> None:
        """The job has no run in flight or waiting any more."""

    def deadlines_changed(self) -> None:
        """A run now waits with a deadline the owner's timer may not cover."""


class ScheduleOwner(Protocol):
    """What the executor asks of the schedule its runs belong to."""

    def is_current(self, job: CompiledJob) -> bool:
        """Whether memory holds no other version of the job (its owner did not change it since)."""

    def remove(self, job_id: int) -> None:
        """Take a job out of the schedule (it paused itself)."""
