"""The job gauges of /metrics: a slow count of a large table is reused for a while, any other count
never (injected clock)."""

from __future__ import annotations

from typing import Any

from veggiecron.health import LARGE_TABLE, MAX_REUSE, REUSE_FACTOR, SLOW_COUNT, JobGauges


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class CountingJobs:
    """A store of `jobs` jobs whose count takes `seconds` on the clock, and says how often it counted."""

    def __init__(self, clock: Clock, seconds: float, jobs: int) -> None:
        self.clock = clock
        self.seconds = seconds
        self.jobs = jobs
        self.counted = 0

    async def job_counts_by_state(self) -> dict[str, int]:
        self.counted += 1
        self.clock.now += self.seconds
        return {"scheduled": self.jobs - 1, "paused": self.counted}


def gauges(seconds: float, jobs: int = LARGE_TABLE) -> tuple[JobGauges, CountingJobs, Clock]:
    clock = Clock()
    counting = CountingJobs(clock, seconds, jobs)
    store: Any = counting
    return JobGauges(store, clock), counting, clock


async def test_a_quick_count_is_made_at_every_scrape() -> None:
    job_gauges, jobs, clock = gauges(SLOW_COUNT / 2)
    assert (await job_gauges.counts())["paused"] == 1
    clock.now += 0.001
    assert (await job_gauges.counts())["paused"] == 2
    assert jobs.counted == 2


async def test_a_slow_count_of_a_large_table_is_reused_for_a_hundred_times_as_long_as_it_took() -> None:
    job_gauges, jobs, clock = gauges(0.5)
    assert (await job_gauges.counts())["paused"] == 1
    clock.now += 0.5 * REUSE_FACTOR - 1  # a scrape just inside the window: the same count
    assert (await job_gauges.counts())["paused"] == 1
    assert jobs.counted == 1
    clock.now += 2  # past it: counted again
    assert (await job_gauges.counts())["paused"] == 2


async def test_a_slow_count_of_a_small_table_is_not_reused() -> None:
    """Slow there means a busy event loop or a wait for a connection: the gauges stay fresh."""
    job_gauges, jobs, clock = gauges(0.5, jobs=LARGE_TABLE // 10)
    await job_gauges.counts()
    clock.now += 0.001
    await job_gauges.counts()
    assert jobs.counted == 2


async def test_a_count_is_never_reused_past_a_minute() -> None:
    job_gauges, jobs, clock = gauges(10.0)  # a stalled count: 100 times would be 1,000 s
    await job_gauges.counts()
    clock.now += MAX_REUSE + 0.1
    await job_gauges.counts()
    assert jobs.counted == 2
