"""SSRF protection: what jobs may call, checked at creation and again at every dispatch."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace

import aiohttp
import pytest

from tests.helpers import Api, Sink, start_server, test_config
from veggiecron.app import Server
from veggiecron.config import AppSection, HttpClientSection
from veggiecron.jobtypes.http.runner import HttpRunner
from veggiecron.jobtypes.http.target import parse_http_data
from veggiecron.model import RunOutcome
from veggiecron.outbound import DestinationDenied, GuardedResolver, OutboundPolicy, make_resolver

PRODUCTION = AppSection(env="production", key="a-production-secret-for-tests")


@pytest.fixture
async def production(db_file: str) -> AsyncIterator[Server]:
    server = await start_server(replace(test_config(db_file), app=PRODUCTION))
    yield server
    await server.stop()


async def logged_in(server: Server, session: aiohttp.ClientSession) -> Api:
    api = Api(f"http://127.0.0.1:{server.port}", session)
    await api.register_and_login()
    return api


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.1.2.3/",
        "http://192.168.0.1/",
        "http://[::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://0.0.0.0/",
        "http://224.0.0.1/",
        "http://localhost/",
    ],
)
async def test_production_refuses_internal_destinations(
    production: Server, session: aiohttp.ClientSession, url: str
) -> None:
    api = await logged_in(production, session)
    status, body = await api.call("POST", "/job", json={"name": "x", "data": {"url": url}, "schedule": "every hour"})
    assert status == 400 and body["data"]["field"] == "data.url", body
    status, body = await api.call("GET", "/job")
    assert body["data"]["count"] == 0


async def test_production_accepts_public_destinations_and_checks_notify_url(
    production: Server, session: aiohttp.ClientSession
) -> None:
    api = await logged_in(production, session)
    job = {"name": "pub", "data": {"url": "http://93.184.216.34/"}, "schedule": "every hour"}
    status, body = await api.call("POST", "/job", json={**job, "notify_url": "http://10.0.0.1/alerts"})
    assert status == 400 and body["data"]["field"] == "notify_url"
    status, body = await api.call("POST", "/job", json=job)
    assert status == 201, body
    status, body = await api.call("PATCH", "/job/pub", json={"data": {"url": "http://169.254.169.254/"}})
    assert status == 400 and body["data"]["field"] == "data.url"


async def test_seed_endpoints_are_checked_too(production: Server, session: aiohttp.ClientSession) -> None:
    api = await logged_in(production, session)
    status, body = await api.call(
        "POST", "/api/v1/schedule/", json={"interval_definition": "1 minutes", "endpoint": "http://127.0.0.1:9/"}
    )
    assert status == 400 and "endpoint" in body


async def test_allow_networks_overrides_the_environment(db_file: str, sink: Sink) -> None:
    config = test_config(db_file)
    config = replace(config, app=PRODUCTION, http_client=replace(config.http_client, allow_networks=("127.0.0.0/8",)))
    server = await start_server(config)
    try:
        async with aiohttp.ClientSession() as session:
            api = await logged_in(server, session)
            await api.create_job("local", sink.url + "/ok", schedule="every 1 hours")
            status, _ = await api.call("POST", "/job/local/run")
            assert status == 202
    finally:
        await server.stop()


async def test_development_allows_loopback_but_not_private(api: Api) -> None:
    await api.register_and_login()
    status, _ = await api.call(
        "POST", "/job", json={"name": "lo", "data": {"url": "http://127.0.0.1:9/"}, "schedule": "every hour"}
    )
    assert status == 201
    status, body = await api.call(
        "POST", "/job", json={"name": "meta", "data": {"url": "http://169.254.169.254/"}, "schedule": "every hour"}
    )
    assert status == 400 and body["data"]["field"] == "data.url"


async def test_dispatch_checks_the_address_resolved_then(sink: Sink) -> None:
    """A name accepted earlier that now resolves to a refused address (DNS rebinding) is not called."""
    policy = OutboundPolicy("production")
    resolver = GuardedResolver(policy, make_resolver(), 5.0)
    with pytest.raises(DestinationDenied):
        await resolver.resolve("localhost", 80)
    await resolver.close()
    settings = HttpClientSection(timeout_seconds=2)
    runner = HttpRunner(settings, policy)
    await runner.start()
    try:
        port = sink.url.rsplit(":", 1)[1]
        by_name = await runner.run_target(1, parse_http_data({"url": f"http://localhost:{port}/x"}, settings), 0.0)
        by_address = await runner.run_target(1, parse_http_data({"url": f"{sink.url}/y"}, settings), 0.0)
    finally:
        await runner.stop()
    for result in (by_name, by_address):
        assert result.outcome is RunOutcome.FAILED and result.error_class == "denied", result
    assert sink.hits == []


async def test_redirects_are_not_followed(api: Api, sink: Sink) -> None:
    """A 302 to an internal address is recorded as the answer, never followed."""
    await api.register_and_login()
    sink.status = 302
    await api.create_job("moved", sink.url + "/moved", schedule="every 1 hours")
    status, _ = await api.call("POST", "/job/moved/run")
    assert status == 202

    async def recorded() -> list[dict[str, object]]:
        _, body = await api.call("GET", "/job/moved/runs")
        return list(body["data"]["runs"])

    from tests.helpers import wait_for

    (run,) = await wait_for(recorded, timeout=5)
    assert run["status_code"] == 302 and run["outcome"] == "failed"
    assert [h.path for h in sink.hits] == ["/moved"]
