"""The job gauges of /metrics: a slow count is reused for a while, a quick one never (injected clock)."""

from __future__ import annotations

from typing import Any

from veggiecron.health import REUSE_FACTOR, SLOW_COUNT, JobGauges


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class CountingJobs:
    """A store whose count of the jobs takes `seconds` on the clock, and says how often it counted."""

    def __init__(self, clock: Clock, seconds: float) -> None:
        self.clock = clock
        self.seconds = seconds
        self.counted = 0

    async def job_counts_by_state(self) -> dict[str, int]:
        self.counted += 1
        self.clock.now += self.seconds
        return {"scheduled": self.counted}


def gauges(seconds: float) -> tuple[JobGauges, CountingJobs, Clock]:
    clock = Clock()
    jobs = CountingJobs(clock, seconds)
    store: Any = jobs
    return JobGauges(store, clock), jobs, clock


async def test_a_quick_count_is_made_at_every_scrape() -> None:
    job_gauges, jobs, clock = gauges(SLOW_COUNT / 2)
    assert await job_gauges.counts() == {"scheduled": 1}
    clock.now += 0.001
    assert await job_gauges.counts() == {"scheduled": 2}
    assert jobs.counted == 2


async def test_a_slow_count_is_reused_for_a_hundred_times_as_long_as_it_took() -> None:
    job_gauges, jobs, clock = gauges(0.5)
    assert await job_gauges.counts() == {"scheduled": 1}
    clock.now += 0.5 * REUSE_FACTOR - 1  # a scrape just inside the window: the same count
    assert await job_gauges.counts() == {"scheduled": 1}
    assert jobs.counted == 1
    clock.now += 2  # past it: counted again
    assert await job_gauges.counts() == {"scheduled": 2}
    assert jobs.counted == 2
