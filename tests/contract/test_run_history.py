"""RunHistory: a job's runs, paged newest first, and their retention."""

from __future__ import annotations

from dataclasses import replace

from tests.contract.conftest import T0, make_job, run
from veggiecron.model import Progress, RunOutcome, User
from veggiecron.store import Store


async def test_list_runs_pages_newest_first_with_the_total(store: Store, alice: User) -> None:
    job = await make_job(store, alice.id, "job")
    other = await make_job(store, alice.id, "other")
    await store.record_progress(Progress(runs=[run(job.id, T0 + 10 * i) for i in range(1, 6)]))
    await store.record_progress(Progress(runs=[run(other.id, T0 + 60)]))
    pages = [await store.list_runs(job.id, 2, offset) for offset in (0, 2, 4, 6)]
    assert [[r.due_at for r in page] for page, _ in pages] == [[T0 + 50, T0 + 40], [T0 + 30, T0 + 20], [T0 + 10], []]
    assert [count for _, count in pages] == [5, 5, 5, 5]
    assert all(r.job_id == job.id for page, _ in pages for r in page)
    assert (await store.list_runs(other.id, 10, 0))[1] == 1


async def test_list_runs_of_a_job_that_never_ran_is_empty(store: Store, alice: User) -> None:
    job = await make_job(store, alice.id, "job")
    assert await store.list_runs(job.id, 10, 0) == ([], 0)


async def test_trim_keeps_the_newest_runs_of_each_job_named(store: Store, alice: User) -> None:
    busy = await make_job(store, alice.id, "busy")
    quiet = await make_job(store, alice.id, "quiet")
    # Quiet's runs are among the oldest rows: "newest" is per job, not across the table.
    await store.record_progress(Progress(runs=[run(quiet.id, T0), run(busy.id, T0), run(quiet.id, T0 + 1)]))
    await store.record_progress(Progress(runs=[run(busy.id, T0 + i) for i in range(1, 10)]))
    before = (await store.list_runs(busy.id, 100, 0))[0]
    assert (await store.trim_runs([busy.id, quiet.id], 3, 0.0, 100)).deleted == 7
    kept, count = await store.list_runs(busy.id, 100, 0)
    assert count == 3
    assert kept == before[:3]  # the newest three, untouched
    assert [r.due_at for r in kept] == [T0 + 9, T0 + 8, T0 + 7]
    # A job with fewer runs than the limit keeps them all.
    assert [r.due_at for r in (await store.list_runs(quiet.id, 100, 0))[0]] == [T0 + 1, T0]
    assert (await store.trim_runs([busy.id, quiet.id], 1, 0.0, 100)).deleted == 3
    assert [r.due_at for r in (await store.list_runs(busy.id, 100, 0))[0]] == [T0 + 9]
    assert [r.due_at for r in (await store.list_runs(quiet.id, 100, 0))[0]] == [T0 + 1]


async def test_trim_touches_only_the_jobs_named_and_deletes_at_most_its_limit(store: Store, alice: User) -> None:
    named = await make_job(store, alice.id, "named")
    other = await make_job(store, alice.id, "other")
    await store.record_progress(Progress(runs=[run(j.id, T0 + i) for i in range(20) for j in (named, other)]))
    assert (await store.trim_runs([named.id], 5, 0.0, 4)).deleted == 4  # a batch stops at its limit
    assert (await store.list_runs(named.id, 1, 0))[1] == 16
    assert (await store.trim_runs([named.id], 5, 0.0, 100)).deleted == 11
    assert (await store.list_runs(named.id, 1, 0))[1] == 5
    assert (await store.list_runs(other.id, 1, 0))[1] == 20  # not named, not touched
    assert (await store.trim_runs([named.id], 5, 0.0, 100)).deleted == 0  # within its limits: nothing to do


async def test_trim_by_age_reaches_a_job_that_fires_rarely(store: Store, alice: User) -> None:
    rare = await make_job(store, alice.id, "rare")
    await store.record_progress(Progress(runs=[run(rare.id, T0 - 86400 * d) for d in (400, 200, 100, 1)]))
    # No count limit (0): only the age limit applies.
    assert (await store.trim_runs([rare.id], 0, T0 - 150 * 86400, 100)).deleted == 2
    assert [r.due_at for r in (await store.list_runs(rare.id, 100, 0))[0]] == [T0 - 86400, T0 - 100 * 86400]
    # Both limits: a run goes when either says so.
    assert (await store.trim_runs([rare.id], 1, T0 - 150 * 86400, 100)).deleted == 1
    assert [r.due_at for r in (await store.list_runs(rare.id, 100, 0))[0]] == [T0 - 86400]


