"""JobStore: jobs as their owners see them."""

from __future__ import annotations

from dataclasses import replace

import pytest

from tests.contract.conftest import T0, make_job, new_job, run
from veggiecron.errors import Conflict, NotFound
from veggiecron.model import Progress, User
from veggiecron.store import Store


async def test_create_job_answers_what_get_job_reads_back(store: Store, alice: User) -> None:
    new = new_job(
        alice.id,
        "nightly",
        data={"url": "http://127.0.0.1:9/x", "headers": {"X-Id": "7"}, "retries": 2},
        schedule="cron 0 3 * * *",
        timezone="Europe/Paris",
        next_run=T0 + 3600,
        anchor=T0 - 60,
        created_at=T0 + 1,
        max_runs=5,
        keep_failures=True,
        policy={"jitter_seconds": 5, "overlap": "skip"},
        tags=("nightly", "team.ops"),
    )
    created = await store.create_job(new)
    assert created.id > 0
    assert (created.user_id, created.name, created.type) == (alice.id, "nightly", "http")
    assert created.data == new.data and created.policy == new.policy
    assert (created.schedule, created.timezone, created.enabled) == ("cron 0 3 * * *", "Europe/Paris", True)
    assert (created.next_run, created.anchor) == (T0 + 3600, T0 - 60)
    assert (created.version, created.run_count, created.consecutive_failures, created.paused_reason) == (1, 0, 0, None)
    assert (created.date_created, created.date_updated) == (T0 + 1, T0 + 1)
    assert (created.max_runs, created.keep_failures) == (5, True)
    assert created.tags == ("nightly", "team.ops")
    assert await store.get_job(alice.id, "nightly") == created


async def test_a_disabled_job_without_next_run_round_trips(store: Store, alice: User) -> None:
    created = await make_job(store, alice.id, "off", enabled=False, next_run=None)
    fetched = await store.get_job(alice.id, "off")
    assert fetched == created
    assert (fetched.enabled, fetched.next_run) == (False, None)


async def test_a_duplicate_name_conflicts_for_the_same_user_only(store: Store, alice: User, bob: User) -> None:
    first = await make_job(store, alice.id, "ping")
    with pytest.raises(Conflict) as raised:
        await make_job(store, alice.id, "ping", schedule="every minute", created_at=T0 + 5)
    assert raised.value.data["field"] == "name"
    assert await store.get_job(alice.id, "ping") == first  # the refused insert changed nothing
    assert await store.count_jobs(alice.id) == 1
    # Names are per user: bob may have a "ping" of his own.
    bobs = await make_job(store, bob.id, "ping")
    assert bobs.id != first.id
    assert await store.get_job(bob.id, "ping") == bobs


async def test_get_job_finds_only_the_users_own_job(store: Store, alice: User, bob: User) -> None:
    await make_job(store, alice.id, "mine")
    await make_job(store, bob.id, "his")
    with pytest.raises(NotFound):
        await store.get_job(bob.id, "mine")
    with pytest.raises(NotFound):
        await store.get_job(alice.id, "his")
    with pytest.raises(NotFound):
        await store.get_job(alice.id, "missing")


async def test_import_jobs_stores_enabled_http_jobs(store: Store, alice: User) -> None:
    await make_job(store, alice.id, "existing")
    await store.import_jobs(
        alice.id,
        [
            ("b", {"url": "http://127.0.0.1:9/b"}, "every minute", T0 + 60, T0),
            ("a", {"url": "http://127.0.0.1:9/a", "verb": "POST"}, "every 5 seconds", T0 + 5, T0 - 1),
        ],
        T0 + 2,
        job_type="http",
    )
    jobs, count = await store.list_jobs(alice.id, 10, 0)
    assert count == 3
    assert [j.name for j in jobs] == ["existing", "b", "a"]  # in the order imported, after the older job
    b, a = jobs[1], jobs[2]
    assert (b.type, b.timezone, b.enabled, b.version, b.run_count) == ("http", "UTC", True, 1, 0)
    assert (b.data, b.schedule, b.next_run, b.anchor) == ({"url": "http://127.0.0.1:9/b"}, "every minute", T0 + 60, T0)
    assert (a.data, a.schedule, a.next_run, a.anchor) == (
        {"url": "http://127.0.0.1:9/a", "verb": "POST"},
        "every 5 seconds",
        T0 + 5,
        T0 - 1,
    )
    assert (a.date_created, a.date_updated, a.user_id) == (T0 + 2, T0 + 2, alice.id)
    assert await store.get_job(alice.id, "a") == a
    assert await store.count_scheduled() == 3


async def test_list_jobs_pages_in_creation_order_with_the_total(store: Store, alice: User, bob: User) -> None:
    # Names out of alphabetical order, so a list sorted by name would show.
    names = ["echo", "charlie", "alpha", "delta", "bravo"]
    for i, name in enumerate(names):
        await make_job(store, alice.id, name, created_at=T0 + i)
    await make_job(store, bob.id, "zulu")
    pages = [await store.list_jobs(alice.id, 2, offset) for offset in (0, 2, 4, 6)]
    assert [[j.name for j in page] for page, _ in pages] == [["echo", "charlie"], ["alpha", "delta"], ["bravo"], []]
    assert [count for _, count in pages] == [5, 5, 5, 5]
    assert await store.list_jobs(bob.id, 10, 0) == ([await store.get_job(bob.id, "zulu")], 1)


