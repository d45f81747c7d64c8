"""Jobs that run after other jobs (pure): the `after` schedule and what triggers a follower.

A follower's schedule is `after <parent>` (after each successful run of the same user's job
<parent>), `after <parent> fails` (after each failed run) or `after <parent> finishes` (after each
run, whatever its outcome). It has no time of its own: each run of its parent that it follows
gives it one slot, due when the parent's result is known, sent with the parent's run_id.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass

# What a follower runs after: its parent's successful runs, its failed ones, or any of them.
FOLLOWS_OK = "ok"
FOLLOWS_FAILED = "failed"
FOLLOWS_FINISHED = "finished"
SUFFIXES = {FOLLOWS_OK: "", FOLLOWS_FAILED: " fails", FOLLOWS_FINISHED: " finishes"}
WORDS = {"fails": FOLLOWS_FAILED, "finishes": FOLLOWS_FINISHED}

# The parent's run_id of the follower's run being sent, for its job type's runner to tell the
# target (the http type sends X-Veggiecron-Triggered-By). Set by the scheduler in the task that
# sends the run, so it never leaks into another run.
TRIGGERED_BY: ContextVar[str | None] = ContextVar("veggiecron_triggered_by", default=None)

SKIPPED_DISABLED = "skipped: the job is disabled (triggered_by names the parent's run)"

MAX_CHAIN = 1000  # links walked up a chain, at most (a longer chain is refused as one)


def follows(after_on: str, outcome: str) -> bool:
    """Whether a parent's run with this outcome (a RunOutcome: ok, failed, skipped, missed)
    triggers a follower that runs after `after_on`. A slot skipped or missed is no run: it
    triggers nothing. (Outcomes by value: the schedules import this module, the model the policies.)"""
    if outcome == "ok":
        return after_on in (FOLLOWS_OK, FOLLOWS_FINISHED)
    if outcome == "failed":
        return after_on in (FOLLOWS_FAILED, FOLLOWS_FINISHED)
    return False


@dataclass(frozen=True, slots=True)
class After:
    """`after <parent> [fails|finishes]`: no slot of its own; its parent's results make them."""

    parent: str  # the parent's name, as the owner wrote it
    on: str = FOLLOWS_OK

    def next_after(self, after: float, anchor: float) -> float | None:
        return None

    def first_run(self, now: float, anchor: float) -> float | None:
        return None

    def latest_at_or_before(self, at: float, anchor: float) -> float | None:
        return None

    def format(self) -> str:
        return f"after {self.parent}{SUFFIXES[self.on]}"
