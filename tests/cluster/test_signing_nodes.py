"""Two nodes on one PostgreSQL: a signing secret created or ended on one signs (or no longer signs)
the other's requests within about a second, with no database read per run."""

from __future__ import annotations

import aiohttp
from standardwebhooks import Webhook

from tests.helpers import Api, Sink, start_server, test_config, wait_for
from veggiecron.signing import key_of


async def test_a_secret_made_on_one_node_signs_on_the_other(
    postgres_url: str, session: aiohttp.ClientSession, sink: Sink
) -> None:
    first = await start_server(test_config("unused-a.db", database=postgres_url))
    second = await start_server(test_config("unused-b.db", database=postgres_url))
    try:
        a = Api(f"http://127.0.0.1:{first.port}", session)
        await a.register_and_login()
        b = Api(f"http://127.0.0.1:{second.port}", session)
        b.token = a.token
        status, body = await a.call("POST", "/signing-secrets")
        assert status == 201, body
        secret = body["data"]["secret"]
        assert second.ctx is not None
        book = second.ctx.signing.book
        await wait_for(lambda: book.keys(1) == (key_of(secret),), timeout=5)
        await b.create_job("signed", sink.url + "/signed", schedule="every 1 hours")
        status, _ = await b.call("POST", "/job/signed/run")
        assert status in (200, 202)
        await wait_for(lambda: sink.paths("/signed"), timeout=10)
        hit = sink.paths("/signed")[0]
        Webhook(secret).verify(hit.body, hit.headers, json_parse=False)
        status, _ = await b.call("DELETE", f"/signing-secrets/{body['data']['id']}")
        assert status == 200
        assert first.ctx is not None
        await wait_for(lambda: first.ctx is not None and first.ctx.signing.book.keys(1) == (), timeout=5)
    finally:
        await second.stop()
        await first.stop()
