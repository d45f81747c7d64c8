"""The claim contract (several nodes on one database), on every store that implements it: claims
under leases, their renewal and reaping, fenced results, wake-ups. Only PostgreSQL does today."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import replace

import asyncpg
import pytest

from tests.contract.conftest import new_job
from tests.postgres import PostgresServer
from veggiecron.model import Claim, DueJob, Finished, Job, Progress, Run, RunOutcome, SlotDecision, User
from veggiecron.store.postgres import PostgresStore
from veggiecron.store.postgres.runs import TRIM_LOCK

LEASE = 30.0
# Claims are decided by the database's real clock: these slots are long past, FAR is decades ahead.
T0 = 1_700_000_000.0
FAR = 4_000_000_000.0
Plan = Callable[[Sequence[DueJob], float], Sequence[SlotDecision]]


@pytest.fixture
async def url(postgres_server: PostgresServer) -> AsyncIterator[str]:
    url = await postgres_server.create_database()
    yield url
    await postgres_server.drop_database(url)


@pytest.fixture
async def node(url: str) -> AsyncIterator[PostgresStore]:
    store = PostgresStore(url, min_size=1, max_size=4)
    await store.open()
    yield store
    await store.close()


@pytest.fixture
async def other_node(url: str) -> AsyncIterator[PostgresStore]:
    store = PostgresStore(url, min_size=1, max_size=4)
    await store.open()
    yield store
    await store.close()


@pytest.fixture
async def alice(node: PostgresStore) -> User:
    return await node.create_user("alice", "hash", T0)


async def due_job(store: PostgresStore, user: User, name: str, next_run: float, **fields: object) -> Job:
    """A job due at `next_run` (far in the past or future of the database's real clock)."""
    return await store.create_job(new_job(user.id, name, next_run=next_run, **fields))


async def move(store: PostgresStore, user: User, name: str, **fields: object) -> Job:
    """Change a stored job as its owner would (next_run, enabled ...)."""
    return await store.update_job(replace(await store.get_job(user.id, name), **fields))  # type: ignore[arg-type]


def send_each(seen: list[DueJob] | None = None, **decision: object) -> Plan:
    """A plan that sends each due job's slot and moves it far ahead (recording what it saw)."""

    def plan(due: Sequence[DueJob], now: float) -> list[SlotDecision]:
        if seen is not None:
            seen.extend(due)
        args = {"counted": 1, **decision}
        return [
            SlotDecision(d.job.id, FAR, claims=(d.job.next_run or 0,), **args)  # type: ignore[arg-type]
            for d in due
        ]

    return plan


def result(claim: Claim, outcome: RunOutcome = RunOutcome.OK, **fields: object) -> Finished:
    run = Run(claim.job_id, claim.due_at, claim.due_at, 5.0, outcome, 1, 200 if outcome is RunOutcome.OK else 503)
    options = {"version": 1, "keep_failure": False, "pause_after": None, **fields}
    return Finished(claim, run, **options)  # type: ignore[arg-type]


async def test_a_claim_takes_the_due_jobs_advances_them_and_a_second_claim_finds_nothing(
    node: PostgresStore, alice: User
) -> None:
    first = await due_job(node, alice, "first", T0)
    second = await due_job(node, alice, "second", T0 + 1)
    await due_job(node, alice, "later", FAR)  # not due for decades
    seen: list[DueJob] = []
    claims, now = await node.claim_due("a", 0.0, 100, LEASE, send_each(seen))
    assert now > T0 and now < FAR
    assert sorted(claims) == sorted([Claim(first.id, T0, 1), Claim(second.id, T0 + 1, 1)])
    assert [d.job.name for d in seen] == ["first", "second"]  # earliest first
    assert all(d.in_flight == 0 and not d.buffered for d in seen)
    assert (await node.get_job(alice.id, "first")).next_run == FAR
    assert (await node.get_job(alice.id, "first")).run_count == 1
    again, _ = await node.claim_due("b", 0.0, 100, LEASE, send_each())
    assert again == []


async def test_two_nodes_claiming_at_once_never_claim_the_same_slot(
    node: PostgresStore, other_node: PostgresStore, alice: User
) -> None:
    await node.import_jobs(
        alice.id,
        [(f"j{i}", {"url": "http://127.0.0.1:9/"}, "every hour", T0 + i / 1000, T0) for i in range(400)],
        T0,
        job_type="http",
    )
    rounds = await asyncio.gather(
        *(
            store.claim_due(owner, 0.0, 50, LEASE, send_each())
            for _ in range(4)
            for store, owner in ((node, "a"), (other_node, "b"))
        )
    )
    taken = [(c.job_id, c.due_at) for claims, _ in rounds for c in claims]
    assert len(taken) == len(set(taken)) == 400


async def test_overlap_sees_the_runs_in_flight_on_every_node(node: PostgresStore, alice: User) -> None:
    job = await due_job(node, alice, "j", T0)
    await node.claim_due("a", 0.0, 10, LEASE, send_each())
    await move(node, alice, "j", next_run=T0 + 1)
    seen: list[DueJob] = []
    await node.claim_due("b", 0.0, 10, LEASE, send_each(seen, buffered=(T0 + 2,)))
    assert [(d.job.id, d.in_flight) for d in seen] == [(job.id, 1)]
    await move(node, alice, "j", next_run=T0 + 3)
    seen.clear()
    await node.claim_due("c", 0.0, 10, LEASE, send_each(seen))
    assert [(d.in_flight, d.buffered) for d in seen] == [(2, True)]


async def test_renewal_extends_the_claims_held_and_answers_only_those_still_held(
    node: PostgresStore, alice: User
) -> None:
    await due_job(node, alice, "kept", T0)
    await due_job(node, alice, "dropped", T0 + 1)
    claims, _ = await node.claim_due("a", 0.0, 10, LEASE, send_each())
    kept = [c for c in claims if c.due_at == T0]
    assert await node.renew_leases("a", LEASE, kept) == kept
    assert await node.renew_leases("intruder", LEASE, kept) == []
    assert await node.renew_leases("a", LEASE, []) == []


async def test_a_lapsed_claim_is_reaped_with_its_epoch_raised_and_the_old_owner_is_fenced_off(
    node: PostgresStore, other_node: PostgresStore, alice: User
) -> None:
    await due_job(node, alice, "j", T0)
    (claim,) = (await node.claim_due("a", 0.0, 10, 0.3, send_each()))[0]
    assert await other_node.reap_expired("b", LEASE, 10) == []  # still leased
    await asyncio.sleep(0.4)
    (taken,) = await other_node.reap_expired("b", LEASE, 10)
    assert taken == Claim(claim.job_id, claim.due_at, 2)
    assert await node.renew_leases("a", LEASE, [claim]) == []  # the old owner learns it lost it
    refused = await node.finish_runs("a", LEASE, [result(claim)])
    assert refused.accepted == frozenset()
    finished = result(taken)
    finished = replace(finished, run=replace(finished.run, pool_wait_ms=12.5, response_excerpt="sent again"))
    accepted = await other_node.finish_runs("b", LEASE, [finished])
    assert accepted.accepted == {(taken.job_id, taken.due_at)}
    runs, count = await node.list_runs(claim.job_id, 10, 0)
    assert count == 1 and replace(runs[0], id=None) == finished.run  # every field, as the node sent it


async def test_released_claims_are_reaped_at_once(node: PostgresStore, other_node: PostgresStore, alice: User) -> None:
    await due_job(node, alice, "j", T0)
    (claim,) = (await node.claim_due("a", 0.0, 10, LEASE, send_each()))[0]
    await node.release("a", [claim])
    assert await other_node.reap_expired("b", LEASE, 10) == [Claim(claim.job_id, claim.due_at, 2)]


async def test_results_update_streaks_pause_at_the_limit_and_keep_failures(node: PostgresStore, alice: User) -> None:
    job = await due_job(node, alice, "j", T0, keep_failures=True)

    async def one_run(at: float, outcome: RunOutcome) -> list[tuple[int, int, bool]]:
        current = await move(node, alice, "j", next_run=at, enabled=True)
        (claim,) = (await node.claim_due("a", 0.0, 10, LEASE, send_each()))[0]
        finished = result(claim, outcome, version=current.version, keep_failure=True, pause_after=2)
        report = await node.finish_runs("a", LEASE, [finished])
        return [(c.before, c.after, c.paused) for c in report.streaks]

    assert await one_run(T0, RunOutcome.FAILED) == [(0, 1, False)]
    assert await one_run(T0 + 1, RunOutcome.FAILED) == [(1, 2, True)]
    paused = await node.get_job(alice.id, "j")
    assert not paused.enabled and paused.consecutive_failures == 2
    assert paused.paused_reason is not None and "2 consecutive failed runs" in paused.paused_reason
    (row,), _count = await node.list_audit(alice.id, 10, 0, action="job.paused")  # with the pause, once
    assert (row.actor, row.target, row.changes) == (
        "system",
        "job:j",
        {"enabled": {"old": True, "new": False}, "paused_reason": {"old": None, "new": paused.paused_reason}},
    )
    failures, count = await node.list_failures(alice.id, 10, 0)
    assert count == 2 and {f.job_id for f in failures} == {job.id}
    assert await one_run(T0 + 2, RunOutcome.OK) == [(2, 0, False)]
    assert await one_run(T0 + 3, RunOutcome.OK) == []  # no change, nothing to tell


async def test_a_buffered_slot_starts_when_the_run_in_flight_is_written(node: PostgresStore, alice: User) -> None:
    await due_job(node, alice, "j", T0)
    (claim,) = (await node.claim_due("a", 0.0, 10, LEASE, send_each()))[0]
    await move(node, alice, "j", next_run=T0 + 1)

    def buffer(due: Sequence[DueJob], now: float) -> list[SlotDecision]:
        return [SlotDecision(d.job.id, FAR, 1, buffered=(T0 + 1,)) for d in due]

    assert (await node.claim_due("a", 0.0, 10, LEASE, buffer))[0] == []
    report = await node.finish_runs("a", LEASE, [result(claim)])
    assert report.promoted == (Claim(claim.job_id, T0 + 1, 1),)


async def test_replacing_takes_the_runs_in_flight_from_their_owner(node: PostgresStore, alice: User) -> None:
    await due_job(node, alice, "j", T0)
    (claim,) = (await node.claim_due("a", 0.0, 10, LEASE, send_each()))[0]
    await move(node, alice, "j", next_run=T0 + 1)
    (newer,) = (await node.claim_due("b", 0.0, 10, LEASE, send_each(replace=True)))[0]
    assert newer.due_at == T0 + 1
    assert await node.renew_leases("a", LEASE, [claim]) == []  # its owner cancels it


async def test_skipped_and_missed_slots_are_recorded_as_the_plan_says(node: PostgresStore, alice: User) -> None:
    job = await due_job(node, alice, "j", T0)
    skipped = Run(job.id, T0, T0 + 5, 0.0, RunOutcome.SKIPPED, error="skipped: the previous run was still in flight")

    def record(due: Sequence[DueJob], now: float) -> list[SlotDecision]:
        return [SlotDecision(d.job.id, FAR, 1, records=(skipped,)) for d in due]

    assert (await node.claim_due("a", 0.0, 10, LEASE, record))[0] == []
    runs, _ = await node.list_runs(job.id, 10, 0)
    assert [(r.due_at, r.outcome, r.error) for r in runs] == [(T0, RunOutcome.SKIPPED, skipped.error)]


async def test_run_now_claims_a_slot_at_the_databases_now(node: PostgresStore, alice: User) -> None:
    job = await due_job(node, alice, "j", FAR)
    claim = await node.claim_now("a", job.id, LEASE)
    assert claim is not None and claim.epoch == 1 and claim.due_at > T0
    await node.delete_job(job.id)
    assert await node.claim_now("a", job.id, LEASE) is None


async def test_next_due_is_the_earliest_next_run(node: PostgresStore, alice: User) -> None:
    assert (await node.next_due())[0] is None
    await due_job(node, alice, "b", T0 + 5)
    await due_job(node, alice, "a", T0 + 2)
    await due_job(node, alice, "off", T0, enabled=False)
    earliest, now = await node.next_due()
    assert earliest == T0 + 2 and now > T0


async def test_every_node_listening_hears_of_a_job_created_on_another(
    node: PostgresStore, other_node: PostgresStore, alice: User
) -> None:
    heard: list[float] = []
    listening = await other_node.listen(heard.append)
    try:
        await due_job(node, alice, "j", T0 + 42)
        for _ in range(100):
            if heard:
                break
            await asyncio.sleep(0.02)
        assert heard == [T0 + 42]
    finally:
        await listening.close()


async def test_slots_skipped_behind_a_lapsed_claim_are_sent_or_recorded_missed_as_the_plan_says(
    node: PostgresStore, other_node: PostgresStore, alice: User
) -> None:
    job = await due_job(node, alice, "j", T0)
    (claim,) = (await node.claim_due("a", 0.0, 10, 0.3, send_each()))[0]
    skipped = [Run(job.id, T0 + i, T0 + i, 0.0, RunOutcome.SKIPPED, error="skipped") for i in (1, 2, 3)]
    await move(node, alice, "j", next_run=T0 + 1)

    def record(due: Sequence[DueJob], now: float) -> list[SlotDecision]:
        return [SlotDecision(d.job.id, FAR, 3, records=tuple(skipped)) for d in due]

    await node.claim_due("b", 0.0, 10, LEASE, record)
    await asyncio.sleep(0.4)
    (taken,) = await other_node.reap_expired("b", LEASE, 10)
    asked: list[tuple[int, Claim, list[float]]] = []

    def plan(j: Job, lapsed: Claim, slots: list[float], now: float) -> tuple[list[float], list[tuple[float, str]]]:
        asked.append((j.id, lapsed, slots))
        return [T0 + 2, T0 + 3], [(T0 + 1, "missed: lease lapsed")]

    recovered = await other_node.recover_skipped("b", LEASE, [taken], plan)
    assert asked == [(job.id, taken, [T0 + 1, T0 + 2, T0 + 3])]
    assert sorted(recovered) == [Claim(job.id, T0 + 2, 2), Claim(job.id, T0 + 3, 2)]  # sent after a lapse
    assert await other_node.renew_leases("b", LEASE, recovered) == recovered  # held by b like any claim
    runs, _ = await node.list_runs(job.id, 10, 0)
    assert [(r.due_at, r.outcome, r.error) for r in runs] == [(T0 + 1, RunOutcome.MISSED, "missed: lease lapsed")]
    # Nothing is left to recover a second time.
    assert await other_node.recover_skipped("b", LEASE, [taken], plan) == []
    assert len(asked) == 1


async def test_one_batch_writes_the_results_still_owned_and_refuses_the_stale_ones_inside_it(
    node: PostgresStore, other_node: PostgresStore, alice: User
) -> None:
    jobs = [await due_job(node, alice, f"j{i}", T0 + i, keep_failures=True) for i in range(4)]
    claims = sorted((await node.claim_due("a", 0.0, 10, 0.3, send_each()))[0], key=lambda c: c.due_at)
    # Two of the four lapse and are taken over by b; a's batch of all four writes only the other two.
    assert await node.renew_leases("a", LEASE, claims[::2]) == claims[::2]
    await asyncio.sleep(0.4)
    taken = await other_node.reap_expired("b", LEASE, 10)
    assert sorted(c.job_id for c in taken) == [jobs[1].id, jobs[3].id]
    report = await node.finish_runs("a", LEASE, [result(c, RunOutcome.FAILED, keep_failure=True) for c in claims])
    assert report.accepted == {(c.job_id, c.due_at) for c in claims[::2]}
    # The refused results changed nothing: no streak, no kept failure, no record of their jobs.
    assert sorted(s.job_id for s in report.streaks) == [jobs[0].id, jobs[2].id]
    failures, count = await node.list_failures(alice.id, 10, 0)
    assert count == 2 and {f.job_id for f in failures} == {jobs[0].id, jobs[2].id}
    for job in jobs[1::2]:
        assert (await node.list_runs(job.id, 10, 0))[1] == 0
        assert (await node.get_job(alice.id, job.name)).consecutive_failures == 0
    # b's copies are written by b, in one batch of its own.
    written = await other_node.finish_runs("b", LEASE, [result(c) for c in taken])
    assert written.accepted == {(c.job_id, c.due_at) for c in taken} and written.streaks == ()


async def test_a_result_is_written_when_its_lease_was_renewed_while_the_batch_waited(
    node: PostgresStore, url: str, alice: User
) -> None:
    # A renewal (the renewer's own connection) holds the run's row while the batch starts: the
    # batch's snapshot is older than the renewed row it then locks, and the result must still be
    # written (the fence holds: same owner, same epoch, still claimed).
    await due_job(node, alice, "renewed", T0)
    [claim], _ = await node.claim_due("a", 0.0, 10, LEASE, send_each())
    renewer = await asyncpg.connect(url)
    try:
        renewal = renewer.transaction()
        await renewal.start()
        await renewer.execute("UPDATE runs SET lease_expires = lease_expires + 1 WHERE job_id = $1", claim.job_id)
        batch = asyncio.create_task(node.finish_runs("a", LEASE, [result(claim)]))
        waiting = (
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()"
        )
        for _ in range(200):
            if await renewer.fetchval(waiting):
                break
            await asyncio.sleep(0.01)
        assert await renewer.fetchval(waiting) == 1, "the batch did not wait for the renewal's row"
        await renewal.commit()
        report = await batch
    finally:
        await renewer.close()
    assert report.accepted == {(claim.job_id, claim.due_at)}
    [run], _ = await node.list_runs(claim.job_id, 10, 0)
    assert run.outcome is RunOutcome.OK


async def test_trimming_history_never_deletes_a_claimed_run_and_one_node_trims_at_a_time(
    node: PostgresStore, other_node: PostgresStore, alice: User
) -> None:
    job = await due_job(node, alice, "job", T0)
    [claim], _ = await node.claim_due("a", 0.0, 100, LEASE, send_each())
    # Older finished runs of the same job, then a trim down to none at all: the claim stays.
    await node.record_progress(Progress(runs=[Run(job.id, T0 - 10 * i, T0, 1.0, RunOutcome.OK) for i in range(1, 6)]))
    assert (await node.trim_runs([job.id], 1, T0 + 1, 100)).deleted == 5  # every finished run is older than the cutoff
    # By age alone (no count limit), finished runs recorded after the claim: the claim, as old, stays.
    await node.record_progress(Progress(runs=[Run(job.id, T0 - 100 - i, T0, 1.0, RunOutcome.OK) for i in range(3)]))
    assert (await node.trim_runs([job.id], 0, T0 + 1, 100)).deleted == 3
    report = await node.finish_runs("a", LEASE, [result(claim)])
    assert (claim.job_id, claim.due_at) in report.accepted  # the claimed run was there to be finished
    # While one node holds the trim's lock, another's trim skips its turn (-1) and deletes nothing,
    # though every finished run is past both limits.
    await node.record_progress(Progress(runs=[Run(job.id, T0 - 200 - i, T0, 1.0, RunOutcome.OK) for i in range(3)]))
    async with node._transaction() as conn:
        await conn.execute("SELECT pg_advisory_xact_lock($1)", TRIM_LOCK)
        assert (await other_node.trim_runs([job.id], 0, T0 + 1, 100)).deleted == -1
    assert (await node.list_runs(job.id, 10, 0))[1] == 4
    assert (await other_node.trim_runs([job.id], 0, T0 + 1, 100)).deleted == 4  # the lock released: its turn
