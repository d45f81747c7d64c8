"""OIDC ID tokens (data.oidc) over the real server, verified as a target would: PyJWT's PyJWKClient
against the server's own JWKS URL, checking signature, iss, aud and exp."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiohttp
import jwt
import pytest

from tests.api.test_signing import run_now
from tests.helpers import Api, Hit, Sink, assert_error, start_server, test_config
from veggiecron.app import Server
from veggiecron.oidc_keys import OidcKey, published


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
async def oidc_server(tmp_path: Path) -> AsyncIterator[Server]:
    port = free_port()
    base = test_config(str(tmp_path / "oidc.db"))
    config = replace(base, port=port, app=replace(base.app, public_url=f"http://127.0.0.1:{port}"))
    server = await start_server(config)
    yield server
    await server.stop()


@pytest.fixture
async def oidc_api(oidc_server: Server, session: aiohttp.ClientSession) -> Api:
    api = Api(f"http://127.0.0.1:{oidc_server.port}", session)
    await api.register_and_login()
    return api


async def verified(public_url: str, hit: Hit, audience: str) -> dict[str, Any]:
    """What a target does: find the token's key in the JWKS, check signature, iss, aud and exp."""
    scheme, token = hit.headers["Authorization"].split(" ", 1)
    assert scheme == "Bearer"
    client = jwt.PyJWKClient(public_url + "/.well-known/jwks.json", cache_keys=False)
    key = await asyncio.to_thread(client.get_signing_key_from_jwt, token)  # a blocking fetch
    claims: dict[str, Any] = jwt.decode(
        token, key, algorithms=["ES256"], audience=audience, issuer=public_url, options={"require": ["exp", "iat"]}
    )
    return claims


async def test_each_request_carries_a_token_the_jwks_verifies(oidc_api: Api, oidc_server: Server, sink: Sink) -> None:
    public_url = oidc_server.config.app.public_url
    url = sink.url + "/oidc"
    await oidc_api.create_job("oidc", url, schedule="every 1 hours", data={"url": url, "oidc": {}})
    (hit,) = await run_now(oidc_api, sink, "oidc", 1)
    claims = await verified(public_url, hit, audience=url)  # {}: the audience is the job's URL
    assert claims["sub"] == "alice" and claims["veggiecron_job"] == "oidc"
    assert claims["exp"] - claims["iat"] == 300
    assert claims["jti"] == f"{hit.headers['Idempotency-Key']}:1"
    # Another audience is refused by the target; a token changed by one character too.
    with pytest.raises(jwt.InvalidAudienceError):
        await verified(public_url, hit, audience="https://elsewhere.example")
    token = hit.headers["Authorization"].split(" ", 1)[1]
    tampered = replace(
        hit,
        headers={
            **hit.headers,
            "Authorization": "Bearer " + token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1],
        },
    )
    with pytest.raises(jwt.InvalidSignatureError):
        await verified(public_url, tampered, audience=url)

    # The discovery document names the same issuer, exactly as configured, and the JWKS.
    async with aiohttp.ClientSession() as plain:  # no token: a target has none
        async with plain.get(public_url + "/.well-known/openid-configuration") as answer:
            assert answer.status == 200
            discovery = await answer.json()
    assert discovery["issuer"] == public_url
    assert discovery["jwks_uri"] == public_url + "/.well-known/jwks.json"
    assert discovery["id_token_signing_alg_values_supported"] == ["ES256"]


async def test_an_audience_given_and_a_token_per_attempt(oidc_api: Api, oidc_server: Server, sink: Sink) -> None:
    public_url = oidc_server.config.app.public_url
    url = sink.url + "/retried"
    data = {"url": url, "oidc": {"audience": "https://api.example.org"}, "retries": 2}
    await oidc_api.create_job("retried", url, schedule="every 1 hours", data=data)
    sink.fail_first = 2  # two 503s, then a 200: three attempts of one run
    hits = await run_now(oidc_api, sink, "retried", 3)
    tokens = [await verified(public_url, hit, audience="https://api.example.org") for hit in hits]
    run_id = hits[0].headers["Idempotency-Key"]
    assert [t["jti"] for t in tokens] == [f"{run_id}:1", f"{run_id}:2", f"{run_id}:3"]


async def test_rotation_keeps_old_tokens_verifiable_and_signs_with_the_new_key(
    oidc_api: Api, oidc_server: Server, sink: Sink
) -> None:
    public_url = oidc_server.config.app.public_url
    url = sink.url + "/rotated"
    await oidc_api.create_job("rotated", url, schedule="every 1 hours", data={"url": url, "oidc": {}})
    (before,) = await run_now(oidc_api, sink, "rotated", 1)
    new_kid = await oidc_server.oidc.rotate()
    (after,) = await run_now(oidc_api, sink, "rotated", 1)
    assert jwt.get_unverified_header(after.headers["Authorization"][7:])["kid"] == new_kid
    assert jwt.get_unverified_header(before.headers["Authorization"][7:])["kid"] != new_kid
    for hit in (before, after):  # the old key stays in the JWKS for the overlap
        await verified(public_url, hit, audience=url)
    status, body = await oidc_api.call("GET", "/audit", params={"action": "keys.rotated"})
    assert status == 200 and body["data"]["count"] == 0  # a server-wide row: only admins see it


async def test_oidc_needs_public_url_and_no_authorization_header(user_api: Api, sink: Sink) -> None:
    url = sink.url + "/x"
    status, body = await user_api.call(
        "POST", "/job", json={"name": "x", "schedule": "every 1 hours", "data": {"url": url, "oidc": {}}}
    )
    assert_error(status, body, 400, "data.oidc")
    assert "app.public_url" in body["description"]
    async with aiohttp.ClientSession() as plain:  # nothing to verify against: no discovery either
        async with plain.get(user_api.base + "/.well-known/jwks.json") as answer:
            assert answer.status == 404


async def test_bad_oidc_fields_are_a_400_naming_them(oidc_api: Api, sink: Sink) -> None:
    url = sink.url + "/x"
    for oidc, headers, field in (
        ({}, {"Authorization": "Bearer mine"}, "data.oidc"),
        ({"audience": ""}, {}, "data.oidc.audience"),
        ({"audience": None}, {}, "data.oidc.audience"),
        ({"aud": "x"}, {}, "data.oidc"),
        ("yes", {}, "data.oidc"),
        (None, {}, "data.oidc"),
    ):
        data = {"url": url, "oidc": oidc, "headers": headers}
        status, body = await oidc_api.call(
            "POST", "/job", json={"name": "x", "schedule": "every 1 hours", "data": data}
        )
        assert_error(status, body, 400, field)


def test_a_retired_key_is_published_for_the_overlap_only() -> None:
    keys = [
        OidcKey(1, "old", "", '{"kid": "old"}', 0.0, retired_at=1000.0),
        OidcKey(2, "new", "", '{"kid": "new"}', 1000.0),
    ]
    assert [k["kid"] for k in published(keys, 1000.0 + 3599, 3600)] == ["old", "new"]
    assert [k["kid"] for k in published(keys, 1000.0 + 3600, 3600)] == ["new"]
