"""JobStore.list_jobs with a filter: tags, a text search over names and URLs, states, failing jobs."""

from __future__ import annotations

import asyncio
from dataclasses import replace

from tests.contract.conftest import T0, make_job
from veggiecron.model import JobFilter, JobState, User
from veggiecron.store import Store


async def names(store: Store, user: User, where: JobFilter, limit: int = 100, offset: int = 0) -> tuple[list[str], int]:
    jobs, count = await store.list_jobs(user.id, limit, offset, where)
    return [j.name for j in jobs], count


async def test_tags_round_trip_and_filter_exactly(store: Store, alice: User, bob: User) -> None:
    await make_job(store, alice.id, "a", tags=("billing", "nightly"))
    await make_job(store, alice.id, "b", tags=("billing",))
    await make_job(store, alice.id, "c", tags=("Billing", "billing-eu"))  # neither is "billing"
    await make_job(store, alice.id, "d")
    await make_job(store, bob.id, "e", tags=("billing",))
    assert (await store.get_job(alice.id, "a")).tags == ("billing", "nightly")
    assert (await store.get_job(alice.id, "d")).tags == ()
    assert await names(store, alice, JobFilter(tags=("billing",))) == (["a", "b"], 2)
    assert await names(store, alice, JobFilter(tags=("billing", "nightly"))) == (["a"], 1)  # every tag
    assert await names(store, alice, JobFilter(tags=("none",))) == ([], 0)
    assert await names(store, alice, JobFilter()) == (["a", "b", "c", "d"], 4)


async def test_text_matches_a_piece_of_the_name_or_the_url_in_any_case(store: Store, alice: User, bob: User) -> None:
    await make_job(store, alice.id, "Nightly-Report", data={"url": "http://127.0.0.1:9/x"})
    await make_job(store, alice.id, "ping", data={"url": "http://reports.example/health"})
    await make_job(store, alice.id, "other", data={"url": "http://127.0.0.1:9/"})
    await make_job(store, bob.id, "report", data={"url": "http://127.0.0.1:9/"})
    assert await names(store, alice, JobFilter(text="REPORT")) == (["Nightly-Report", "ping"], 2)
    assert await names(store, alice, JobFilter(text="health")) == (["ping"], 1)


async def test_text_takes_like_wildcards_literally(store: Store, alice: User) -> None:
    await make_job(store, alice.id, "a_b", data={"url": "http://127.0.0.1:9/100%"})
    await make_job(store, alice.id, "axb", data={"url": "http://127.0.0.1:9/100x"})
    await make_job(store, alice.id, "back", data={"url": "http://127.0.0.1:9/a\\b"})
    assert await names(store, alice, JobFilter(text="a_b")) == (["a_b"], 1)
    assert await names(store, alice, JobFilter(text="100%")) == (["a_b"], 1)
    assert await names(store, alice, JobFilter(text="a\\b")) == (["back"], 1)
    assert await names(store, alice, JobFilter(text="%")) == (["a_b"], 1)


async def test_states_and_failing(store: Store, alice: User) -> None:
    await make_job(store, alice.id, "scheduled")
    await make_job(store, alice.id, "done", next_run=None)
    await make_job(store, alice.id, "disabled", enabled=False)
    paused = await make_job(store, alice.id, "paused")
    await store.update_job(replace(paused, enabled=False, paused_reason="failed", consecutive_failures=3))
    failing = await make_job(store, alice.id, "failing")
    await store.update_job(replace(failing, consecutive_failures=1))
    expected = {
        JobState.SCHEDULED: ["scheduled", "failing"],
        JobState.DONE: ["done"],
        JobState.DISABLED: ["disabled"],
        JobState.PAUSED: ["paused"],
    }
    for state, listed in expected.items():
        assert await names(store, alice, JobFilter(state=state)) == (listed, len(listed)), state
        jobs, _ = await store.list_jobs(alice.id, 100, 0, JobFilter(state=state))
        assert all(job.state is state for job in jobs)
    assert await names(store, alice, JobFilter(failing=True)) == (["paused", "failing"], 2)
    assert await names(store, alice, JobFilter(failing=True, state=JobState.SCHEDULED)) == (["failing"], 1)


async def test_a_filtered_list_pages_with_the_filtered_total(store: Store, alice: User) -> None:
    for i in range(7):
        await make_job(store, alice.id, f"job{i}", tags=("even",) if i % 2 == 0 else (), created_at=T0 + i)
    where = JobFilter(tags=("even",))
    assert await names(store, alice, where, 2, 0) == (["job0", "job2"], 4)
    assert await names(store, alice, where, 2, 2) == (["job4", "job6"], 4)
    assert await names(store, alice, where, 2, 4) == ([], 4)
    assert await names(store, alice, JobFilter(failing=True), 0, 0) == ([], 0)  # a count alone


async def test_a_page_and_its_count_agree_while_the_jobs_change(store: Store, alice: User) -> None:
    """The page and the total come from one snapshot: a job that changes state between two reads
    would otherwise be in one of them and not the other (seen: GET /job?failing=true answering a
    failing job with count 0)."""
    jobs = [await make_job(store, alice.id, f"job{i}") for i in range(20)]
    writing = True

    async def toggle() -> None:
        version = 0
        while writing:
            for job in jobs:
                await store.update_job(replace(job, version=job.version + version, enabled=version % 2 == 0))
            version += 1

    writer = asyncio.create_task(toggle())
    disagreements = []
    try:
        for _ in range(300):
            listed, count = await names(store, alice, JobFilter(state=JobState.DISABLED))
            if count != len(listed):
                disagreements.append((len(listed), count))
            await asyncio.sleep(0)
    finally:
        writing = False
        await writer
    assert disagreements == []
