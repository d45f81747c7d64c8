"""A node's results written in one statement: fenced runs, streaks and pauses, kept failures and
the buffered slots that start now, all from arrays (unnest), one round trip per flush.

Fencing is inside the statement: a result updates its run only where the run is still claimed
by this owner at this epoch (found and locked as fencing.py says); a refused result touches
nothing else. Jobs whose streak changes are locked in id order (the lock order of every
finish), and only those: a batch of successes of jobs with no failures behind them writes no job
row at all.

A result a follower follows writes the follower's trigger in the same statement: a 'triggered'
run (a disabled follower's: a skipped record), due when the parent's run ended, which any node's
claim then takes (claims.py). It touches no job row, so it adds no lock.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import asyncpg

from ...follow import FOLLOWS_FAILED, FOLLOWS_FINISHED, FOLLOWS_OK, SKIPPED_DISABLED
from ...model import Claim, Finished, FinishReport, StreakChange, idempotency_key
from .connection import NOW
from .fencing import claimed_runs
from .runs import RUN_FIELDS, run_arrays

_FINISH_EXTRA = (
    ("epoch", "int"),
    ("version", "bigint"),
    ("pause_after", "int"),
    ("keep_failure", "bool"),
    ("task_id", "text"),
    ("run_id", "text"),
)
_FIELDS = (*RUN_FIELDS, *_FINISH_EXTRA)
_OWNER = len(_FIELDS) + 1
_LEASE = _OWNER + 1
_ARRAYS = ", ".join(f"${i + 1}::{kind}[]" for i, (_, kind) in enumerate(_FIELDS))
_NAMES = ", ".join(name for name, _ in _FIELDS)

FINISH = f"""
WITH u AS (
    SELECT * FROM unnest({_ARRAYS}) AS u({_NAMES})
), fenced AS MATERIALIZED (
    {claimed_runs("u", f"${_OWNER}")}
), done AS (
    UPDATE runs SET status = 'done', lease_expires = NULL, started_at = u.started_at, duration_ms = u.duration_ms,
        outcome = u.outcome, attempts = u.attempts, status_code = u.status_code, error = u.error,
        response_excerpt = u.response_excerpt, error_class = u.error_class, pool_wait_ms = u.pool_wait_ms
    FROM fenced u
    WHERE runs.id = u.locked_id
    RETURNING runs.id, runs.job_id, runs.due_at, runs.outcome, runs.attempts, runs.error,
        u.version, u.pause_after, u.keep_failure, u.task_id, u.run_id,
        runs.started_at + runs.duration_ms / 1000.0 AS ended
), marked AS (
    -- A failed run that made no attempt never reached its target: it leaves the streak alone.
    SELECT d.*, max(d.due_at) FILTER (WHERE d.outcome = 'ok') OVER (PARTITION BY d.job_id) AS last_ok,
        row_number() OVER (PARTITION BY d.job_id ORDER BY d.due_at DESC) AS newest
    FROM done d
), agg AS (
    SELECT job_id, bool_or(last_ok IS NOT NULL) AS reset,
        count(*) FILTER (WHERE outcome = 'failed' AND attempts > 0 AND (last_ok IS NULL OR due_at > last_ok)) AS tail,
        max(version) FILTER (WHERE newest = 1) AS version, max(pause_after) FILTER (WHERE newest = 1) AS pause_after,
        max(coalesce(error, '')) FILTER (WHERE newest = 1) AS last_error
    FROM marked GROUP BY job_id
), computed AS (
    -- New streak: after a success in the batch, the failures that followed it; else the stored
    -- streak plus the batch's failures. Only jobs whose streak changes are locked.
    SELECT j.id, j.consecutive_failures AS before, j.enabled AS was_enabled, a.version, a.pause_after, a.last_error,
        CASE WHEN a.reset THEN a.tail ELSE j.consecutive_failures + a.tail END AS after
    FROM jobs j JOIN agg a ON a.job_id = j.id
    WHERE (CASE WHEN a.reset THEN a.tail ELSE j.consecutive_failures + a.tail END) <> j.consecutive_failures
    ORDER BY j.id
    FOR UPDATE OF j
), streaked AS (
    UPDATE jobs j SET consecutive_failures = c.after,
        enabled = CASE WHEN c.pause_after IS NOT NULL AND c.after >= c.pause_after AND j.version = c.version
            THEN false ELSE j.enabled END,
        paused_reason = CASE WHEN c.pause_after IS NOT NULL AND c.after >= c.pause_after AND j.version = c.version
            AND j.enabled THEN 'paused after ' || c.after || ' consecutive failed runs; last error: ' || c.last_error
            ELSE j.paused_reason END
    FROM computed c
    WHERE j.id = c.id
    RETURNING j.id, c.before, c.after, (c.was_enabled AND NOT j.enabled) AS paused, j.user_id, j.name, j.paused_reason
), audited AS (
    -- A pause is a change of the job: its audit row (actor system) is written in the same statement.
    INSERT INTO audit_log (at, actor, owner_id, action, target, changes)
    SELECT extract(epoch FROM clock_timestamp()), 'system', user_id, 'job.paused', 'job:' || name,
        json_build_object('enabled', json_build_object('old', true, 'new', false),
            'paused_reason', json_build_object('old', NULL, 'new', paused_reason))
    FROM streaked WHERE paused
), kept AS (
    INSERT INTO failed_tasks (job_id, task_id, initiated_at, reason)
    SELECT job_id, task_id, due_at, coalesce(error, 'failed') FROM done WHERE keep_failure AND outcome = 'failed'
), promoted AS (
    -- The finished runs are still claimed in this statement's snapshot: they do not count.
    UPDATE runs r SET status = 'claimed', owner = ${_OWNER}, lease_expires = {NOW} + ${_LEASE}
    FROM (SELECT DISTINCT ON (b.job_id) b.id FROM runs b
        WHERE b.job_id IN (SELECT job_id FROM done) AND b.status = 'buffered' ORDER BY b.job_id, b.due_at) AS x
    WHERE r.id = x.id AND NOT EXISTS (
        SELECT 1 FROM runs c WHERE c.job_id = r.job_id AND c.status = 'claimed' AND c.id NOT IN (SELECT id FROM done))
    RETURNING r.job_id, r.due_at, r.epoch, r.triggered_by
), followed AS (
    -- Two results of one parent that ended in the same microsecond still make two slots.
    SELECT f.id, f.enabled, d.run_id,
        d.ended + (row_number() OVER (PARTITION BY f.id ORDER BY d.due_at) - 1) * 0.000001 AS slot
    FROM done d JOIN jobs f ON f.after_job = d.job_id
    WHERE (d.outcome = 'ok' AND f.after_on IN ('{FOLLOWS_OK}', '{FOLLOWS_FINISHED}'))
        OR (d.outcome = 'failed' AND f.after_on IN ('{FOLLOWS_FAILED}', '{FOLLOWS_FINISHED}'))
), triggered AS (
    INSERT INTO runs (job_id, due_at, status, started_at, duration_ms, outcome, error, triggered_by)
    SELECT id, slot, CASE WHEN enabled THEN 'triggered' ELSE 'done' END,
        CASE WHEN enabled THEN NULL ELSE {NOW} END, CASE WHEN enabled THEN NULL ELSE 0 END,
        CASE WHEN enabled THEN NULL ELSE 'skipped' END,
        CASE WHEN enabled THEN NULL ELSE '{SKIPPED_DISABLED.replace("'", "''")}' END, run_id
    FROM followed
    ON CONFLICT (job_id, due_at) DO NOTHING
    RETURNING job_id, due_at, status
)
SELECT 'done' AS kind, job_id, due_at, 0 AS epoch, 0 AS before, 0 AS after, false AS paused, NULL AS run FROM done
UNION ALL SELECT 'streak', id, 0, 0, before, after, paused, NULL FROM streaked
UNION ALL SELECT 'promoted', job_id, due_at, epoch, 0, 0, false, triggered_by FROM promoted
UNION ALL SELECT 'triggered', job_id, due_at, 0, 0, 0, false, NULL FROM triggered WHERE status = 'triggered'
"""


def finish_arguments(owner: str, lease: float, results: Sequence[Finished]) -> list[object]:
    runs = [f.run for f in results]
    return [
        *run_arrays(runs),
        [f.claim.epoch for f in results],
        [f.version for f in results],
        [f.pause_after for f in results],
        [f.keep_failure for f in results],
        [str(uuid.uuid4()) if f.keep_failure else None for f in results],
        [idempotency_key(f.claim.job_id, f.claim.due_at) for f in results],  # a follower's triggered_by
        owner,
        lease,
    ]


def finish_report(rows: Sequence[asyncpg.Record]) -> FinishReport:
    accepted: set[tuple[int, float]] = set()
    streaks: list[StreakChange] = []
    promoted: list[Claim] = []
    triggered = 0
    for row in rows:
        kind, job_id, due_at, epoch, before, after, paused, run = tuple(row)
        if kind == "done":
            accepted.add((job_id, due_at))
        elif kind == "streak":
            streaks.append(StreakChange(job_id, before, after, paused))
        elif kind == "promoted":
            promoted.append(Claim(job_id, due_at, epoch, run))
        else:
            triggered += 1
    streaks.sort(key=lambda s: s.job_id)
    return FinishReport(frozenset(accepted), tuple(streaks), tuple(promoted), triggered)
