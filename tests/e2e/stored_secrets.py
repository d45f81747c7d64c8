"""A database holding one of each stored secret (a secret header, a Seed auth_token, a signing
secret), made through the real server, and the check that a server sends them all again."""

from __future__ import annotations

from dataclasses import dataclass

import aiohttp
from standardwebhooks import Webhook

from tests.api.test_seed import FAR_FUTURE_CRON, SeedClient
from tests.api.test_signing import new_secret, run_now
from tests.helpers import Api, Sink, start_server, wait_for
from veggiecron.config import Config

HEADER_SECRET = "Bearer hdr-9f83c1-never-shown"
SEED_SECRET = "seed-7c21aa-never-shown"
PASSWORD = "s3cret-pass"


@dataclass(frozen=True)
class Stored:
    seed_job: str  # the Seed schedule's job name
    signing_secret: str  # whsec_...

    @property
    def values(self) -> tuple[str, ...]:
        """What must never show: each secret, and the signing secret's key without its prefix."""
        return HEADER_SECRET, SEED_SECRET, self.signing_secret, self.signing_secret.removeprefix("whsec_")


async def populate(config: Config, sink: Sink, session: aiohttp.ClientSession) -> Stored:
    """alice's job `hidden` with a secret header, a Seed schedule with an auth_token, a signing secret."""
    server = await start_server(config)
    try:
        api = Api(f"http://127.0.0.1:{server.port}", session)
        await api.register_and_login("alice", PASSWORD)
        url = sink.url + "/hidden"
        data = {"url": url, "verb": "POST", "body": "x", "headers": {"Authorization": {"secret": HEADER_SECRET}}}
        await api.create_job("hidden", url, schedule="every 1 hours", data=data)
        seed = SeedClient(api.base, session, api.token)
        created = await seed.create_schedule(
            cron_definition=FAR_FUTURE_CRON, endpoint=sink.url + "/seed", payload={"a": 1}, auth_token=SEED_SECRET
        )
        _, signing_secret = await new_secret(api)
        return Stored(f"seed-{created['id']}", signing_secret)
    finally:
        await server.stop()


async def sends_them(config: Config, sink: Sink, session: aiohttp.ClientSession, stored: Stored) -> None:
    """A server on the database sends the plain secrets, signed with the signing secret."""
    server = await start_server(config)
    try:
        api = Api(f"http://127.0.0.1:{server.port}", session)
        status, body = await api.call("POST", "/login", json={"username": "alice", "password": PASSWORD})
        assert status == 200, body
        api.token = body["data"]["token"]
        (hit,) = await run_now(api, sink, "hidden", 1)
        assert hit.headers["Authorization"] == HEADER_SECRET
        Webhook(stored.signing_secret).verify(hit.body, hit.headers, json_parse=False)
        before = len(sink.paths("/seed"))
        status, body = await api.call("POST", f"/job/{stored.seed_job}/run")
        assert status == 202, body
        await wait_for(lambda: len(sink.paths("/seed")) > before, timeout=10)
        hit = sink.paths("/seed")[before]
        assert hit.headers["Authorization"] == f"Token {SEED_SECRET}"
        Webhook(stored.signing_secret).verify(hit.body, hit.headers, json_parse=False)
    finally:
        await server.stop()
