"""SeedStore: Seed schedules (a job plus its Seed row), failed tasks and webhooks."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from tests.contract.conftest import T0, make_job, seed_fields
from veggiecron.errors import Conflict, NotFound
from veggiecron.model import Job, KeptFailure, Progress, User
from veggiecron.store import Store


async def test_a_schedule_created_with_its_seed_row_reads_back(store: Store, alice: User) -> None:
    seed = seed_fields("0b9c5a52-0000-4000-8000-000000000001", created_by=alice.id, updated_by=alice.id)
    job = await make_job(store, alice.id, "seed-1", seed, max_runs=3, keep_failures=True)
    assert await store.get_seed(alice.id, seed.uuid) == (job, seed)


async def test_seed_fields_round_trip_whatever_they_hold(store: Store, alice: User) -> None:
    interval = seed_fields(
        "uuid-interval",
        cron_definition=None,
        interval_definition="every 15 minutes",
        auth_token="secret-token",
        payload=[1, "two", {"three": None}],
    )
    bare = seed_fields("uuid-bare", payload=None)
    scalar = seed_fields("uuid-scalar", payload="just text")
    for seed in (interval, bare, scalar):
        await make_job(store, alice.id, seed.uuid, seed)
        assert (await store.get_seed(alice.id, seed.uuid))[1] == seed


async def test_get_seed_finds_only_the_users_own_schedule(store: Store, alice: User, bob: User) -> None:
    await make_job(store, alice.id, "seed", seed_fields("alices-uuid"))
    await make_job(store, bob.id, "seed", seed_fields("bobs-uuid"))
    # Both ways round, so no comparison of user ids passes for equality.
    with pytest.raises(NotFound):
        await store.get_seed(bob.id, "alices-uuid")
    with pytest.raises(NotFound):
        await store.get_seed(alice.id, "bobs-uuid")
    with pytest.raises(NotFound):
        await store.get_seed(alice.id, "no-such-uuid")


async def test_a_conflicting_create_leaves_no_seed_row(store: Store, alice: User) -> None:
    await make_job(store, alice.id, "taken")
    with pytest.raises(Conflict):
        await make_job(store, alice.id, "taken", seed_fields("orphan-uuid"))
    # Job and Seed row go in one transaction: the refused job left no schedule behind.
    with pytest.raises(NotFound):
        await store.get_seed(alice.id, "orphan-uuid")
    assert await store.list_seeds(alice.id, 10, 0) == ([], 0)


async def test_list_seeds_pages_the_users_schedules_newest_first(store: Store, alice: User, bob: User) -> None:
    made = []
    for i in range(4):
        seed = seed_fields(f"uuid-{i}")
        made.append((await make_job(store, alice.id, f"seed-{i}", seed, created_at=T0 + i), seed))
    await make_job(store, alice.id, "plain-job", created_at=T0 + 10)  # not a Seed schedule
    await make_job(store, bob.id, "bobs-seed", seed_fields("bobs-uuid"), created_at=T0 + 20)
    newest_first = list(reversed(made))
    assert await store.list_seeds(alice.id, 2, 0) == (newest_first[:2], 4)
    assert await store.list_seeds(alice.id, 2, 2) == (newest_first[2:], 4)
    assert await store.list_seeds(alice.id, 2, 4) == ([], 4)


async def test_seed_uuids_answers_only_seed_schedules(store: Store, alice: User, bob: User) -> None:
    first = await make_job(store, alice.id, "first", seed_fields("uuid-first"))
    plain = await make_job(store, alice.id, "plain")
    bobs = await make_job(store, bob.id, "bobs", seed_fields("uuid-bobs"))
    assert await store.seed_uuids([first.id, plain.id, bobs.id]) == {first.id: "uuid-first", bobs.id: "uuid-bobs"}
    assert await store.seed_uuids([plain.id]) == {}
    assert await store.seed_uuids([]) == {}


async def test_update_job_with_seed_fields_changes_the_seed_row(store: Store, alice: User) -> None:
    seed = seed_fields("uuid", created_by=alice.id, updated_by=alice.id)
    job = await make_job(store, alice.id, "seed", seed)
    new_seed = replace(
        seed,
        cron_definition=None,
        interval_definition="every hour",
        endpoint="http://127.0.0.1:9/other",
        auth_token="token",
        payload={"changed": True},
    )
    updated = await store.update_job(replace(job, schedule="every hour", date_updated=T0 + 5), new_seed)
    assert await store.get_seed(alice.id, "uuid") == (updated, new_seed)
    # Without Seed fields the Seed row stays as it is.
    again = await store.update_job(replace(updated, enabled=False, date_updated=T0 + 6))
    assert await store.get_seed(alice.id, "uuid") == (again, new_seed)


async def test_delete_job_deletes_its_schedule_and_failed_tasks(store: Store, alice: User) -> None:
    job = await make_job(store, alice.id, "seed", seed_fields("uuid"))
    await store.record_progress(Progress(failures=[KeptFailure(job.id, "task", T0, "HTTP 500")]))
    await store.delete_job(job.id)
    with pytest.raises(NotFound):
        await store.get_seed(alice.id, "uuid")
    assert await store.seed_uuids([job.id]) == {}
    assert await store.list_failures(alice.id, 10, 0) == ([], 0)


async def keep_failures(store: Store, job: Job, *task_ids: str) -> None:
    await store.record_progress(
        Progress(
            failures=[KeptFailure(job.id, task_id, T0 + i, f"reason {task_id}") for i, task_id in enumerate(task_ids)]
        )
    )


async def test_list_failures_pages_the_users_failed_tasks_newest_first(store: Store, alice: User, bob: User) -> None:
    first = await make_job(store, alice.id, "first", keep_failures=True)
    second = await make_job(store, alice.id, "second", keep_failures=True)
    bobs = await make_job(store, bob.id, "bobs", keep_failures=True)
    await keep_failures(store, first, "t1", "t2")
    await keep_failures(store, second, "t3")
    await keep_failures(store, bobs, "b1")
    pages = [await store.list_failures(alice.id, 2, offset) for offset in (0, 2)]
    assert [[f.task_id for f in page] for page, _ in pages] == [["t3", "t2"], ["t1"]]
    assert [count for _, count in pages] == [3, 3]
    t3 = pages[0][0][0]
    assert (t3.job_id, t3.initiated_at, t3.reason) == (second.id, T0, "reason t3")
    assert [f.task_id for f in (await store.list_failures(bob.id, 10, 0))[0]] == ["b1"]


async def test_get_failure_finds_only_the_users_own_failed_task(store: Store, alice: User, bob: User) -> None:
    job = await make_job(store, alice.id, "job", keep_failures=True)
    await keep_failures(store, job, "task")
    ((failure,), _) = await store.list_failures(alice.id, 10, 0)
    assert await store.get_failure(alice.id, failure.id) == failure
    bobs_job = await make_job(store, bob.id, "job", keep_failures=True)
    await keep_failures(store, bobs_job, "bobs-task")
    ((bobs_failure,), _) = await store.list_failures(bob.id, 10, 0)
    with pytest.raises(NotFound):
        await store.get_failure(bob.id, failure.id)
    with pytest.raises(NotFound):
        await store.get_failure(alice.id, bobs_failure.id)
    with pytest.raises(NotFound):
        await store.get_failure(alice.id, failure.id + 1000)


async def test_take_failures_removes_and_answers_them_oldest_first_with_their_jobs(
    store: Store, alice: User, bob: User
) -> None:
    first = await make_job(store, alice.id, "first", keep_failures=True)
    second = await make_job(store, alice.id, "second", keep_failures=True)
    bobs = await make_job(store, bob.id, "bobs", keep_failures=True)
    await keep_failures(store, second, "t1")
    await keep_failures(store, first, "t2", "t3")
    await keep_failures(store, bobs, "b1")
    taken = await store.take_failures(alice.id)
    assert [(f.task_id, job) for f, job in taken] == [("t1", second), ("t2", first), ("t3", first)]
    assert all(f.job_id == job.id for f, job in taken)
    assert await store.list_failures(alice.id, 10, 0) == ([], 0)
    assert await store.take_failures(alice.id) == []
    # Bob's failed tasks are his to requeue.
    assert [f.task_id for f in (await store.list_failures(bob.id, 10, 0))[0]] == ["b1"]


async def test_concurrent_takes_hand_out_each_failed_task_once(store: Store, alice: User) -> None:
    # Two requeue requests at once must not requeue the same task twice.
    job = await make_job(store, alice.id, "job", keep_failures=True)
    await keep_failures(store, job, *(f"t{i}" for i in range(20)))
    first, second = await asyncio.gather(store.take_failures(alice.id), store.take_failures(alice.id))
    task_ids = [f.task_id for f, _ in first + second]
    assert sorted(task_ids) == sorted(f"t{i}" for i in range(20))


async def test_webhooks_are_created_read_changed_and_deleted(store: Store, alice: User, bob: User) -> None:
    hook = await store.create_webhook(alice.id, "schedule.added", "http://127.0.0.1:9/hook", T0)
    assert (hook.user_id, hook.event, hook.target, hook.created, hook.updated) == (
        alice.id,
        "schedule.added",
        "http://127.0.0.1:9/hook",
        T0,
        T0,
    )
    assert await store.get_webhook(alice.id, hook.id) == hook
    bobs = await store.create_webhook(bob.id, "schedule.added", "http://127.0.0.1:9/bob", T0)
    with pytest.raises(NotFound):
        await store.get_webhook(bob.id, hook.id)
    with pytest.raises(NotFound):
        await store.get_webhook(alice.id, bobs.id)
    changed = replace(hook, event="schedule.removed", target="http://127.0.0.1:9/other", updated=T0 + 5)
    await store.update_webhook(changed)
    assert await store.get_webhook(alice.id, hook.id) == changed
    await store.delete_webhook(hook.id)
    with pytest.raises(NotFound):
        await store.get_webhook(alice.id, hook.id)
    assert await store.list_webhooks(alice.id, 10, 0) == ([], 0)
    assert await store.get_webhook(bob.id, bobs.id) == bobs  # only that webhook went


async def test_list_webhooks_pages_the_users_webhooks_newest_first(store: Store, alice: User, bob: User) -> None:
    hooks = [
        await store.create_webhook(alice.id, "schedule.added", f"http://127.0.0.1:9/{i}", T0 + i) for i in range(3)
    ]
    await store.create_webhook(bob.id, "schedule.added", "http://127.0.0.1:9/bob", T0)
    assert await store.list_webhooks(alice.id, 2, 0) == ([hooks[2], hooks[1]], 3)
    assert await store.list_webhooks(alice.id, 2, 2) == ([hooks[0]], 3)


async def test_webhooks_for_answers_the_users_webhooks_for_that_event(store: Store, alice: User, bob: User) -> None:
    added = await store.create_webhook(alice.id, "schedule.added", "http://127.0.0.1:9/a", T0)
    await store.create_webhook(alice.id, "schedule.removed", "http://127.0.0.1:9/r", T0)
    added_too = await store.create_webhook(alice.id, "schedule.added", "http://127.0.0.1:9/b", T0)
    await store.create_webhook(bob.id, "schedule.added", "http://127.0.0.1:9/bob", T0)
    hooks = await store.webhooks_for(alice.id, "schedule.added")
    assert sorted(hooks, key=lambda h: h.id) == [added, added_too]
    assert await store.webhooks_for(alice.id, "schedule.updated") == []
