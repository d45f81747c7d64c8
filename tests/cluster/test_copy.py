"""Moving up: a single daemon's SQLite database copied into PostgreSQL, served there by a node."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import aiohttp

from tests.helpers import Api, Sink, start_server, test_config, wait_for
from veggiecron.signing import key_of
from veggiecron.store.sqlite import SqliteStore

ROOT = Path(__file__).resolve().parents[2]


def copy(db_file: str, target: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "start.py", "copy-to-postgres", target, "--database", db_file],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


async def test_everything_comes_along_and_a_node_serves_it(
    tmp_path: Path, postgres_url: str, session: aiohttp.ClientSession, sink: Sink
) -> None:
    db_file = str(tmp_path / "single.db")
    single = await start_server(test_config(db_file))
    api = Api(f"http://127.0.0.1:{single.port}", session)
    token = await api.register_and_login()
    await api.create_job(
        "hourly", sink.url, schedule="every 1 hours", data={"url": sink.url + "/hourly"}, tags=["billing", "eu"]
    )
    await api.create_job("often", sink.url, schedule="every 1 seconds", data={"url": sink.url + "/often"})
    status, body = await api.call(
        "POST", "/api/v1/schedule/", json={"endpoint": sink.url + "/seed", "interval_definition": "1 hours"}
    )
    assert status == 201, body
    await wait_for(lambda: len(sink.paths("/often")) >= 2, timeout=5)
    status, body = await api.call("GET", "/audit", params={"limit": 100})
    audit_before = body["data"]["entries"]
    assert {"job:hourly", "job:often"} <= {e["target"] for e in audit_before}
    status, body = await api.call("POST", "/signing-secrets")
    assert status == 201, body
    signing = body["data"]
    await single.stop()
    stored = SqliteStore(db_file)
    await stored.open()
    before = await stored.get_job(1, "hourly")
    before_runs, before_count = await stored.list_runs((await stored.get_job(1, "often")).id, 100, 0)
    await stored.close()

    done = copy(db_file, postgres_url)
    assert done.returncode == 0, done.stderr
    assert "copied" in done.stderr and "postgres:***@" in done.stderr

    node = await start_server(test_config("unused.db", database=postgres_url))
    try:
        moved = Api(f"http://127.0.0.1:{node.port}", session)
        moved.token = token  # the same token works: its hash came along (same app.key)
        status, body = await moved.call("GET", "/job/hourly")
        assert status == 200, body
        assert body["data"]["next_run"] == before.next_run
        assert body["data"]["tags"] == ["billing", "eu"]
        status, body = await moved.call("GET", "/job/often/runs", params={"limit": 100})
        assert body["data"]["count"] == before_count
        assert {r["due_at"] for r in body["data"]["runs"]} == {r.due_at for r in before_runs}
        waits = [r.pool_wait_ms for r in before_runs]
        assert all(w is not None for w in waits), waits
        assert {r["pool_wait_ms"] for r in body["data"]["runs"]} == {round(w or 0, 3) for w in waits}
        status, body = await moved.call("GET", "/api/v1/schedule/")
        assert status == 200 and body["count"] == 1 and body["results"][0]["endpoint"] == sink.url + "/seed"
        # The signing secret came along still sealed, and the same key opens it.
        status, body = await moved.call("GET", "/signing-secrets")
        assert [s["id"] for s in body["data"]["signing_secrets"]] == [signing["id"]]
        assert node.ctx is not None and node.ctx.signing.book.keys(1) == (key_of(signing["secret"]),)
        sealed = await node.store.all_signing_secrets()
        assert signing["secret"][6:] not in sealed[0].secret
        # New rows get ids after the copied ones, and the node fires the moved jobs.
        await moved.create_job("new", sink.url, schedule="every 1 hours")
        # The audit log came along, and its new rows come after the copied ones.
        status, body = await moved.call("GET", "/audit", params={"limit": 100})
        assert body["data"]["entries"][0]["target"] == "job:new"
        assert body["data"]["entries"][1:] == audit_before
        fired = len(sink.paths("/often"))
        await wait_for(lambda: len(sink.paths("/often")) > fired, timeout=5)
    finally:
        await node.stop()

    again = copy(db_file, postgres_url)
    assert again.returncode == 1
    assert again.stderr.strip().splitlines()[-1] == (
        "veggiecron: the PostgreSQL database already has users or jobs; copy into an empty one"
    )
