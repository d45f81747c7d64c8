"""What becomes of the slots a lapsed claim held back, once its lease is reaped (pure).

While a node that died (or stalled) holds a claimed run, the run counts as in flight: under
`overlap: skip` the slots that fall due meanwhile are recorded as skipped, under `buffer_one`
all but the buffered one. That run was never really in flight from the job's point of view, so
when its lease is reaped those skipped slots are planned again by the job's catch_up policy:
`all` sends the newest max_catch_up of them (oldest first), `latest` the newest one, `none` none;
each slot not sent becomes a `missed` record naming the lapsed lease.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ..model import Claim, CompiledJob, Job
from ..policies import CatchUp
from ..store import ClaimStore
from ..times import iso_utc_micros

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Recovery:
    send: tuple[float, ...]  # skipped slots to claim and send now, oldest first
    missed: tuple[tuple[float, str], ...]  # skipped slots recorded as missed instead, with the reason


def replan_skipped(job: CompiledJob, lapsed: Claim, skipped: Sequence[float], now: float) -> Recovery:
    """The catch_up policy's decision for the slots skipped behind a claim whose lease lapsed."""
    policy = job.policy.catch_up
    because = (
        f"skipped while the run due at {iso_utc_micros(lapsed.due_at)} was held by a node whose lease "
        f"(epoch {lapsed.epoch - 1}) lapsed"
    )
    grace = policy.grace_seconds
    ordered = sorted(skipped)
    late = [s for s in ordered if grace is not None and now - s > grace]
    eligible = [s for s in ordered if grace is None or now - s <= grace]
    if policy.catch_up is CatchUp.ALL:
        send = eligible[-policy.max_catch_up :] if policy.max_catch_up > 0 else []
    elif policy.catch_up is CatchUp.LATEST:
        send = eligible[-1:]
    else:
        send = []
    sent = set(send)
    missed = [(s, f"missed: {because}; {now - s:.1f}s late, more than grace_seconds ({grace:g})") for s in late]
    missed += [
        (s, f"missed: {because}; catch_up={policy.catch_up.value}{_limit(policy.catch_up, policy.max_catch_up)}")
        for s in eligible
        if s not in sent
    ]
    return Recovery(tuple(send), tuple(sorted(missed)))


def _limit(catch_up: CatchUp, max_catch_up: int) -> str:
    if catch_up is CatchUp.ALL:
        return f" sends the newest max_catch_up ({max_catch_up})"
    if catch_up is CatchUp.LATEST:
        return " sends only the newest"
    return " sends no late slot"


async def recover_skipped(
    store: ClaimStore, owner: str, lease: float, reaped: list[Claim], compile: Callable[[Job], CompiledJob | None]
) -> list[Claim]:
    """Claim (for this node) the skipped slots to send behind these reaped claims; record the others missed."""

    def plan(
        job: Job, lapsed: Claim, skipped: list[float], now: float
    ) -> tuple[Sequence[float], Sequence[tuple[float, str]]]:
        compiled = compile(job)
        if compiled is None:  # left skipped: the job no longer compiles (the claim records why)
            return (), ()
        recovery = replan_skipped(compiled, lapsed, skipped, now)
        return recovery.send, recovery.missed

    try:
        return await store.recover_skipped(owner, lease, reaped, plan)
    except Exception as exc:  # they stay recorded as skipped; the reaped claims are sent all the same
        logger.warning("planning the slots skipped behind %d lapsed claims failed: %s", len(reaped), exc)
        return []
