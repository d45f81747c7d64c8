"""What the scheduler needs from the outside world, as protocols it is given."""

from __future__ import annotations

from typing import Protocol

from ..model import HttpTarget, RunResult


class Runner(Protocol):
    async def run(self, job_id: int, target: HttpTarget, due_at: float, epoch: int = 1) -> RunResult:
        """Send one run of a job (all its clones and retries); never raises for the target's faults.

        epoch: which copy of the slot this is; the same Idempotency-Key goes with every copy.
        """

    async def notify(self, url: str, body: object, headers: dict[str, str], timeout: float) -> str | None:
        """POST a small JSON event once; None when delivered, else why not."""
