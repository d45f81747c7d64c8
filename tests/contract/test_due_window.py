"""DueWindow: the jobs a scheduler loads, and the progress it writes back."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from tests.contract.conftest import T0, make_job, run
from veggiecron.errors import NotFound
from veggiecron.model import (
    BUFFERED,
    WAITING,
    HeldSlot,
    Job,
    KeptFailure,
    NextRun,
    Pause,
    Progress,
    Run,
    RunOutcome,
    User,
)
from veggiecron.store import Store


async def due_window_jobs(store: Store, alice: User, bob: User) -> dict[str, Job]:
    """Jobs due at various times, with ties on next_run, and jobs due_jobs must never answer."""
    layout: list[tuple[str, User, dict[str, Any]]] = [
        ("at30", alice, {"next_run": T0 + 30}),
        ("at10", alice, {"next_run": T0 + 10}),
        ("at20", alice, {"next_run": T0 + 20}),
        ("at10-too", alice, {"next_run": T0 + 10}),
        ("bob-at15", bob, {"next_run": T0 + 15}),
        ("at31", alice, {"next_run": T0 + 31}),
        ("disabled-at5", alice, {"next_run": T0 + 5, "enabled": False}),
        ("done", alice, {"next_run": None}),
    ]
    return {name: await make_job(store, user.id, name, **fields) for name, user, fields in layout}


async def test_due_jobs_answers_enabled_due_jobs_in_next_run_then_id_order(
    store: Store, alice: User, bob: User
) -> None:
    jobs = await due_window_jobs(store, alice, bob)
    due = await store.due_jobs(T0 + 30, None, 100)
    # `until` is inclusive (at30 is in, at31 is not); ties on next_run go by id; disabled and
    # done jobs are never due; every user's jobs are in the one window.
    assert [j.name for j in due] == ["at10", "at10-too", "bob-at15", "at20", "at30"]
    assert due == [jobs[j.name] for j in due]  # whole records, as stored


async def test_due_jobs_resumes_after_the_cursor_including_ties(store: Store, alice: User, bob: User) -> None:
    jobs = await due_window_jobs(store, alice, bob)
    first_tie = jobs["at10"]
    assert first_tie.next_run is not None
    after_first = await store.due_jobs(T0 + 30, (first_tie.next_run, first_tie.id), 100)
    # The other job due at the same instant comes next: the cursor is (next_run, id), not next_run.
    assert [j.name for j in after_first] == ["at10-too", "bob-at15", "at20", "at30"]
    after_both = await store.due_jobs(T0 + 30, (T0 + 10, jobs["at10-too"].id), 100)
    assert [j.name for j in after_both] == ["bob-at15", "at20", "at30"]
    assert await store.due_jobs(T0 + 30, (T0 + 30, jobs["at30"].id), 100) == []
    # A cursor between jobs (no job has it) works too.
    assert [j.name for j in await store.due_jobs(T0 + 30, (T0 + 17.5, 0), 100)] == ["at20", "at30"]


async def test_due_jobs_honours_the_limit_so_a_window_loads_in_chunks(store: Store, alice: User, bob: User) -> None:
    await due_window_jobs(store, alice, bob)
    assert [j.name for j in await store.due_jobs(T0 + 30, None, 2)] == ["at10", "at10-too"]
    loaded: list[str] = []
    after: tuple[float, int] | None = None
    while chunk := await store.due_jobs(T0 + 31, after, 2):
        assert len(chunk) <= 2
        loaded += [j.name for j in chunk]
        last = chunk[-1]
        assert last.next_run is not None
        after = (last.next_run, last.id)
    assert loaded == ["at10", "at10-too", "bob-at15", "at20", "at30", "at31"]


async def test_due_jobs_of_an_empty_store_is_empty(store: Store) -> None:
    assert await store.due_jobs(T0 + 1_000_000, None, 100) == []


async def test_recorded_runs_are_listed_newest_first_with_every_field(store: Store, alice: User) -> None:
    job = await make_job(store, alice.id, "job")
    runs = [
        run(job.id, T0 + 10, started_at=T0 + 10.25, duration_ms=12.5, response_excerpt='{"ok": true}'),
        Run(
            job.id,
            T0 + 20,
            T0 + 21,
            30_000.0,
            RunOutcome.FAILED,
            attempts=3,
            status_code=None,
            error="connection refused",
            error_class="connect",
        ),
        run(job.id, T0 + 30, outcome=RunOutcome.FAILED, status_code=503, error="503", error_class="http_status"),
    ]
    await store.record_progress(Progress(runs=runs))
    later = [
        Run(job.id, T0 + 40, T0 + 40, 0.0, RunOutcome.SKIPPED),
        Run(job.id, T0 + 50, T0 + 400, 0.0, RunOutcome.MISSED, error="later than the grace"),
    ]
    await store.record_progress(Progress(runs=later))
    listed, count = await store.list_runs(job.id, 10, 0)
    assert count == 5
    expected = list(reversed(runs + later))
    assert all(isinstance(r.id, int) for r in listed)
    assert len({r.id for r in listed}) == 5
    assert listed == [replace(want, id=got.id) for want, got in zip(expected, listed, strict=True)]


async def test_next_runs_apply_only_at_the_jobs_current_version(store: Store, alice: User) -> None:
    job = await make_job(store, alice.id, "job")
    other = await make_job(store, alice.id, "other")
    await store.record_progress(Progress(next_runs=[NextRun(job.id, 1, T0 + 20), NextRun(other.id, 1, None)]))
    assert (await store.get_job(alice.id, "job")).next_run == T0 + 20
    # None means no run left: the job is done.
    assert (await store.get_job(alice.id, "other")).next_run is None
    # The owner reschedules: the scheduler's next run computed for version 1 is stale.
    owners = await store.update_job(replace(await store.get_job(alice.id, "job"), next_run=T0 + 500))
    assert owners.version == 2
    await store.record_progress(Progress(next_runs=[NextRun(job.id, 1, T0 + 30)]))
    assert await store.get_job(alice.id, "job") == owners
    await store.record_progress(Progress(next_runs=[NextRun(job.id, 2, T0 + 510)]))
    assert await store.get_job(alice.id, "job") == replace(owners, next_run=T0 + 510)


async def test_the_newest_of_two_next_runs_for_one_job_in_a_batch_wins(store: Store, alice: User) -> None:
    job = await make_job(store, alice.id, "job")
    await store.record_progress(
        Progress(next_runs=[NextRun(job.id, 1, T0 + 20), NextRun(job.id, 1, T0 + 30), NextRun(job.id, 1, T0 + 40)])
    )
    assert (await store.get_job(alice.id, "job")).next_run == T0 + 40
    # A stale entry after the current one does not undo it.
    await store.update_job(await store.get_job(alice.id, "job"))
    await store.record_progress(Progress(next_runs=[NextRun(job.id, 2, T0 + 50), NextRun(job.id, 1, T0 + 60)]))
    assert (await store.get_job(alice.id, "job")).next_run == T0 + 50


async def test_run_counts_add_up_and_a_job_reaching_max_runs_is_disabled(store: Store, alice: User) -> None:
    limited = await make_job(store, alice.id, "limited", max_runs=5)
    unlimited = await make_job(store, alice.id, "unlimited")
    await store.record_progress(Progress(run_counts=[(limited.id, 2), (unlimited.id, 2)]))
    await store.record_progress(Progress(run_counts=[(limited.id, 2), (unlimited.id, 40)]))
    four = await store.get_job(alice.id, "limited")
    assert (four.run_count, four.enabled) == (4, True)  # one short of its limit
    await store.record_progress(Progress(run_counts=[(limited.id, 1)]))
    five = await store.get_job(alice.id, "limited")
    assert (five.run_count, five.enabled) == (5, False)
    assert five.state == "disabled"
    many = await store.get_job(alice.id, "unlimited")
    assert (many.run_count, many.enabled) == (42, True)


async def test_a_run_count_passing_max_runs_disables_too(store: Store, alice: User) -> None:
    # Clones or a late batch can carry a job past its limit in one step.
    job = await make_job(store, alice.id, "job", max_runs=2)
    await store.record_progress(Progress(run_counts=[(job.id, 3)]))
    stored = await store.get_job(alice.id, "job")
    assert (stored.run_count, stored.enabled) == (3, False)


async def test_kept_failures_become_failed_tasks(store: Store, alice: User) -> None:
    job = await make_job(store, alice.id, "job", keep_failures=True)
    await store.record_progress(
        Progress(
            failures=[
                KeptFailure(job.id, "task-1", T0 + 10, "HTTP 500"),
                KeptFailure(job.id, "task-2", T0 + 20, "timeout"),
            ]
        )
    )
    failures, count = await store.list_failures(alice.id, 10, 0)
    assert count == 2
    assert sorted((f.job_id, f.task_id, f.initiated_at, f.reason) for f in failures) == [
        (job.id, "task-1", T0 + 10, "HTTP 500"),
        (job.id, "task-2", T0 + 20, "timeout"),
    ]


async def test_streaks_set_consecutive_failures(store: Store, alice: User) -> None:
    job = await make_job(store, alice.id, "job")
    other = await make_job(store, alice.id, "other")
    await store.record_progress(Progress(streaks=[(job.id, 2), (other.id, 7)]))
    await store.record_progress(Progress(streaks=[(job.id, 3)]))  # the streak as it is now, not an increment
    assert (await store.get_job(alice.id, "job")).consecutive_failures == 3
    assert (await store.get_job(alice.id, "other")).consecutive_failures == 7
    await store.record_progress(Progress(streaks=[(other.id, 0)]))  # a success ends the streak
    assert (await store.get_job(alice.id, "other")).consecutive_failures == 0


async def test_pauses_disable_the_job_only_at_its_current_version(store: Store, alice: User) -> None:
    paused = await make_job(store, alice.id, "paused")
    changed = await make_job(store, alice.id, "changed")
    owners = await store.update_job(replace(changed, schedule="every minute", date_updated=T0 + 5))
    await store.record_progress(
        Progress(pauses=[Pause(paused.id, 1, "failed 5 times in a row"), Pause(changed.id, 1, "stale")])
    )
    stored = await store.get_job(alice.id, "paused")
    assert (stored.enabled, stored.paused_reason) == (False, "failed 5 times in a row")
    assert stored.next_run == paused.next_run  # paused, not finished
    # The owner changed that job since the scheduler decided to pause it: it keeps running.
    assert await store.get_job(alice.id, "changed") == owners


async def test_progress_of_a_deleted_job_is_dropped_silently(store: Store, alice: User) -> None:
    gone = await make_job(store, alice.id, "gone", max_runs=10)
    await store.delete_job(gone.id)
    # Created after the delete: the deleted job's queued writes must not land on it.
    fresh = await make_job(store, alice.id, "fresh")
    assert fresh.id != gone.id
    await store.record_progress(
        Progress(
            runs=[run(gone.id, T0 + 10)],
            next_runs=[NextRun(gone.id, 1, T0 + 20)],
            run_counts=[(gone.id, 1)],
            failures=[KeptFailure(gone.id, "task", T0 + 10, "HTTP 500")],
            streaks=[(gone.id, 4)],
            pauses=[Pause(gone.id, 1, "failing")],
        )
    )
    assert await store.list_runs(gone.id, 10, 0) == ([], 0)
    assert await store.list_failures(alice.id, 10, 0) == ([], 0)
    with pytest.raises(NotFound):
        await store.get_job(alice.id, "gone")
    assert await store.get_job(alice.id, "fresh") == fresh
    assert await store.list_runs(fresh.id, 10, 0) == ([], 0)


async def test_a_batch_mixing_live_and_deleted_jobs_keeps_the_live_part(store: Store, alice: User) -> None:
    gone = await make_job(store, alice.id, "gone")
    live = await make_job(store, alice.id, "live")
    await store.delete_job(gone.id)
    await store.record_progress(
        Progress(
            runs=[run(gone.id, T0 + 10), run(live.id, T0 + 10)],
            next_runs=[NextRun(gone.id, 1, T0 + 20), NextRun(live.id, 1, T0 + 20)],
            run_counts=[(gone.id, 1), (live.id, 1)],
            failures=[KeptFailure(gone.id, "t1", T0 + 10, "x"), KeptFailure(live.id, "t2", T0 + 10, "y")],
        )
    )
    stored = await store.get_job(alice.id, "live")
    assert (stored.next_run, stored.run_count) == (T0 + 20, 1)
    assert (await store.list_runs(live.id, 10, 0))[1] == 1
    assert [f.task_id for f in (await store.list_failures(alice.id, 10, 0))[0]] == ["t2"]


async def test_an_empty_progress_changes_nothing(store: Store, alice: User) -> None:
    job = await make_job(store, alice.id, "job")
    assert not Progress()
    await store.record_progress(Progress())
    assert await store.get_job(alice.id, "job") == job
    assert await store.list_runs(job.id, 10, 0) == ([], 0)
    assert await store.list_failures(alice.id, 10, 0) == ([], 0)


async def test_held_slots_stay_until_released_and_come_back_with_their_jobs(store: Store, alice: User) -> None:
    a, b = await make_job(store, alice.id, "a"), await make_job(store, alice.id, "b")
    gone = await make_job(store, alice.id, "gone")
    assert await store.held_slots() == []
    await store.record_progress(
        Progress(
            held=[
                HeldSlot(b.id, T0 + 20, BUFFERED, T0 + 21),
                HeldSlot(a.id, T0 + 10, WAITING, T0 + 11),
                HeldSlot(a.id, T0 + 20, WAITING, T0 + 21),
                HeldSlot(gone.id, T0 + 5, WAITING, T0 + 6),
            ]
        )
    )
    await store.delete_job(gone.id)  # its held slot goes with it
    held = await store.held_slots()
    # Oldest first, ties by job id; each with its job as stored.
    assert [(job.name, slot) for job, slot in held] == [
        ("a", HeldSlot(a.id, T0 + 10, WAITING, T0 + 11)),
        ("a", HeldSlot(a.id, T0 + 20, WAITING, T0 + 21)),
        ("b", HeldSlot(b.id, T0 + 20, BUFFERED, T0 + 21)),
    ]
    assert held[0][0] == await store.get_job(alice.id, "a")
    # Released slots go; holding a slot again replaces it; a deleted job's slot is not stored.
    await store.record_progress(
        Progress(
            released=[(a.id, T0 + 10)],
            held=[HeldSlot(b.id, T0 + 20, WAITING, T0 + 30), HeldSlot(gone.id, T0 + 40, WAITING, T0 + 40)],
        )
    )
    assert [slot for _, slot in await store.held_slots()] == [
        HeldSlot(a.id, T0 + 20, WAITING, T0 + 21),
        HeldSlot(b.id, T0 + 20, WAITING, T0 + 30),
    ]
