"""`veggiecron export` and `veggiecron import` as an operator runs them: real processes on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.e2e.commands import Served, clean_env, command
from tests.helpers import Api, Sink, start_server, test_config, wait_for
from veggiecron.app import Server

pytestmark = pytest.mark.slow

# Fields of GET /job that say when the job was stored, not what it is.
STORED_AT = ("date_created", "date_updated", "date_created_utc", "date_updated_utc")
# Fields of a Seed schedule that name the server or carry the storing times.
SEED_STORED_AT = ("url", "created_at", "updated_at", "created_by", "updated_by")


async def populate(db_file: str, sink: Sink, session: aiohttp.ClientSession) -> tuple[list[Any], list[Any]]:
    """A server's jobs in every state (policies, a form post, disabled, paused, done, a Seed schedule);
    answers GET /job and GET /api/v1/schedule/ as they stand when it stops."""
    server = await start_server(test_config(db_file))
    try:
        api = Api(f"http://127.0.0.1:{server.port}", session)
        await api.register_and_login()
        await api.create_job(
            "hourly",
            sink.url,
            schedule="every 1 hours",
            data={"url": sink.url + "/hourly", "verb": "POST", "json": {"full": True}, "retries": 2},
            overlap="buffer_one",
            catch_up="all",
            max_catch_up=5,
            grace_seconds=600,
            jitter_seconds=30,
            start_at="2020-01-01T00:00:00Z",
            notify_url=sink.url + "/alerts",
        )
        status, body = await api.call(
            "POST",
            "/job",
            data={
                "name": "report",
                "type": "http",
                "schedule": "every day @ 13:00",
                "timezone": "Europe/London",
                "data": json.dumps({"url": sink.url + "/report", "headers": {"X-Key": "k"}}),
            },
        )
        assert status == 201, body
        await api.create_job("off", sink.url, schedule="0 3 1 1 *", enabled=False)
        await api.create_job("flaky", "http://127.0.0.1:9/", schedule="every 1 seconds", pause_after_failures=1)
        await api.create_job("once", sink.url, schedule=f"once @ {int(time.time()) + 1}")
        status, body = await api.call(
            "POST",
            "/api/v1/schedule/",
            json={
                "interval_definition": "1 hours",
                "frequency": 3,
                "endpoint": sink.url + "/seed",
                "payload": {"subscription": 1234},
                "auth_token": "abc",
            },
        )
        assert status == 201, body

        async def settled() -> bool:
            _status, flaky = await api.call("GET", "/job/flaky")
            _status, once = await api.call("GET", "/job/once")
            return flaky["data"]["paused_reason"] is not None and once["data"]["state"] == "done"

        await wait_for(settled, timeout=5)
        _status, jobs = await api.call("GET", "/job", params={"limit": 500})
        _status, schedules = await api.call("GET", "/api/v1/schedule/")
        return jobs["data"]["jobs"], schedules["results"]
    finally:
        await server.stop()


async def served_views(server: Server, session: aiohttp.ClientSession) -> tuple[list[Any], list[Any]]:
    """GET /job and GET /api/v1/schedule/ of alice, who was created by the import (no password: a token made here)."""
    found = await server.store.user_credentials("alice")
    assert found is not None
    api = Api(f"http://127.0.0.1:{server.port}", session)
    api.token, _expires = await server.ctx.accounts.issue_token(found[0])
    _status, jobs = await api.call("GET", "/job", params={"limit": 500})
    _status, schedules = await api.call("GET", "/api/v1/schedule/")
    return jobs["data"]["jobs"], schedules["results"]


def without(views: list[Any], *keys: str) -> list[Any]:
    return [{k: v for k, v in view.items() if k not in keys} for view in views]


async def round_trip(tmp_path: Path, sink: Sink, session: aiohttp.ClientSession, target: str) -> None:
    """Export a populated SQLite database, import it into `target`, export again: the same but the time;
    and a server on `target` answers GET /job and the Seed API as the source's did."""
    source = str(tmp_path / "source.db")
    jobs, schedules = await populate(source, sink, session)
    env = clean_env()

    def run(*args: str) -> str:
        done = command(*args, cwd=tmp_path, env=env)
        assert done.returncode == 0, done.stderr
        return done.stdout

    # With the secrets (a Seed schedule's auth_token): the round trip keeps them (tests/e2e/test_export_secrets.py).
    first = await asyncio.to_thread(run, "export", "alice", "--database", source, "--include-secrets")
    (tmp_path / "alice.json").write_text(first)
    await asyncio.to_thread(run, "import", "alice", "alice.json", "--database", target, "--create-user")
    second = await asyncio.to_thread(run, "export", "alice", "--database", target, "--include-secrets")
    exported, again = json.loads(first), json.loads(second)
    entries = {entry["name"]: entry for entry in exported["jobs"]}
    assert list(entries) == [view["name"] for view in jobs]
    assert entries["hourly"]["start_at"] == "2020-01-01T00:00:00Z" and entries["hourly"]["jitter_seconds"] == 30
    assert entries["flaky"]["enabled"] is False and entries["flaky"]["progress"]["paused_reason"].startswith("paused")
    assert entries["once"]["progress"]["finished"] is True
    (seed,) = [entry for entry in exported["jobs"] if entry["seed"]]
    assert (seed["max_runs"], seed["seed"]["auth_token"], seed["seed"]["payload"]) == (3, "abc", {"subscription": 1234})
    assert exported.pop("exported_at") != again.pop("exported_at")
    assert exported == again

    postgres = target.startswith("postgresql://")
    server = await start_server(
        test_config(str(tmp_path / "unused.db"), database=target) if postgres else test_config(target)
    )
    try:
        got_jobs, got_schedules = await served_views(server, session)
    finally:
        await server.stop()
    expected, got = without(jobs, *STORED_AT), without(got_jobs, *STORED_AT)
    for view in (*expected, *got):
        if view["name"] == "flaky":  # paused: its next run is its grid's next slot after the import
            del view["next_run"], view["next_run_utc"]
    assert got == expected
    assert without(got_schedules, *SEED_STORED_AT) == without(schedules, *SEED_STORED_AT)


