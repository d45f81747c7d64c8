"""Secrets in exports, imports and copies, as an operator runs the commands: export writes
{"secret": null} unless --include-secrets (then plain text, with a warning); import leaves a
secret of no value out and says so; copy-to-postgres carries them sealed, sent as before."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aiohttp

from tests.e2e.commands import clean_env, command
from tests.e2e.stored_secrets import HEADER_SECRET, SEED_SECRET, Stored, populate, sends_them
from tests.helpers import Api, Sink, start_server, test_config

UNKNOWN = {"secret": None}


def export(tmp_path: Path, db: Path, *extra: str) -> tuple[dict[str, Any], str, str]:
    done = command("export", "alice", "--db-file", str(db), *extra, cwd=tmp_path, env=clean_env())
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout), done.stdout, done.stderr


async def jobs_of(db: Path, session: aiohttp.ClientSession) -> dict[str, Any]:
    """alice's jobs (GET /job) and Seed schedules, as a server on the file answers them."""
    server = await start_server(test_config(str(db)))
    try:
        found = await server.store.user_credentials("alice")
        assert found is not None and server.ctx is not None
        api = Api(f"http://127.0.0.1:{server.port}", session)
        api.token, _ = await server.ctx.accounts.issue_token(found[0])
        _, jobs = await api.call("GET", "/job")
        _, schedules = await api.call("GET", "/api/v1/schedule/")
        return {"jobs": {j["name"]: j for j in jobs["data"]["jobs"]}, "schedules": schedules["results"]}
    finally:
        await server.stop()


async def test_export_leaves_secrets_out_and_import_says_it_left_them_out(
    tmp_path: Path, sink: Sink, session: aiohttp.ClientSession
) -> None:
    source = tmp_path / "source.db"
    stored = await populate(test_config(str(source)), sink, session)
    document, text, stderr = export(tmp_path, source)
    assert not any(value in text for value in stored.values) and "v1:" not in text
    assert "warning" not in stderr
    entries = {entry["name"]: entry for entry in document["jobs"]}
    assert entries["hidden"]["data"]["headers"] == {"Authorization": UNKNOWN}
    assert entries[stored.seed_job]["data"]["headers"] == {"Authorization": UNKNOWN}
    assert entries[stored.seed_job]["seed"]["auth_token"] == UNKNOWN

    (tmp_path / "alice.json").write_text(text)
    target = tmp_path / "target.db"
    done = command(
        "import", "alice", "alice.json", "--db-file", str(target), "--create-user", cwd=tmp_path, env=clean_env()
    )
    assert done.returncode == 0, done.stderr
    notes = [line for line in done.stderr.splitlines() if "left out" in line]
    assert len(notes) == 3, done.stderr
    assert any("'hidden': data.headers['Authorization'] left out" in note for note in notes), notes
    assert any(f"{stored.seed_job!r}: seed.auth_token left out" in note for note in notes), notes
    imported = await jobs_of(target, session)
    assert "headers" not in imported["jobs"]["hidden"]["data"]
    assert "headers" not in imported["jobs"][stored.seed_job]["data"]
    assert [s["auth_token"] for s in imported["schedules"]] == [None]


async def test_export_include_secrets_writes_them_plain_and_import_seals_them_again(
    tmp_path: Path, sink: Sink, session: aiohttp.ClientSession
) -> None:
    source = tmp_path / "source.db"
    await populate(test_config(str(source)), sink, session)
    document, text, stderr = export(tmp_path, source, "--include-secrets")
    assert "warning" in stderr and "plain text" in stderr
    entries = {entry["name"]: entry for entry in document["jobs"]}
    assert entries["hidden"]["data"]["headers"] == {"Authorization": {"secret": HEADER_SECRET}}
    (seed,) = [entry for entry in document["jobs"] if entry["seed"]]
    assert seed["seed"]["auth_token"] == SEED_SECRET
    assert seed["data"]["headers"] == {"Authorization": {"secret": f"Token {SEED_SECRET}"}}

    (tmp_path / "alice.json").write_text(text)
    target = tmp_path / "target.db"
    done = command(
        "import", "alice", "alice.json", "--db-file", str(target), "--create-user", cwd=tmp_path, env=clean_env()
    )
    assert done.returncode == 0 and "left out" not in done.stderr, done.stderr
    stored_bytes = b"".join(p.read_bytes() for p in tmp_path.glob("target.db*"))
    assert HEADER_SECRET.encode() not in stored_bytes and SEED_SECRET.encode() not in stored_bytes
    imported = await jobs_of(target, session)
    assert imported["jobs"]["hidden"]["data"]["headers"] == {"Authorization": {"secret": "set"}}
    assert [s["auth_token"] for s in imported["schedules"]] == ["********"]
    again, _, _ = export(tmp_path, target, "--include-secrets")
    assert [e["data"] for e in again["jobs"]] == [e["data"] for e in document["jobs"]]
    assert [e["seed"] for e in again["jobs"]] == [e["seed"] for e in document["jobs"]]


async def test_copy_to_postgres_keeps_them_sealed_and_a_node_sends_them(
    tmp_path: Path, sink: Sink, session: aiohttp.ClientSession, postgres_url: str
) -> None:
    source = tmp_path / "source.db"
    stored: Stored = await populate(test_config(str(source)), sink, session)
    done = command("copy-to-postgres", postgres_url, "--db-file", str(source), cwd=tmp_path, env=clean_env())
    assert done.returncode == 0, done.stderr
    import asyncpg

    conn = await asyncpg.connect(postgres_url)
    try:
        rows = [str(row[0]) for row in await conn.fetch("SELECT data::text FROM jobs")]
        rows += [str(row[0]) for row in await conn.fetch("SELECT auth_token FROM seed_schedules")]
        rows += [str(row[0]) for row in await conn.fetch("SELECT secret FROM signing_secrets")]
    finally:
        await conn.close()
    assert len(rows) == 4 and not any(value in row for row in rows for value in stored.values)
    assert all("v1:" in row for row in rows)
    await sends_them(test_config(str(tmp_path / "unused.db"), database=postgres_url), sink, session, stored)
