"""How a pass of housekeeping walks run history: batches of jobs, steps of the store's size, the
pause after each step, and the turn another node takes. The store is a fake that counts, and
the pauses are recorded rather than slept."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import pytest

from tests.unit.conftest import T0, FakeClock
from veggiecron import maintenance
from veggiecron.maintenance import IDLE_PER_BUSY, JOBS_PER_BATCH, PAUSE_BETWEEN_BATCHES, Maintenance, Retention
from veggiecron.model import Run, RunOutcome
from veggiecron.store.contract import Trimmed


class CountingRuns:
    """Run history as counts: each job's runs past its limits (`doomed`), deleted in job order."""

    def __init__(self, doomed: dict[int, int], step: int, held: float = 0.0) -> None:
        self.doomed = dict(doomed)
        self.trim_rows_per_step = step
        self.held = held
        self.calls: list[tuple[list[int], int, float, int]] = []
        self.other_node_trims = False

    async def trim_runs(self, job_ids: Sequence[int], keep_per_job: int, older_than: float, limit: int) -> Trimmed:
        self.calls.append((list(job_ids), keep_per_job, older_than, limit))
        if self.other_node_trims:
            return Trimmed(-1, self.held)
        deleted = 0
        for job_id in job_ids:
            take = min(self.doomed.get(job_id, 0), limit - deleted)
            self.doomed[job_id] = self.doomed.get(job_id, 0) - take
            deleted += take
        return Trimmed(deleted, self.held)

    async def job_ids_after(self, after: int, count: int) -> list[int]:
        return sorted(job_id for job_id in self.doomed if job_id > after)[:count]


class NoAccounts:
    async def prune_tokens(self, now: float) -> int:
        return 0


@pytest.fixture
def pauses(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[float]]:
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    monkeypatch.setattr(maintenance.asyncio, "sleep", sleep)
    yield slept


KEEP_5_FOR_90_DAYS = Retention(5, 90.0)


def housekeeping(runs: CountingRuns, retention: Retention = KEEP_5_FOR_90_DAYS) -> Maintenance:
    return Maintenance(runs, NoAccounts(), FakeClock(T0), retention)  # type: ignore[arg-type]


async def test_a_pass_steps_through_every_job_in_steps_of_the_stores_size(pauses: list[float]) -> None:
    # 120 jobs, 4 runs each past the limits: batches of 50, 50 and 20 jobs, each taken again while
    # a step comes back full (the store's 90 rows), until one comes back short.
    runs = CountingRuns({job_id: 4 for job_id in range(1, 121)}, step=90)
    assert await housekeeping(runs).trim_history() == 480
    assert not any(runs.doomed.values())
    assert {limit for *_, limit in runs.calls} == {90}
    batches = [job_ids for job_ids, *_ in runs.calls]
    assert batches[0] == list(range(1, JOBS_PER_BATCH + 1))
    assert [len(b) for b in batches] == [50, 50, 50, 50, 50, 50, 20]  # 200 rows a batch of 50: 90, 90, 20
    # The count and the age limit as the retention says; the age as seconds before the clock's now.
    assert {(keep, older) for _, keep, older, _ in runs.calls} == {(5, T0 - 90 * 86400.0)}
    assert len(pauses) == len(runs.calls)


async def test_the_jobs_that_ran_are_trimmed_first_and_the_sweep_is_hourly(pauses: list[float]) -> None:
    runs = CountingRuns({job_id: 1 for job_id in range(1, 11)}, step=250)
    house = housekeeping(runs)
    assert await house.trim_history() == 10  # the first pass sweeps every job
    runs.doomed.update({3: 2, 7: 2})
    house.observe_run(Run(7, T0, T0, 1.0, RunOutcome.OK))
    house.observe_run(Run(3, T0, T0, 1.0, RunOutcome.OK))
    runs.calls.clear()
    assert await house.trim_history() == 4  # only those that ran: the next sweep is an hour away
    assert [job_ids for job_ids, *_ in runs.calls] == [[3, 7]]


async def test_a_step_is_followed_by_a_pause_twice_as_long(pauses: list[float]) -> None:
    # Working off a backlog, the trim holds the writer a third of the time at most.
    runs = CountingRuns({1: 1000}, step=250, held=0.02)
    await housekeeping(runs).trim_history()
    assert pauses == [pytest.approx(0.02 * IDLE_PER_BUSY)] * len(runs.calls)
    quick = CountingRuns({1: 1000}, step=250, held=0.0001)
    pauses.clear()
    await housekeeping(quick).trim_history()
    assert pauses == [PAUSE_BETWEEN_BATCHES] * len(quick.calls)  # and never less than this


async def test_the_pass_ends_when_another_node_is_trimming(pauses: list[float]) -> None:
    runs = CountingRuns({job_id: 5 for job_id in range(1, 200)}, step=250)
    runs.other_node_trims = True
    assert await housekeeping(runs).trim_history() == 0
    # One step asked per page of the sweep (199 jobs: one page): its answer (-1) leaves the page to
    # that node, which takes the turn the lock gives it.
    assert [len(job_ids) for job_ids, *_ in runs.calls] == [JOBS_PER_BATCH]
    assert sum(runs.doomed.values()) == 5 * 199


async def test_no_limits_trim_nothing(pauses: list[float]) -> None:
    runs = CountingRuns({1: 5}, step=250)
    house = housekeeping(runs, Retention(0, 0.0))
    await house.run_once()
    assert runs.calls == []