async def test_a_round_trip_through_sqlite_is_exact(tmp_path: Path, sink: Sink, session: aiohttp.ClientSession) -> None:
    await round_trip(tmp_path, sink, session, str(tmp_path / "restored.db"))


async def test_a_round_trip_through_postgresql_is_exact(
    tmp_path: Path, sink: Sink, session: aiohttp.ClientSession, postgres_url: str
) -> None:
    await round_trip(tmp_path, sink, session, postgres_url)


async def test_a_node_running_on_postgresql_fires_imported_jobs_at_once(
    tmp_path: Path, sink: Sink, postgres_url: str
) -> None:
    node = await start_server(test_config("unused.db", database=postgres_url))
    try:
        job = {"name": "beat", "schedule": "every 1 seconds", "data": {"url": sink.url + "/beat"}}
        (tmp_path / "beat.json").write_text(json.dumps({"format": "veggiecron-jobs", "version": 1, "jobs": [job]}))
        done = await asyncio.to_thread(
            command,
            "import",
            "ops",
            "beat.json",
            "--create-user",
            "--database",
            postgres_url,
            cwd=tmp_path,
            env=clean_env(),
        )
        assert done.returncode == 0, done.stderr
        await wait_for(lambda: len(sink.paths("/beat")) >= 2, timeout=5)
    finally:
        await node.stop()


def lines(done: Any) -> list[str]:
    return [line for line in done.stderr.splitlines() if line.strip()]


def exported(cwd: Path, env: dict[str, str]) -> dict[str, Any]:
    """alice's jobs as export writes them, without the time of the export."""
    done = command("export", "alice", cwd=cwd, env=env)
    assert done.returncode == 0, done.stderr
    document: dict[str, Any] = json.loads(done.stdout)
    document.pop("exported_at")
    return document


def test_a_refused_file_says_why_in_one_line_and_changes_nothing(tmp_path: Path) -> None:
    env = clean_env(VEGGIECRON_DATABASE=str(tmp_path / "vc.db"))
    jobs = [
        {"name": "a", "schedule": "every 1 hours", "data": {"url": "http://127.0.0.1:9/a"}},
        {"name": "b", "schedule": "*/5 * * * *", "data": {"url": "http://127.0.0.1:9/b"}, "overlap": "allow"},
    ]
    (tmp_path / "good.json").write_text(json.dumps({"format": "veggiecron-jobs", "version": 1, "jobs": jobs}))
    made = command("import", "alice", "good.json", "--create-user", cwd=tmp_path, env=env)
    assert made.returncode == 0, made.stderr
    assert lines(made)[-1].endswith("(2 created, 0 replaced); created the user 'alice', without a password")
    before = exported(tmp_path, env)

    refused_job = {"name": "c", "schedule": "every 1 hours", "data": {"url": "ftp://127.0.0.1/c"}}
    files = {
        "bad.json": ("{nope", "veggiecron: bad.json: not JSON: "),
        "v2.json": (json.dumps({"format": "veggiecron-jobs", "version": 2, "jobs": []}), "veggiecron: v2.json: format"),
        "refused.json": (
            json.dumps({"format": "veggiecron-jobs", "version": 1, "jobs": [{**jobs[0], "name": "z"}, refused_job]}),
            "veggiecron: refused.json: job 2 'c': data.url: data.url must be an http:// or https:// URL",
        ),
        "good.json": ("", "veggiecron: good.json: job 1 'a': name: you already have a job named 'a'"),
    }
    for name, (text, expected) in files.items():
        if text:
            (tmp_path / name).write_text(text)
        done = command("import", "alice", name, cwd=tmp_path, env=env)
        assert done.returncode == 2, done.stderr
        (line,) = lines(done)
        assert line.startswith(expected) and line.endswith("; nothing was imported"), line
    assert exported(tmp_path, env) == before