async def test_a_run_both_limits_doom_counts_once_against_the_batch(store: Store, alice: User) -> None:
    # Every run is past the age limit and all but the newest 5 past the count limit: a batch of 10
    # deletes 10 runs, not fewer, so that a full batch still says there may be more to delete.
    job = await make_job(store, alice.id, "old")
    await store.record_progress(Progress(runs=[run(job.id, T0 - 86400 * (30 - i)) for i in range(20)]))
    assert (await store.trim_runs([job.id], 5, T0, 10)).deleted == 10
    assert (await store.trim_runs([job.id], 5, T0, 10)).deleted == 10
    assert (await store.list_runs(job.id, 100, 0))[1] == 0


async def test_job_ids_after_walks_every_job_in_pages(store: Store, alice: User) -> None:
    ids = [(await make_job(store, alice.id, f"j{i}")).id for i in range(5)]
    assert await store.job_ids_after(0, 2) == ids[:2]
    assert await store.job_ids_after(ids[1], 2) == ids[2:4]
    assert await store.job_ids_after(ids[3], 2) == ids[4:]
    assert await store.job_ids_after(ids[4], 2) == []


async def test_list_runs_filters_by_outcome(store: Store, alice: User) -> None:
    job = await make_job(store, alice.id, "job")
    outcomes = [RunOutcome.OK, RunOutcome.FAILED, RunOutcome.OK, RunOutcome.FAILED, RunOutcome.SKIPPED]
    await store.record_progress(
        Progress(runs=[run(job.id, T0 + 10 * i, outcome=o) for i, o in enumerate(outcomes, start=1)])
    )
    failed, count = await store.list_runs(job.id, 1, 0, RunOutcome.FAILED)
    assert ([r.due_at for r in failed], count) == ([T0 + 40], 2)
    failed, count = await store.list_runs(job.id, 10, 1, RunOutcome.FAILED)
    assert ([r.due_at for r in failed], count) == ([T0 + 20], 2)
    assert (await store.list_runs(job.id, 10, 0, RunOutcome.MISSED)) == ([], 0)
    assert (await store.list_runs(job.id, 10, 0, None))[1] == 5


async def test_recent_runs_answers_the_newest_runs_of_each_job(store: Store, alice: User, bob: User) -> None:
    busy = await make_job(store, alice.id, "busy")
    quiet = await make_job(store, alice.id, "quiet")
    idle = await make_job(store, alice.id, "idle")
    other = await make_job(store, bob.id, "other")
    # Interleaved, so "newest" must be per job.
    await store.record_progress(
        Progress(
            runs=[
                *(run(busy.id, T0 + 10 * i) for i in range(1, 8)),
                run(quiet.id, T0 + 5),
                run(other.id, T0 + 5),
                run(busy.id, T0 + 100, outcome=RunOutcome.FAILED, error="boom", status_code=500),
            ]
        )
    )
    recent = await store.recent_runs([busy.id, quiet.id, idle.id], 3)
    assert set(recent) == {busy.id, quiet.id}  # idle never ran; bob's job was not asked for
    assert [r.due_at for r in recent[busy.id]] == [T0 + 100, T0 + 70, T0 + 60]
    assert (recent[busy.id][0].outcome, recent[busy.id][0].error) == (RunOutcome.FAILED, "boom")
    assert [r.due_at for r in recent[quiet.id]] == [T0 + 5]
    assert await store.recent_runs([], 3) == {}


async def test_every_field_of_a_run_comes_back_as_recorded(store: Store, alice: User) -> None:
    job = await make_job(store, alice.id, "job")
    sent = run(job.id, T0, started_at=T0 + 0.25, pool_wait_ms=250.5, error_class=None, response_excerpt="ok")
    unsent = run(
        job.id, T0 + 60, outcome=RunOutcome.FAILED, status_code=None, error="dns: no such name", error_class="dns"
    )
    await store.record_progress(Progress(runs=[sent, unsent]))
    stored, _ = await store.list_runs(job.id, 10, 0)
    assert [replace(r, id=None) for r in reversed(stored)] == [sent, unsent]
    assert stored[0].pool_wait_ms is None and stored[1].pool_wait_ms == 250.5
