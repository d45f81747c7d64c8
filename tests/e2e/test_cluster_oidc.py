"""OIDC tokens on two nodes of one PostgreSQL, as real processes: every request from either node
verifies against either node's JWKS (the keys are shared through the database), and after
`veggiecron rotate-keys` both nodes sign with the new key while the old tokens still verify."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import aiohttp
import jwt
import pytest

from tests.daemon import ROOT, Daemon
from tests.e2e.cluster import cluster_config
from tests.helpers import Api, Hit, start_sink, wait_for

pytestmark = [pytest.mark.slow]

ISSUER = "https://cron.example.org"  # as configured: the iss of every token, on every node


async def jwks_of(session: aiohttp.ClientSession, port: int) -> dict[str, Any]:
    async with session.get(f"http://127.0.0.1:{port}/.well-known/jwks.json") as answer:
        assert answer.status == 200
        jwks: dict[str, Any] = await answer.json()
        return jwks


def verified(jwks_url: str, hit: Hit, audience: str) -> dict[str, Any]:
    token = hit.headers["Authorization"].removeprefix("Bearer ")
    key = jwt.PyJWKClient(jwks_url, cache_keys=False).get_signing_key_from_jwt(token)
    claims: dict[str, Any] = jwt.decode(token, key, algorithms=["ES256"], audience=audience, issuer=ISSUER)
    return claims


async def rotate_keys(config: Path) -> str:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "start.py", "rotate-keys", "--config", str(config), cwd=ROOT, stderr=asyncio.subprocess.PIPE
    )
    _out, err = await asyncio.wait_for(process.communicate(), timeout=30)
    assert process.returncode == 0, err.decode()
    return err.decode()


async def test_two_nodes_share_the_keys_and_a_rotation(
    tmp_path: Path, postgres_url: str, session: aiohttp.ClientSession
) -> None:
    sink, runner = await start_sink(shutdown_timeout=1.0)
    config = {**cluster_config(postgres_url), "app": {"public_url": ISSUER}}
    for i in range(2):
        (tmp_path / f"node{i}").mkdir()
    nodes = [Daemon(tmp_path / f"node{i}", **config) for i in range(2)]
    await asyncio.gather(*(node.start() for node in nodes))
    try:
        first = Api(f"http://127.0.0.1:{nodes[0].port}", session)
        await first.register_and_login()
        for i in range(6):  # enough jobs that both nodes send some
            url = f"{sink.url}/t{i}"
            await first.create_job(f"t{i}", url, schedule="every 1 seconds", data={"url": url, "oidc": {}})
        await wait_for(lambda: len({h.headers.get("X-Veggiecron-Node") for h in sink.hits}) == 2, timeout=15)
        assert await jwks_of(session, nodes[0].port) == await jwks_of(session, nodes[1].port)
        before = list(sink.hits)
        for hit in before:
            for node in nodes:  # a target asking either node verifies every token
                claims = verified(f"http://127.0.0.1:{node.port}/.well-known/jwks.json", hit, sink.url + hit.path)
                assert claims["sub"] == "alice" and claims["veggiecron_job"] == hit.path.lstrip("/")

        said = await rotate_keys(nodes[0].config)
        new_kid = said.split("new OIDC signing key ", 1)[1].split(" ", 1)[0]
        # Within the reload interval both nodes sign with the new key.
        rotated = len(sink.hits)

        def signed_with_new_key_by_both() -> bool:
            kids = {
                (h.headers.get("X-Veggiecron-Node"), jwt.get_unverified_header(h.headers["Authorization"][7:])["kid"])
                for h in sink.hits[rotated:]
            }
            return {node for node, kid in kids if kid == new_kid} == {
                h.headers.get("X-Veggiecron-Node") for h in before
            }

        await wait_for(signed_with_new_key_by_both, timeout=10)
        jwks = await jwks_of(session, nodes[1].port)
        assert new_kid in {k["kid"] for k in jwks["keys"]} and len(jwks["keys"]) == 2  # the old one stays
        for hit in (before[0], sink.hits[-1]):  # an old token and a new one, both verify
            verified(f"http://127.0.0.1:{nodes[1].port}/.well-known/jwks.json", hit, sink.url + hit.path)
    finally:
        for node in nodes:
            await node.kill()
        await runner.cleanup()
