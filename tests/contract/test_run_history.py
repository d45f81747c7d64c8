"""RunHistory: a job's runs, paged newest first, and their retention."""

from __future__ import annotations

from tests.contract.conftest import T0, make_job, run
from veggiecron.model import Progress, User
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


async def test_prune_runs_keeps_the_newest_runs_of_every_job(store: Store, alice: User) -> None:
    busy = await make_job(store, alice.id, "busy")
    quiet = await make_job(store, alice.id, "quiet")
    # Quiet's runs are among the oldest rows: "newest" is per job, not across the table.
    await store.record_progress(Progress(runs=[run(quiet.id, T0), run(busy.id, T0), run(quiet.id, T0 + 1)]))
    await store.record_progress(Progress(runs=[run(busy.id, T0 + i) for i in range(1, 10)]))
    before = (await store.list_runs(busy.id, 100, 0))[0]
    await store.prune_runs(keep_per_job=3)
    kept, count = await store.list_runs(busy.id, 100, 0)
    assert count == 3
    assert kept == before[:3]  # the newest three, untouched
    assert [r.due_at for r in kept] == [T0 + 9, T0 + 8, T0 + 7]
    # A job with fewer runs than the limit keeps them all.
    assert [r.due_at for r in (await store.list_runs(quiet.id, 100, 0))[0]] == [T0 + 1, T0]
    await store.prune_runs(keep_per_job=1)
    assert [r.due_at for r in (await store.list_runs(busy.id, 100, 0))[0]] == [T0 + 9]
    assert [r.due_at for r in (await store.list_runs(quiet.id, 100, 0))[0]] == [T0 + 1]
