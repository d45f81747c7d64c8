"""Prometheus metrics of one server: runs by outcome, dispatch lateness, jobs by state, API answers."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics, generate_latest

from .model import JobState, Run, RunOutcome

# The *_created series only say when the process started; they double what a scrape carries.
disable_created_metrics()

LATENESS_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 60.0)


class Metrics:
    """A registry of its own per server, so servers in one process (tests) do not collide."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.runs = Counter("veggiecron_runs", "Runs recorded, by outcome.", ["outcome"], registry=self.registry)
        self.lateness = Histogram(
            "veggiecron_dispatch_lateness_seconds",
            "Start of a run minus its due time.",
            buckets=LATENESS_BUCKETS,
            registry=self.registry,
        )
        self.jobs = Gauge("veggiecron_jobs", "Jobs by state.", ["state"], registry=self.registry)
        self.requests = Counter(
            "veggiecron_api_requests", "API requests answered, by status code.", ["status"], registry=self.registry
        )
        # One child per outcome, looked up once: labels() takes a lock and builds a key per call.
        self._runs_by_outcome = {outcome: self.runs.labels(outcome.value) for outcome in RunOutcome}
        for state in JobState:
            self.jobs.labels(state.value)

    def observe_run(self, run: Run) -> None:
        self._runs_by_outcome[run.outcome].inc()
        if run.outcome is not RunOutcome.SKIPPED:
            self.lateness.observe(max(0.0, run.started_at - run.due_at))

    def observe_request(self, status: int) -> None:
        self.requests.labels(str(status)).inc()

    def render(self, jobs_by_state: dict[str, int]) -> bytes:
        """The text exposition, with the job gauges set to these counts."""
        for state, count in jobs_by_state.items():
            self.jobs.labels(state).set(count)
        return generate_latest(self.registry)

    def names(self) -> list[str]:
        """Every sample name this server exposes."""
        return sorted({sample.name for family in self.registry.collect() for sample in family.samples})
