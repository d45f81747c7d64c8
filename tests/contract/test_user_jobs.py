"""JobStore: all of a user's jobs read at once, and many written in one transaction (export, import)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from tests.contract.conftest import T0, make_job, new_job, seed_fields
from veggiecron.errors import Conflict
from veggiecron.model import Job, User
from veggiecron.store import Store
from veggiecron.store.rows import job_created

UUID_A = "6f1c2a8e-0b7d-4c55-9a3e-2d4b8f0e1a01"
UUID_B = "6f1c2a8e-0b7d-4c55-9a3e-2d4b8f0e1a02"


def restored(user_id: int, name: str, **overrides: Any) -> Job:
    """A job to insert with progress of its own (as an import carries it)."""
    job = job_created(0, new_job(user_id, name, created_at=T0 + 7))
    return replace(job, **overrides)


async def test_user_jobs_answers_every_job_in_creation_order_with_its_seed_fields(
    store: Store, alice: User, bob: User
) -> None:
    first = await make_job(store, alice.id, "first")
    seeded = await make_job(store, alice.id, f"seed-{UUID_A}", seed_fields(UUID_A), keep_failures=True)
    await make_job(store, bob.id, "his")
    last = await make_job(store, alice.id, "last", enabled=False, next_run=None)
    assert await store.user_jobs(alice.id) == [(first, None), (seeded, seed_fields(UUID_A)), (last, None)]
    assert await store.user_jobs(alice.id + bob.id + 1) == []


async def test_write_jobs_inserts_with_progress_as_given_and_changes_as_update_job(store: Store, alice: User) -> None:
    kept = await make_job(store, alice.id, "kept", seed=seed_fields(UUID_A))
    paused = restored(
        alice.id,
        "paused",
        enabled=False,
        next_run=None,
        anchor=T0 - 3600,
        run_count=12,
        consecutive_failures=3,
        paused_reason="paused after 3 consecutive failed runs",
        max_runs=20,
        keep_failures=True,
        policy={"pause_after_failures": 3},
    )
    seed = seed_fields(UUID_B, interval_definition="1 minutes", cron_definition=None, auth_token="abc")
    scheduled = restored(alice.id, f"seed-{UUID_B}", next_run=T0 + 60, anchor=T0 - 1)
    changed = replace(kept, schedule="every minute", next_run=T0 + 60, date_updated=T0 + 9, max_runs=4)
    changed_seed = replace(seed_fields(UUID_A), endpoint="http://127.0.0.1:9/changed", updated_by=alice.id)

    await store.write_jobs([(paused, None), (scheduled, seed)], [(changed, changed_seed)])

    jobs = {job.name: (job, seed) for job, seed in await store.user_jobs(alice.id)}
    got, no_seed = jobs["paused"]
    assert got.id > kept.id and got.version == 1 and no_seed is None
    assert got == replace(paused, id=got.id, version=1)
    got, got_seed = jobs[f"seed-{UUID_B}"]
    assert got == replace(scheduled, id=got.id, version=1) and got_seed == seed
    assert (await store.get_seed(alice.id, UUID_B))[0] == got
    assert jobs["kept"] == (replace(changed, version=kept.version + 1), changed_seed)


async def test_a_taken_name_writes_nothing_at_all(store: Store, alice: User) -> None:
    kept = await make_job(store, alice.id, "kept")
    with pytest.raises(Conflict) as raised:
        await store.write_jobs(
            [(restored(alice.id, "new"), None), (restored(alice.id, "kept"), None)],
            [(replace(kept, schedule="every minute"), None)],
        )
    assert raised.value.data == {"field": "name", "name": "kept"} and "'kept'" in raised.value.description
    assert await store.user_jobs(alice.id) == [(kept, None)]


async def test_a_seed_schedule_id_taken_by_another_user_writes_nothing(store: Store, alice: User, bob: User) -> None:
    await make_job(store, bob.id, f"seed-{UUID_A}", seed_fields(UUID_A))
    with pytest.raises(Conflict) as raised:
        await store.write_jobs(
            [(restored(alice.id, "plain"), None), (restored(alice.id, f"seed-{UUID_A}"), seed_fields(UUID_A))], []
        )
    assert raised.value.data == {"field": "seed.uuid", "name": f"seed-{UUID_A}"} and UUID_A in raised.value.description
    assert await store.user_jobs(alice.id) == []
    # The transaction is gone with the refusal: the store goes on writing.
    await store.write_jobs([(restored(alice.id, "plain"), None)], [])
    assert [job.name for job, _seed in await store.user_jobs(alice.id)] == ["plain"]


async def test_writing_no_jobs_writes_nothing(store: Store, alice: User) -> None:
    await store.write_jobs([], [])
    assert await store.user_jobs(alice.id) == []
