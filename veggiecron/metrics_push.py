"""Delivery failures pushed to a Go Metrics API, as Seed Scheduler pushes them.

Seed's deliver task fires one metric per failed attempt: scheduler.deliver_task.connection_error.sum,
scheduler.deliver_task.http_error.<status>.sum or scheduler.deliver_task.timeout.sum, each as
seed-services-client's MetricsApiClient does: POST <METRICS_URL>/metrics/ with a JSON object of
metric names to float values, under HTTP Basic auth. Here the counts of each second go out in one
such POST, so a failing target with thousands of jobs costs one request a second, not thousands.
"""

from __future__ import annotations

import asyncio
import base64
import logging
from collections import Counter

import aiohttp

from .jobtypes.base import FailedAttempt

logger = logging.getLogger(__name__)

PREFIX = "scheduler.deliver_task."
# Failures Seed's requests-based task sees as a ConnectionError: no answer in HTTP at all.
CONNECTION_ERRORS = frozenset({"connect", "dns", "tls", "protocol"})
PUSH_INTERVAL_SECONDS = 1.0
PUSH_TIMEOUT_SECONDS = 10.0


def metric_name(attempt: FailedAttempt) -> str | None:
    """The Seed metric of a failed attempt, or None for failures Seed has no metric for."""
    if attempt.error_class == "timeout":
        return PREFIX + "timeout.sum"
    if attempt.error_class in CONNECTION_ERRORS:
        return PREFIX + "connection_error.sum"
    if attempt.error_class == "http_status" and attempt.status is not None:
        return f"{PREFIX}http_error.{attempt.status}.sum"
    return None


class MetricsPusher:
    """Counts failed attempts and pushes the counts once a second; a failed push is kept for the next."""

    def __init__(self, url: str, user: str, password: str, interval: float = PUSH_INTERVAL_SECONDS) -> None:
        self.url = url.rstrip("/") + "/metrics/"
        credentials = base64.b64encode(f"{user}:{password}".encode()).decode()
        self.headers = {"Authorization": f"Basic {credentials}"} if user or password else {}
        self.interval = interval
        self.pending: Counter[str] = Counter()
        self._wake = asyncio.Event()
        self._stopping = False
        self._session: aiohttp.ClientSession | None = None
        self._task: asyncio.Task[None] | None = None

    def failed_attempt(self, attempt: FailedAttempt) -> None:
        name = metric_name(attempt)
        if name is not None:
            self.pending[name] += 1
            self._wake.set()

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=PUSH_TIMEOUT_SECONDS))
        self._task = asyncio.create_task(self._run(), name="veggiecron-metrics-push")

    async def stop(self) -> None:
        """Push what is pending one last time, then close."""
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            await self._task
        if self._session is not None:
            await self._session.close()

    async def _run(self) -> None:
        while not self._stopping:
            await self._wake.wait()
            self._wake.clear()
            if not self._stopping:
                await asyncio.sleep(self.interval)  # gather the failures of this second into one push
            await self.push()

    async def push(self) -> bool:
        """POST the pending counts; on failure they stay pending (and grow) for the next push."""
        if not self.pending or self._session is None:
            return True
        sent, self.pending = self.pending, Counter()
        body = {name: float(count) for name, count in sent.items()}
        try:
            async with self._session.post(self.url, json=body, headers=self.headers) as response:
                if response.status < 300:
                    return True
                error = f"HTTP {response.status}"
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            error = f"{type(exc).__name__}: {exc}"
        logger.warning("metrics push to %s failed (%s); %d counts kept for the next push", self.url, error, len(body))
        self.pending.update(sent)
        return False
