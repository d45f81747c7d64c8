"""Prometheus metrics of one server: runs by outcome, dispatch lateness, jobs by state, API answers."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics, generate_latest

from .model import JobState, Run, RunOutcome

# The *_created series only say when the process started; they double what a scrape carries.
disable_created_metrics()

LATENESS_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 60.0)

# Fine enough to compare claims at 20,000 and at 1,000,000 stored jobs within a fifth.
CLAIM_BUCKETS = (
    *(0.001, 0.0015, 0.002, 0.003, 0.004, 0.005, 0.0065, 0.008, 0.01, 0.0125, 0.015, 0.02, 0.025),
    *(0.03, 0.04, 0.05, 0.065, 0.08, 0.1, 0.125, 0.15, 0.2, 0.3, 0.5, 1.0, 2.5),
)


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
        self.pool_wait = Histogram(
            "veggiecron_pool_wait_seconds",
            "Time a run waited before its request was handed to a connection (name lookup, a free connection).",
            buckets=LATENESS_BUCKETS,
            registry=self.registry,
        )
        self.jobs = Gauge("veggiecron_jobs", "Jobs by state.", ["state"], registry=self.registry)
        self.requests = Counter(
            "veggiecron_api_requests", "API requests answered, by status code.", ["status"], registry=self.registry
        )
        self.results_refused = Counter(
            "veggiecron_cluster_results_refused",
            "Results of this node not written (refused, or the run abandoned) because another node had taken "
            "the slot over: this node stalled or lost its lease.",
            registry=self.registry,
        )
        self.claims_reaped = Counter(
            "veggiecron_cluster_claims_reaped",
            "Claims this node took over from nodes whose lease lapsed, and sent again.",
            registry=self.registry,
        )
        self.trim_longest_seconds = Gauge(
            "veggiecron_run_history_trim_longest_transaction_seconds",
            "The longest write transaction of run-history trimming since the start.",
            registry=self.registry,
        )
        self.trim_seconds = Histogram(
            "veggiecron_run_history_trim_transaction_seconds",
            "How long each batch of run-history trimming held the writer.",
            buckets=(0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1.0),
            registry=self.registry,
        )
        self.claim_seconds = Histogram(
            "veggiecron_cluster_claim_seconds",
            "How long each claim of due slots took, from asking the database to its answer.",
            buckets=CLAIM_BUCKETS,
            registry=self.registry,
        )
        self.lease_seconds_left = Gauge(
            "veggiecron_cluster_lease_seconds_left",
            "Seconds until this node's leases may lapse without a renewal (it stops sending below 0).",
            registry=self.registry,
        )
        self.loop_lag = Histogram(
            "veggiecron_event_loop_lag_seconds",
            "How late the event loop ran a timer: a starved loop delays runs and lease renewals.",
            buckets=LATENESS_BUCKETS,
            registry=self.registry,
        )
        self.open_fds = Gauge(
            "veggiecron_open_fds", "File descriptors open now (Linux; NaN elsewhere).", registry=self.registry
        )
        self.fd_limit = Gauge(
            "veggiecron_fd_limit", "The open files limit the process runs under (NaN: none).", registry=self.registry
        )
        self.client_connections = Gauge(
            "veggiecron_client_connections", "Client connections the API holds now.", registry=self.registry
        )
        self.client_connections_max = Gauge(
            "veggiecron_client_connections_max",
            "The most client connections the API holds (api.max_connections, or sized from the fd limit).",
            registry=self.registry,
        )
        self.client_connections_closed = Counter(
            "veggiecron_client_connections_closed",
            "Client connections closed to stay within that bound: idle ones to make room, new ones (refused) "
            "when none was idle.",
            ["reason"],
            registry=self.registry,
        )
        # One child per outcome, looked up once: labels() takes a lock and builds a key per call.
        self._runs_by_outcome = {outcome: self.runs.labels(outcome.value) for outcome in RunOutcome}
        for state in JobState:
            self.jobs.labels(state.value)

    def observe_run(self, run: Run) -> None:
        self._runs_by_outcome[run.outcome].inc()
        if run.outcome is not RunOutcome.SKIPPED:
            self.lateness.observe(max(0.0, run.started_at - run.due_at))
            if run.pool_wait_ms is not None:
                self.pool_wait.observe(run.pool_wait_ms / 1000.0)

    async def watch_event_loop(self, every: float = 0.25) -> None:
        """Measure, until cancelled, how late the loop wakes from a sleep of `every` seconds."""
        loop = asyncio.get_running_loop()
        while True:
            start = loop.time()
            await asyncio.sleep(every)
            self.loop_lag.observe(max(0.0, loop.time() - start - every))

    def watch_connections(
        self,
        held: Callable[[], int],
        most: int,
        open_fds: Callable[[], int | None],
        fd_limit: int | None,
    ) -> None:
        """Read the client connections and open descriptors at each scrape."""
        self.client_connections.set_function(held)
        self.client_connections_max.set(most)
        self.open_fds.set_function(lambda: _or_nan(open_fds()))
        self.fd_limit.set(_or_nan(fd_limit))

    def connection_closed(self, reason: str) -> None:
        self.client_connections_closed.labels(reason).inc()

    def watch_history_trim(self, longest_transaction: Callable[[], float]) -> None:
        self.trim_longest_seconds.set_function(longest_transaction)

    def watch_leases(self, seconds_left: Callable[[], float]) -> None:
        self.lease_seconds_left.set_function(seconds_left)

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


def _or_nan(value: int | None) -> float:
    return float("nan") if value is None else float(value)