async def test_list_jobs_of_a_user_without_jobs_is_empty(store: Store, alice: User) -> None:
    assert await store.list_jobs(alice.id, 10, 0) == ([], 0)


async def test_update_job_writes_every_changed_field_and_bumps_the_version(
    store: Store, alice: User, bob: User
) -> None:
    job = await make_job(store, alice.id, "job", max_runs=3)
    bystander = await make_job(store, bob.id, "job")
    changed = replace(
        job,
        data={"url": "http://127.0.0.1:9/changed", "verb": "PUT"},
        schedule="every 2 minutes",
        timezone="America/New_York",
        enabled=False,
        next_run=None,
        anchor=T0 + 100,
        date_updated=T0 + 100,
        max_runs=None,
        policy={"pause_after_failures": 3},
        paused_reason="failed 3 times in a row",
        consecutive_failures=3,
        tags=("billing", "eu:west"),
    )
    updated = await store.update_job(changed)
    assert updated == replace(changed, version=2)
    assert await store.get_job(alice.id, "job") == updated
    # And back: None becomes a value again, a value becomes None.
    again = replace(
        updated,
        enabled=True,
        next_run=T0 + 200,
        date_updated=T0 + 200,
        max_runs=10,
        paused_reason=None,
        consecutive_failures=0,
        tags=(),
    )
    assert await store.update_job(again) == replace(again, version=3)
    assert await store.get_job(alice.id, "job") == replace(again, version=3)
    assert await store.get_job(bob.id, "job") == bystander  # only that job changed


async def test_delete_job_removes_the_job_and_its_runs(store: Store, alice: User) -> None:
    doomed = await make_job(store, alice.id, "doomed")
    kept = await make_job(store, alice.id, "kept")
    await store.record_progress(Progress(runs=[run(doomed.id, T0 + 10), run(kept.id, T0 + 10)]))
    await store.delete_job(doomed.id)
    with pytest.raises(NotFound):
        await store.get_job(alice.id, "doomed")
    assert await store.list_runs(doomed.id, 10, 0) == ([], 0)
    assert (await store.list_runs(kept.id, 10, 0))[1] == 1
    assert await store.count_jobs(alice.id) == 1
    # The name is free again.
    assert (await make_job(store, alice.id, "doomed")).id not in (doomed.id, kept.id)


async def test_count_jobs_counts_the_users_jobs_in_every_state(store: Store, alice: User, bob: User) -> None:
    assert await store.count_jobs(alice.id) == 0
    await make_job(store, alice.id, "scheduled")
    await make_job(store, alice.id, "disabled", enabled=False)
    await make_job(store, alice.id, "done", next_run=None)
    await make_job(store, bob.id, "other")
    assert await store.count_jobs(alice.id) == 3
    assert await store.count_jobs(bob.id) == 1


async def test_enabled_job_timings_lists_only_the_users_enabled_jobs(store: Store, alice: User, bob: User) -> None:
    scheduled = await make_job(store, alice.id, "scheduled", data={"url": "http://127.0.0.1:9/", "number_of_clones": 2})
    done = await make_job(store, alice.id, "done", next_run=None, schedule="once", timezone="Asia/Tokyo")
    await make_job(store, alice.id, "disabled", enabled=False)
    await make_job(store, bob.id, "bobs")
    timings = await store.enabled_job_timings(alice.id)
    assert sorted(timings, key=lambda t: t[0]) == [
        (scheduled.id, "every 10 seconds", "UTC", "http", {"url": "http://127.0.0.1:9/", "number_of_clones": 2}),
        (done.id, "once", "Asia/Tokyo", "http", {"url": "http://127.0.0.1:9/"}),
    ]


async def test_scheduled_counts_and_states_span_all_users(store: Store, alice: User, bob: User) -> None:
    assert await store.count_scheduled() == 0
    assert await store.job_counts_by_state() == {"scheduled": 0, "paused": 0, "disabled": 0, "done": 0}
    await make_job(store, alice.id, "a1")
    await make_job(store, alice.id, "a2", next_run=T0 + 1000)
    await make_job(store, alice.id, "a-off", enabled=False)
    # Disabled wins over done: a switched-off job with no run left is disabled.
    await make_job(store, alice.id, "a-off-done", enabled=False, next_run=None)
    await make_job(store, bob.id, "b1")
    await make_job(store, bob.id, "b-done", next_run=None)
    # A job that switched itself off after failing is paused, not disabled.
    paused = await make_job(store, bob.id, "b-paused")
    await store.update_job(replace(paused, enabled=False, paused_reason="failed 3 times in a row"))
    assert await store.count_scheduled() == 3
    assert await store.job_counts_by_state() == {"scheduled": 3, "paused": 1, "disabled": 2, "done": 1}
