"""Name resolution is asynchronous: names that hang do not hold up the others, and every address
a name resolves to is checked again at dispatch.

The server's resolver asks tests/dns.py's server on a loopback port; nothing leaves the machine.
"""

from __future__ import annotations

import asyncio
import dataclasses
import statistics
import time
from collections.abc import AsyncIterator
from datetime import datetime

import aiohttp
import pytest

from tests.api.test_faults import fire_and_wait
from tests.dns import FakeDns
from tests.helpers import Api, Sink, start_server, test_config, wait_for
from veggiecron.app import Server

HANGING = 500


@pytest.fixture
async def dns() -> AsyncIterator[FakeDns]:
    server = await FakeDns(hang_prefix="hang-").start()
    yield server
    server.stop()


@pytest.fixture
async def dns_api(db_file: str, dns: FakeDns, session: aiohttp.ClientSession) -> AsyncIterator[Api]:
    config = test_config(db_file)
    client = dataclasses.replace(config.http_client, dns_servers=(dns.server,), dns_timeout_seconds=1.0)
    server: Server = await start_server(dataclasses.replace(config, http_client=client))
    api = Api(f"http://127.0.0.1:{server.port}", session)
    await api.register_and_login()
    yield api
    await server.stop()


def named(sink: Sink, host: str, path: str) -> str:
    return sink.url.replace("127.0.0.1", host) + path


def scheduled_at(headers: dict[str, str]) -> float:
    return datetime.fromisoformat(headers["X-Veggiecron-Scheduled-At"]).timestamp()


@pytest.mark.timing
@pytest.mark.slow
async def test_500_hanging_names_do_not_delay_a_healthy_job(dns_api: Api, dns: FakeDns, sink: Sink) -> None:
    # Created while their names still answer (creation checks them), firing every second from
    # the moment they all exist.
    dns.hang_prefix = None
    start_at = time.time() + 4
    semaphore = asyncio.Semaphore(32)

    async def create(i: int) -> None:
        url = named(sink, f"hang-{i}.veggiecron.test", "/hang")
        async with semaphore:
            await dns_api.create_job(f"hang-{i}", url, schedule="every 1 seconds", start_at=start_at)

    await asyncio.gather(*(create(i) for i in range(HANGING)))
    dns.hang_prefix = "hang-"
    await wait_for(lambda: time.time() > start_at + 0.5, timeout=6, interval=0.05)
    await wait_for(lambda: dns.hung() >= HANGING, timeout=3)  # every hanging name is being looked up
    # A job created now, whose name was never looked up before: its lookup goes out beside 500
    # that hang, and its requests arrive on time.
    await dns_api.create_job("healthy", named(sink, "healthy.veggiecron.test", "/healthy"), "every 1 seconds")
    created = time.time()
    await wait_for(lambda: len(sink.paths("/healthy")) >= 3, timeout=5)
    arrivals = [h.arrived_at - scheduled_at(h.headers) for h in sink.paths("/healthy")]
    assert all(scheduled_at(h.headers) > created for h in sink.paths("/healthy"))
    assert max(arrivals) < 0.25 and statistics.median(arrivals) < 0.1, arrivals
    assert not sink.paths("/hang")

    async def hung_run_recorded() -> list[dict[str, object]]:
        _, body = await dns_api.call("GET", "/job/hang-0/runs")
        return list(body["data"]["runs"])

    runs = await wait_for(hung_run_recorded, timeout=4)
    assert runs[0]["error_class"] == "dns" and "time" in str(runs[0]["error"]).lower(), runs[0]


async def test_a_name_that_does_not_answer_fails_within_the_lookup_timeout(
    dns_api: Api, dns: FakeDns, sink: Sink
) -> None:
    dns.delay["late.veggiecron.test"] = 0.0
    url = named(sink, "late.veggiecron.test", "/late")
    await dns_api.create_job("late", url, schedule="every 1 hours", data={"url": url, "timeout": 10})
    dns.delay["late.veggiecron.test"] = 30.0  # the server answers, but long after any timeout
    run = await fire_and_wait(dns_api, "late")
    assert run["outcome"] == "failed" and run["error_class"] == "dns", run
    assert float(str(run["duration_ms"])) < 2000, run  # dns_timeout_seconds (1 s), not the job's 10 s
    dns.delay["late.veggiecron.test"] = 0.0
    run = await fire_and_wait(dns_api, "late")
    assert run["outcome"] == "ok", run


async def test_the_address_a_name_has_at_dispatch_is_checked(dns_api: Api, dns: FakeDns, sink: Sink) -> None:
    url = named(sink, "rebound.veggiecron.test", "/rebound")
    await dns_api.create_job("rebound", url, schedule="every 1 hours")  # loopback: allowed in test
    dns.addresses["rebound.veggiecron.test"] = "10.1.2.3"  # now a private address (DNS rebinding)
    run = await fire_and_wait(dns_api, "rebound")
    assert run["outcome"] == "failed" and run["error_class"] == "denied", run
    assert "10.1.2.3 is not a public address" in str(run["error"])
    assert not sink.paths("/rebound")
