"""Operating the server: start and stop, configuration without a file, create-admin, check-config, backup."""

from __future__ import annotations

import asyncio
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import aiohttp

from tests.e2e.commands import START, Served, clean_env, command
from tests.helpers import Api

KEY = "operating-test-key-0123456789"


def test_a_taken_port_ends_the_start_at_once_with_one_line(tmp_path: Path) -> None:
    """The port is bound before anything else: no database is touched, and the process exits non-zero."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        started = time.monotonic()
        done = command(
            "--port", str(port), "--db-file", str(tmp_path / "vc.db"), cwd=tmp_path, env=clean_env(), timeout=5
        )
        elapsed = time.monotonic() - started
    assert done.returncode == 1, done.stderr
    assert elapsed < 5
    assert done.stderr.strip().splitlines() == ["veggiecron: cannot start: [Errno 98] Address already in use"]
    assert not (tmp_path / "vc.db").exists()


def test_an_unusable_database_ends_the_start_with_one_line(tmp_path: Path) -> None:
    done = command("--port", "0", "--db-file", str(tmp_path / "no" / "such" / "dir.db"), cwd=tmp_path, env=clean_env())
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == ["veggiecron: cannot start: unable to open database file"]


def test_sigterm_ends_the_server_whenever_it_comes(tmp_path: Path) -> None:
    """Sent at once after the process starts: during the import, the start-up or serving, it ends it."""
    with subprocess.Popen(
        [sys.executable, START, "--port", "0", "--db-file", str(tmp_path / "vc.db")],
        cwd=tmp_path,
        env=clean_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    ) as process:
        for delay in (0.2, 0.3, 0.5):  # repeated while it runs: the first may come before the handlers exist
            time.sleep(delay)
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        try:
            _out, err = process.communicate(timeout=10)
        finally:
            process.kill()
    assert process.returncode in (0, -signal.SIGTERM), err


async def test_serves_from_any_directory_without_a_config_file(tmp_path: Path) -> None:
    """README says every key is optional: so is the file. Defaults put the database in the working directory."""
    empty = tmp_path / "empty"
    empty.mkdir()
    server = Served(empty, clean_env(VEGGIECRON_PORT="0"), tmp_path / "server.log")
    try:
        await server.start()
        assert (empty / "veggiecron.db").exists()
        async with aiohttp.ClientSession() as session, session.get(server.base + "/health") as response:
            assert response.status == 200
        assert await server.stop() == 0
    finally:
        await server.kill()
    assert sorted(p.name for p in empty.iterdir() if not p.name.startswith("veggiecron.db-")) == ["veggiecron.db"]


async def test_the_environment_configures_the_server(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = clean_env(
        VEGGIECRON_PORT=str(port),
        VEGGIECRON_DATABASE=f"sqlite:///{tmp_path / 'env.db'}",
        VEGGIECRON_APP__NAME="configured-by-env",
        SECRET_KEY=KEY,
    )
    server = Served(tmp_path, env, tmp_path / "server.log")
    try:
        assert await server.start() == port
        async with aiohttp.ClientSession() as session, session.get(server.base + "/") as response:
            assert (await response.json())["data"]["name"] == "configured-by-env"
        assert (tmp_path / "env.db").exists()
    finally:
        await server.stop()


async def test_create_admin_uses_the_servers_database_and_says_which(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    env = clean_env(VEGGIECRON_PORT="0", VEGGIECRON_DATABASE="sqlite:///data/vc.db", SECRET_KEY=KEY)
    server = Served(tmp_path, env, tmp_path / "server.log")
    try:
        await server.start()
        made = await asyncio.to_thread(command, "create-admin", "ops", cwd=tmp_path, env=env)
        assert made.returncode == 0, made.stderr
        assert f"admin 'ops' in the database {tmp_path / 'data' / 'vc.db'}; its new token:" in made.stderr
        assert "a new file" not in made.stderr
        token = made.stdout.strip()
        async with aiohttp.ClientSession() as session:
            async with session.get(server.base + "/api/v1/user/", headers={"Authorization": f"Token {token}"}) as got:
                assert got.status == 200, await got.text()
                assert [u["username"] for u in (await got.json())["results"]] == ["ops"]
            async with session.get(server.base + "/audit", headers={"X-Auth-Token": token}) as got:
                rows = (await got.json())["data"]["entries"]
                assert [(r["actor"], r["action"], r["target"]) for r in rows] == [
                    ("system", "token.created", "user:ops"),
                    ("system", "user.registered", "user:ops"),  # a new user, registered an admin
                ]
    finally:
        await server.stop()
    assert not (tmp_path / "veggiecron.db").exists()  # nothing went to the default database


def test_create_admin_on_a_database_no_server_used_says_so(tmp_path: Path) -> None:
    made = command("create-admin", "ops", cwd=tmp_path, env=clean_env())
    assert made.returncode == 0, made.stderr
    assert f"{tmp_path / 'veggiecron.db'} (a new file: no server has used it yet)" in made.stderr


def test_check_config_prints_the_effective_values_masked_with_sources(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text("port: 9001\nseed:\n  hook_auth_token: file-hook-secret\n")
    done = command(
        "check-config", "--host", "0.0.0.0", cwd=tmp_path, env=clean_env(SECRET_KEY=KEY, VEGGIECRON_PORT="9002")
    )
    assert done.returncode == 0, done.stderr
    lines = {line.split(" = ")[0].strip(): line for line in done.stdout.splitlines()}
    assert lines["port"].endswith("= 9002  (env VEGGIECRON_PORT)")
    assert lines["host"].endswith("= 0.0.0.0  (flag --host)")
    assert lines["app.key"].endswith("= ****  (env SECRET_KEY)")
    assert lines["seed.hook_auth_token"].endswith(f"= ****  (file {tmp_path / 'config.yaml'})")
    assert KEY not in done.stdout and "file-hook-secret" not in done.stdout
    bad = command("check-config", cwd=tmp_path, env=clean_env(VEGGIECRON_PORT="eighty"))
    assert bad.returncode == 2
    assert bad.stderr.strip().splitlines() == [
        "veggiecron: config error: VEGGIECRON_PORT must be an integer, got 'eighty'"
    ]


def test_a_postgresql_database_that_does_not_answer_ends_the_command_with_one_line(tmp_path: Path) -> None:
    nobody = "postgresql://vc@127.0.0.1:1/vc"  # port 1: nothing listens, the connection is refused at once
    for done in (
        command("serve", "--port", "0", "--database", nobody, cwd=tmp_path, env=clean_env()),
        command("create-admin", "ops", cwd=tmp_path, env=clean_env(SCHEDULER_DATABASE=nobody)),
    ):
        assert done.returncode == 1, done.stderr
        (line,) = done.stderr.strip().splitlines()[-1:]
        assert line.startswith("veggiecron: cannot ") and "127.0.0.1" not in line.split("database")[0], line


def test_production_without_a_key_of_its_own_says_what_to_set(tmp_path: Path) -> None:
    done = command("serve", cwd=tmp_path, env=clean_env(VEGGIECRON_APP__ENV="production"))
    assert done.returncode == 2
    (line,) = done.stderr.strip().splitlines()
    assert "app.key" in line and "VEGGIECRON_APP__KEY" in line and "SECRET_KEY" in line


def test_python_m_veggiecron_is_the_command(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "veggiecron", "--version"],
        cwd=Path(START).parent,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0 and done.stdout.startswith("veggiecron ")


async def test_backup_copies_the_database_while_the_server_writes(tmp_path: Path) -> None:
    env = clean_env(VEGGIECRON_PORT="0", VEGGIECRON_DATABASE=str(tmp_path / "live.db"))
    server = Served(tmp_path, env, tmp_path / "server.log")
    try:
        await server.start()
        async with aiohttp.ClientSession() as session:
            api = Api(server.base, session)
            await api.register_and_login()
            await api.create_job("beat", "http://127.0.0.1:9/", schedule="every 1 seconds")
            done = await asyncio.to_thread(command, "backup", str(tmp_path / "copy.db"), cwd=tmp_path, env=env)
        assert done.returncode == 0, done.stderr
        again = await asyncio.to_thread(command, "backup", str(tmp_path / "copy.db"), cwd=tmp_path, env=env)
        assert again.returncode == 1 and "exists" in again.stderr
    finally:
        await server.stop()
    with closing(sqlite3.connect(tmp_path / "copy.db")) as copy:
        assert copy.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert copy.execute("SELECT name FROM jobs").fetchall() == [("beat",)]
