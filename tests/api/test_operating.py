"""What an operator configures and reads: registration modes, readable times, the 401 text, Seed settings."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import datetime
from typing import Any

import aiohttp
import pytest

from tests.helpers import Api, Sink, start_server, start_sink, test_config, wait_for
from veggiecron.app import Server
from veggiecron.config import SecuritySection, SeedSection

CREDENTIALS = {"username": "newcomer", "password": "pass-word"}


def same_instant(epoch: float, text: str) -> bool:
    """An ISO 8601 UTC text names the epoch, to the millisecond it shows."""
    assert text.endswith("Z")
    return abs(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() - epoch) < 0.001


@pytest.fixture
async def admin_registration(db_file: str) -> AsyncIterator[Server]:
    server = await start_server(
        replace(test_config(db_file), security=SecuritySection(bcrypt_rounds=4, registration="admin"))
    )
    yield server
    await server.stop()


async def test_closed_registration_refuses_everyone(db_file: str, session: aiohttp.ClientSession) -> None:
    server = await start_server(
        replace(test_config(db_file), security=SecuritySection(bcrypt_rounds=4, registration="closed"))
    )
    try:
        api = Api(f"http://127.0.0.1:{server.port}", session)
        status, body = await api.call("POST", "/register", json=CREDENTIALS)
        assert status == 403 and body["data"]["registration"] == "closed"
        assert "registration is closed" in body["description"]
        status, _ = await api.call("POST", "/login", json=CREDENTIALS)
        assert status == 401  # nothing was created
    finally:
        await server.stop()


async def test_admin_registration_needs_an_admins_token(
    admin_registration: Server, session: aiohttp.ClientSession
) -> None:
    api = Api(f"http://127.0.0.1:{admin_registration.port}", session)
    status, body = await api.call("POST", "/register", json=CREDENTIALS)
    assert status == 401, body
    assert admin_registration.ctx is not None
    accounts = admin_registration.ctx.accounts
    plain = await accounts.register("plain", "pass-word")
    plain_token, _ = await accounts.issue_token(plain)
    status, body = await api.call("POST", "/register", json=CREDENTIALS, token=plain_token)
    assert status == 403 and body["description"] == "only admins may register users on this server"
    admin = await accounts.ensure_admin("boss")
    admin_token, _ = await accounts.issue_token(admin)
    status, body = await api.call("POST", "/register", json=CREDENTIALS, token=admin_token)
    assert status == 201, body
    status, _ = await api.call("POST", "/login", json=CREDENTIALS)
    assert status == 200


async def test_open_registration_is_the_default(api: Api) -> None:
    status, _ = await api.call("POST", "/register", json=CREDENTIALS)
    assert status == 201


async def test_the_401_names_every_way_to_send_a_token(api: Api) -> None:
    status, body = await api.call("GET", "/job")
    assert status == 401
    for way in ("X-Auth-Token", "Authorization: Token", "Authorization: Bearer"):
        assert way in body["description"]


async def test_every_epoch_field_has_an_iso_utc_twin(user_api: Api, sink: Sink) -> None:
    status, body = await user_api.call("POST", "/login", json={"username": "alice", "password": "s3cret-pass"})
    login = body["data"]
    assert same_instant(login["expires_at"], login["expires_at_utc"])

    job = await user_api.create_job("beat", sink.url + "/beat", schedule="every 1 hours", start_at=2_000_000_000)
    for field in ("next_run", "date_created", "date_updated", "start_at"):
        assert same_instant(job[field], job[f"{field}_utc"]), field
    assert job["end_at_utc"] is None

    status, body = await user_api.call("POST", "/job/beat/run")
    assert status == 202 and same_instant(body["data"]["due_at"], body["data"]["due_at_utc"])
    await wait_for(lambda: sink.paths("/beat"))

    async def recorded() -> list[dict[str, object]]:
        return (await user_api.call("GET", "/job/beat/runs"))[1]["data"]["runs"]

    (run,) = await wait_for(recorded)
    for field in ("due_at", "started_at"):
        assert same_instant(run[field], run[f"{field}_utc"]), field

    status, body = await user_api.call("GET", "/tokens")
    for token in body["data"]["tokens"]:
        assert same_instant(token["created_at"], token["created_at_utc"])
        assert same_instant(token["expires_at"], token["expires_at_utc"])
    status, body = await user_api.call("POST", "/register", json={"username": "bob", "password": "x"})
    assert same_instant(body["data"]["date_created"], body["data"]["date_created_utc"])


async def test_use_ssl_makes_seed_links_https(db_file: str, session: aiohttp.ClientSession) -> None:
    server = await start_server(replace(test_config(db_file), seed=SeedSection(use_ssl=True)))
    try:
        assert server.ctx is not None
        user = await server.ctx.accounts.ensure_admin("ops")
        token, _ = await server.ctx.accounts.issue_token(user)
        headers = {"Authorization": f"Token {token}"}
        async with session.get(f"http://127.0.0.1:{server.port}/api/v1/", headers=headers) as response:
            links = await response.json()
        assert links["schedule"] == f"https://127.0.0.1:{server.port}/api/v1/schedule/"
    finally:
        await server.stop()


async def test_delivery_failures_are_pushed_as_seed_pushes_them(db_file: str, sink: Sink) -> None:
    """A local Go Metrics API sink receives POST /metrics/ with Basic auth: connection, HTTP and timeout errors."""
    metrics, metrics_runner = await start_sink()
    metrics.status = 201  # what the Go Metrics API answers
    refusing, refusing_runner = await start_sink()
    refused_url = refusing.url
    await refusing_runner.cleanup()  # nothing listens there any more: a connection error
    slow, slow_runner = await start_sink()
    slow.delay = 1.0
    sink.status = 500
    seed = SeedSection(metrics_url=metrics.url + "/", metrics_auth_user="vc", metrics_auth_password="pw")
    server = await start_server(replace(test_config(db_file), seed=seed))
    try:
        async with aiohttp.ClientSession() as session:
            api = Api(f"http://127.0.0.1:{server.port}", session)
            await api.register_and_login()
            targets: dict[str, dict[str, Any]] = {
                "gone": {"url": sink.url + "/gone", "retries": 1},
                "refused": {"url": refused_url + "/"},
                "slow": {"url": slow.url + "/", "timeout": 0.2},
            }
            for name, data in targets.items():
                await api.create_job(name, data["url"], schedule="every 1 hours", data=data)
                status, body = await api.call("POST", f"/job/{name}/run")
                assert status == 202, body

            def totals() -> dict[str, float]:
                summed: dict[str, float] = {}
                for hit in metrics.paths("/metrics/"):
                    for name, value in json.loads(hit.body).items():
                        summed[name] = summed.get(name, 0.0) + value
                return summed

            wanted = {
                "scheduler.deliver_task.http_error.500.sum": 2.0,  # the attempt and its retry
                "scheduler.deliver_task.connection_error.sum": 1.0,
                "scheduler.deliver_task.timeout.sum": 1.0,
            }
            try:
                await wait_for(lambda: totals() == wanted, timeout=10)
            except AssertionError:
                raise AssertionError(f"pushed {totals()}, wanted {wanted}") from None
        hit = metrics.paths("/metrics/")[0]
        assert hit.method == "POST" and hit.headers["Content-Type"].startswith("application/json")
        assert hit.headers["Authorization"] == "Basic " + base64.b64encode(b"vc:pw").decode()
    finally:
        await server.stop()
        await metrics_runner.cleanup()
        await slow_runner.cleanup()
