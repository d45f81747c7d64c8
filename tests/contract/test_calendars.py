"""CalendarStore: calendars by owner and shared ones, their names' uniqueness, the jobs that name
them in skip_calendars, and a change written with those jobs' next runs and versions at once."""

from __future__ import annotations

import pytest

from tests.contract.conftest import T0, make_job
from veggiecron.calendars import CalendarSpec, parse_spec
from veggiecron.errors import Conflict, NotFound
from veggiecron.model import User
from veggiecron.store import Store

DATES = {"dates": ["2026-12-24", {"from": "2026-12-27", "to": "2026-12-31"}]}
HOLIDAYS = {"holidays": {"country": "US", "subdivision": "CA"}}


async def test_a_calendar_is_stored_read_and_listed_with_the_shared_ones(store: Store, alice: User, bob: User) -> None:
    created = await store.create_calendar(alice.id, "shutdown", False, DATES, T0)
    assert created.ref == "shutdown" and created.spec == parse_spec(DATES)
    assert created.date_created == created.date_updated == T0
    assert await store.get_calendar(alice.id, "shutdown") == created
    shared = await store.create_calendar(bob.id, "nyse", True, {"holidays": {"market": "NYSE"}}, T0 + 1)
    assert shared.ref == "shared:nyse" and shared.spec == CalendarSpec(market="NYSE")
    assert await store.get_calendar(alice.id, "shared:nyse") == shared
    assert [c.ref for c in await store.list_calendars(alice.id)] == ["shutdown", "shared:nyse"]
    assert [c.ref for c in await store.list_calendars(bob.id)] == ["shared:nyse"]
    assert {c.id for c in await store.all_calendars()} == {created.id, shared.id}
    with pytest.raises(NotFound):
        await store.get_calendar(bob.id, "shutdown")
    with pytest.raises(NotFound):
        await store.get_calendar(alice.id, "nyse")  # a shared one is named shared:<name>


async def test_names_are_unique_per_user_and_among_shared_ones(store: Store, alice: User, bob: User) -> None:
    await store.create_calendar(alice.id, "c", False, DATES, T0)
    with pytest.raises(Conflict):
        await store.create_calendar(alice.id, "c", False, HOLIDAYS, T0)
    await store.create_calendar(bob.id, "c", False, HOLIDAYS, T0)
    await store.create_calendar(alice.id, "c", True, HOLIDAYS, T0)  # a shared one beside alice's own
    with pytest.raises(Conflict):
        await store.create_calendar(bob.id, "c", True, DATES, T0)
    assert len(await store.all_calendars()) == 3


async def test_jobs_using_a_calendar_are_found_by_their_skip_calendars(store: Store, alice: User, bob: User) -> None:
    await store.create_calendar(alice.id, "hol", False, HOLIDAYS, T0)
    await store.create_calendar(alice.id, "x", True, DATES, T0)
    a = await make_job(store, alice.id, "a", policy={"skip_calendars": ["hol", "shared:x"]})
    await make_job(store, alice.id, "b", policy={"skip_calendars": ["holiday"]})
    await make_job(store, alice.id, "c", policy={"jitter_seconds": 5})
    d = await make_job(store, bob.id, "d", policy={"skip_calendars": ["shared:x"]})
    await make_job(store, bob.id, "e", policy={"skip_calendars": ["hol"]})  # bob's own "hol", not alice's
    assert [j.name for j in await store.jobs_using_calendar(alice.id, "hol")] == ["a"]
    assert [j.id for j in await store.jobs_using_calendar(alice.id, "shared:x")] == [a.id, d.id]
    assert await store.jobs_using_calendar(alice.id, "none") == []


async def test_a_change_writes_the_jobs_next_runs_and_versions_in_the_same_write(store: Store, alice: User) -> None:
    calendar = await store.create_calendar(alice.id, "hol", False, DATES, T0)
    a = await make_job(store, alice.id, "a", policy={"skip_calendars": ["hol"]})
    b = await make_job(store, alice.id, "b", policy={"skip_calendars": ["hol"]})
    stale = await store.update_job(b)  # changed since it was read: its own next run stands
    updated = await store.update_calendar(calendar, HOLIDAYS, T0 + 5, [(a, T0 + 86400), (b, T0 + 3600)])
    assert updated.spec == parse_spec(HOLIDAYS) and updated.date_updated == T0 + 5 and updated.id == calendar.id
    got = await store.get_job(alice.id, "a")
    assert got.next_run == T0 + 86400 and got.version == a.version + 1
    kept = await store.get_job(alice.id, "b")
    assert kept.next_run == stale.next_run and kept.version == stale.version
    assert (await store.get_calendar(alice.id, "hol")).spec == parse_spec(HOLIDAYS)


async def test_a_deleted_calendar_is_gone(store: Store, alice: User) -> None:
    calendar = await store.create_calendar(alice.id, "gone", False, DATES, T0)
    await store.delete_calendar(calendar.id)
    with pytest.raises(NotFound):
        await store.get_calendar(alice.id, "gone")
    assert await store.all_calendars() == []
