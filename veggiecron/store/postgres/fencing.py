"""Finding a node's claimed runs by their slots, one index probe each, for the statements that
write results or leases.

Every such statement names its runs by (job_id, due_at) in arrays and must touch a run only while
it is still claimed by this owner at this epoch. Written as a plain join, `status = 'claimed'`
lets the planner use the partial indexes on claimed runs (runs_leases, runs_pending), whose
estimates are often a row or two; it then scanned every claimed run of the node for each result
(measured: 90 ms for a flush of 200 results, most of PostgreSQL's time per run). Here each slot
is looked up by its job's pending runs, in a lateral subquery the planner keeps as written (OFFSET
0), and its row locked (a lock waits for a concurrent change and checks the fence again on the row
as changed). The update after it finds each locked row by id. Not by ctid: a renewal committed
after the statement's snapshot and before the lock moves the row to a version the snapshot does
not see, and an update by ctid then skips it (measured: valid results refused, their runs reaped
and sent twice).

Rows are locked in the order of the arrays, and a node's result flush and its renewal (on a
connection of its own) may lock the same runs at once: both pass their slots sorted (in_lock_order),
so that neither waits on the other in a circle.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from ...model import Claim

T = TypeVar("T")


def claimed_runs(slots: str, owner: str, also: str = "") -> str:
    """SELECT of the ids (locked_id) and the slots' columns of the runs named by `slots` (a FROM
    item aliased u, with job_id, due_at and epoch) that `owner` (a parameter) still holds, locked.
    Update them with `WHERE runs.id = <alias>.locked_id`."""
    return (
        f"SELECT c.id AS locked_id, u.* FROM {slots} CROSS JOIN LATERAL ("
        "SELECT runs.id FROM runs WHERE runs.job_id = u.job_id AND runs.due_at = u.due_at "
        f"AND runs.epoch = u.epoch AND runs.owner = {owner} AND runs.status = 'claimed'{also} "
        "OFFSET 0 FOR UPDATE) AS c"
    )


def held_claims(first: int, owner: str, also: str = "") -> str:
    """claimed_runs() of claims passed as three arrays from parameter $first on (claim_arrays)."""
    arrays = f"unnest(${first}::bigint[], ${first + 1}::float8[], ${first + 2}::int[])"
    return claimed_runs(f"{arrays} AS u(job_id, due_at, epoch)", owner, also)


def claim_arrays(claims: Sequence[Claim]) -> list[list[Any]]:
    """The claims' job ids, due times and epochs, in lock order, for held_claims()."""
    claims = in_lock_order(claims, lambda c: (c.job_id, c.due_at))
    return [[c.job_id for c in claims], [c.due_at for c in claims], [c.epoch for c in claims]]


def in_lock_order(claims: Sequence[T], slot: Callable[[T], tuple[int, float]]) -> list[T]:
    """The claims sorted by (job, due time): the order every statement here locks runs in."""
    return sorted(claims, key=slot)