def test_replace_changes_as_patch_would_and_an_unknown_user_is_one_line(tmp_path: Path) -> None:
    env = clean_env(VEGGIECRON_DATABASE=str(tmp_path / "vc.db"))
    job = {"name": "a", "schedule": "every 1 hours", "data": {"url": "http://127.0.0.1:9/a"}}
    (tmp_path / "a.json").write_text(json.dumps({"format": "veggiecron-jobs", "version": 1, "jobs": [job]}))
    assert command("import", "alice", "a.json", "--create-user", cwd=tmp_path, env=env).returncode == 0
    moved = {**job, "schedule": "every 2 hours", "enabled": False}
    (tmp_path / "moved.json").write_text(json.dumps({"format": "veggiecron-jobs", "version": 1, "jobs": [moved]}))
    done = command("import", "alice", "moved.json", "--replace", cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    assert lines(done)[-1].endswith("(0 created, 1 replaced)")
    (entry,) = exported(tmp_path, env)["jobs"]
    assert (entry["schedule"], entry["enabled"]) == ("every 2 hours", False)

    for args in (("import", "bob", "a.json"), ("export", "bob")):
        done = command(*args, cwd=tmp_path, env=env)
        assert done.returncode == 2
        (line,) = lines(done)
        assert line.startswith(f"veggiecron: no user named 'bob' in the database {tmp_path / 'vc.db'}"), line
    done = command("import", "alice", "a.json", "--database", str(tmp_path / "new.db"), cwd=tmp_path, env=env)
    assert done.returncode == 2 and "(--create-user creates the user in a new one)" in done.stderr
    assert not (tmp_path / "new.db").exists()


async def test_import_refuses_while_a_server_runs_on_the_file_and_works_once_it_stopped(
    tmp_path: Path, sink: Sink, session: aiohttp.ClientSession
) -> None:
    env = clean_env(VEGGIECRON_PORT="0", VEGGIECRON_DATABASE=str(tmp_path / "live.db"))
    server = Served(tmp_path, env, tmp_path / "server.log")
    try:
        await server.start()
        api = Api(server.base, session)
        await api.register_and_login()
        await api.create_job("beat", sink.url, schedule="every 1 hours", data={"url": sink.url + "/beat"})
        # Export reads while the server runs; its file is readable only by its owner.
        done = await asyncio.to_thread(command, "export", "alice", "--output", "alice.json", cwd=tmp_path, env=env)
        assert done.returncode == 0, done.stderr
        assert (tmp_path / "alice.json").stat().st_mode & 0o777 == 0o600
        exported = json.loads((tmp_path / "alice.json").read_text())
        exported["jobs"][0].update(name="beat2", schedule="every 1 seconds", data={"url": sink.url + "/beat2"})
        (tmp_path / "beat2.json").write_text(json.dumps(exported))
        again = await asyncio.to_thread(command, "export", "alice", "--output", "alice.json", cwd=tmp_path, env=env)
        assert again.returncode == 1 and lines(again) == ["veggiecron: alice.json exists; give a new file"]

        done = await asyncio.to_thread(command, "import", "alice", "beat2.json", cwd=tmp_path, env=env)
        assert done.returncode == 1
        (line,) = lines(done)
        assert f"a veggiecron server (or another import) is using {tmp_path / 'live.db'}" in line
        status, _body = await api.call("GET", "/job/beat2")
        assert status == 404
    finally:
        assert await server.stop() == 0
    done = await asyncio.to_thread(command, "import", "alice", "beat2.json", cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    await server.start()  # the restarted server fires the imported job
    try:
        await wait_for(lambda: sink.paths("/beat2"), timeout=5)
    finally:
        assert await server.stop() == 0
