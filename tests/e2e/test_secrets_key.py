"""The secrets key: a start whose key cannot open the stored secrets refuses with one line, and
`veggiecron rotate-secrets-key` re-encrypts every stored secret, all or nothing, on SQLite and on
PostgreSQL; a server with the new key then sends them all."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from dataclasses import replace
from pathlib import Path

import aiohttp
import orjson
import pytest

from tests.api.test_seed import FAR_FUTURE_CRON, SeedClient
from tests.e2e.commands import clean_env, command
from tests.e2e.stored_secrets import PASSWORD, populate, sends_them
from tests.helpers import Api, Sink, start_server, test_config, wait_for
from veggiecron.app import Server
from veggiecron.config import Config
from veggiecron.sealed import WrongSecretsKey

NEW_KEY = "the-new-secrets-key-" + "n" * 20
CHANGED_APP_KEY = "a-changed-app-key-" + "c" * 20


def with_key(config: Config, secrets_key: str = "", app_key: str | None = None) -> Config:
    security = replace(config.security, secrets_key=secrets_key)
    return replace(config, security=security, app=replace(config.app, key=app_key or config.app.key))


def stored_values(db: Path) -> list[str]:
    with closing(sqlite3.connect(db)) as raw:
        values = [row[0] for row in raw.execute("SELECT secret FROM signing_secrets ORDER BY id")]
        values += [row[0] for row in raw.execute("SELECT auth_token FROM seed_schedules")]
        values += [row[0] for row in raw.execute("SELECT data FROM jobs ORDER BY id")]
        values += [row[0] for row in raw.execute("SELECT private_key FROM oidc_keys ORDER BY id")]
    return values


async def refuses(config: Config) -> None:
    refused = Server(config)
    try:
        with pytest.raises(WrongSecretsKey, match="rotate-secrets-key"):
            await refused.start()
    finally:
        await refused.stop()  # what the refused start opened


async def test_a_key_that_cannot_open_a_secret_header_refuses_the_start(tmp_path: Path, sink: Sink) -> None:
    db = tmp_path / "veggiecron.db"
    server = await start_server(test_config(str(db)))
    try:
        async with aiohttp.ClientSession() as session:
            api = Api(f"http://127.0.0.1:{server.port}", session)
            await api.register_and_login("alice", PASSWORD)
            data = {"url": sink.url, "headers": {"K": {"secret": "only-a-header"}}}
            await api.create_job("hidden", sink.url, schedule="every 1 hours", data=data)
    finally:
        await server.stop()
    done = command(
        "--port", "0", "--db-file", str(db), cwd=tmp_path, env=clean_env(VEGGIECRON_APP__KEY=CHANGED_APP_KEY)
    )
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1, done.stderr
    assert "security.secrets_key" in lines[0] and "rotate-secrets-key" in lines[0]


async def test_a_key_that_cannot_open_a_seed_token_refuses_the_start(tmp_path: Path, sink: Sink) -> None:
    db = tmp_path / "veggiecron.db"
    config = test_config(str(db))
    server = await start_server(config)
    try:
        async with aiohttp.ClientSession() as session:
            api = Api(f"http://127.0.0.1:{server.port}", session)
            await api.register_and_login("alice", PASSWORD)
            await SeedClient(api.base, session, api.token).create_schedule(
                cron_definition=FAR_FUTURE_CRON, endpoint=sink.url + "/s", auth_token="tok"
            )
    finally:
        await server.stop()
    with closing(sqlite3.connect(db)) as raw, raw:  # the token left in the Seed row alone
        raw.execute("UPDATE jobs SET data = ?", (orjson.dumps({"url": sink.url + "/s"}).decode(),))
    await refuses(with_key(config, app_key=CHANGED_APP_KEY))
    started = await start_server(config)  # the key it was stored under opens it
    await started.stop()


async def test_rotate_secrets_key_on_sqlite(tmp_path: Path, sink: Sink, session: aiohttp.ClientSession) -> None:
    db = tmp_path / "veggiecron.db"
    config = test_config(str(db))
    stored = await populate(config, sink, session)
    before = stored_values(db)
    # An old key that opens nothing: refused, nothing changed.
    done = command(
        "rotate-secrets-key", "--db-file", str(db), "--old-key", CHANGED_APP_KEY, "--new-key", NEW_KEY,
        cwd=tmp_path, env=clean_env(),
    )  # fmt: skip
    assert done.returncode == 2 and "nothing was changed" in done.stderr, done.stderr
    assert stored_values(db) == before
    # The old key is the configured one (app.key here); the new one given on the command line.
    done = command("rotate-secrets-key", "--db-file", str(db), "--new-key", NEW_KEY, cwd=tmp_path, env=clean_env())
    assert done.returncode == 0, done.stderr
    assert "re-encrypted 5 stored secrets" in done.stderr, done.stderr
    after = stored_values(db)
    assert (
        all(a != b for a, b in zip(after, before, strict=True)) and len(after) == 5
    )  # the signing secret, the token, two jobs, the server's OIDC key
    await refuses(config)  # the old key opens none of them now
    await sends_them(with_key(config, NEW_KEY), sink, session, stored)


async def test_rotate_secrets_key_on_postgresql(
    tmp_path: Path, sink: Sink, session: aiohttp.ClientSession, postgres_url: str
) -> None:
    config = test_config(str(tmp_path / "unused.db"), database=postgres_url)
    stored = await populate(config, sink, session)
    done = command(
        "rotate-secrets-key", "--database", postgres_url, "--new-key", "-", cwd=tmp_path, env=clean_env(), input=NEW_KEY
    )
    assert done.returncode == 0 and "re-encrypted 5 stored secrets" in done.stderr, done.stderr
    await refuses(config)
    await sends_them(with_key(config, NEW_KEY), sink, session, stored)


async def test_a_seed_token_stored_in_plain_text_before_is_sent_and_sealed_at_its_next_change(
    tmp_path: Path, sink: Sink, session: aiohttp.ClientSession
) -> None:
    """A database of an earlier version holds Seed tokens in plain text: they do not stop the start,
    are answered hidden, sent as they are, and sealed when the schedule next changes."""
    db = tmp_path / "veggiecron.db"
    config = test_config(str(db))
    server = await start_server(config)
    try:
        api = Api(f"http://127.0.0.1:{server.port}", session)
        await api.register_and_login("alice", PASSWORD)
        seed = SeedClient(api.base, session, api.token)
        created = await seed.create_schedule(
            cron_definition=FAR_FUTURE_CRON, endpoint=sink.url + "/old", auth_token="old-plain-token"
        )
    finally:
        await server.stop()
    with closing(sqlite3.connect(db)) as raw, raw:  # as an earlier version stored them
        raw.execute("UPDATE seed_schedules SET auth_token = 'old-plain-token'")
        data = {"url": sink.url + "/old", "verb": "POST", "headers": {"Authorization": "Token old-plain-token"}}
        raw.execute("UPDATE jobs SET data = ?", (orjson.dumps(data).decode(),))
    server = await start_server(config)
    try:
        seed = SeedClient(f"http://127.0.0.1:{server.port}", session, api.token)
        path = f"/api/v1/schedule/{created['id']}/"  # on this server's port
        assert (await seed.get_ok(path))["auth_token"] == "********"
        reply = await seed.call("PATCH", path, json={"payload": {"n": 2}})
        assert reply.status == 200 and reply.body["auth_token"] == "********", reply.body
    finally:
        await server.stop()
    token, job_data, _oidc_key = stored_values(db)
    assert token.startswith("v1:") and "old-plain-token" not in job_data
    assert orjson.loads(job_data)["headers"]["Authorization"]["secret"]["sealed"].startswith("v1:")
    server = await start_server(config)
    try:
        api = Api(f"http://127.0.0.1:{server.port}", session)
        api.token = seed.token
        status, body = await api.call("POST", f"/job/seed-{created['id']}/run")
        assert status == 202, body
        await wait_for(lambda: sink.paths("/old"), timeout=10)
        assert sink.paths("/old")[0].headers["Authorization"] == "Token old-plain-token"
    finally:
        await server.stop()
