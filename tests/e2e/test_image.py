"""The container image: built from the Containerfile, checked from its files and config, then started
from its own entry command, used over HTTP and stopped with SIGTERM (see tests/e2e/image.py).

One test does it all: the build is the slow part, and under pytest-xdist a module-scoped fixture
would build once per worker.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path

import aiohttp
import pytest

from tests.e2e.image import ROOT, Image, built_image
from tests.helpers import Api, Sink, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

# Whatever a compiler toolchain would leave: the image must be able to run, never to build.
COMPILER = re.compile(r"^((x86_64|aarch64)-linux-gnu-)?(gcc|g\+\+|cc|c\+\+|cc1|clang|ld|as)(-\d+(\.\d+)*)?$")
SECRET_NAMES = re.compile(r"KEY|TOKEN|PASSWORD|SECRET|DSN", re.IGNORECASE)
APP_KEY = "image-test-key-0123456789abcdef"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def image_files(root: Path) -> list[str]:
    """Every path in the image, relative to its root."""
    paths: list[str] = []
    for folder, dirs, files in os.walk(root):
        relative = os.path.relpath(folder, root)
        if relative in ("proc", "sys", "dev"):
            dirs.clear()
            continue
        paths.extend(os.path.normpath(os.path.join(relative, name)) for name in dirs + files)
    return paths


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def check_config(image: Image) -> None:
    config, env = image.config, image.env
    user = config.get("User", "")
    assert user and user not in ("root", "0") and image.uid(user.split(":")[0]) != 0, f"runs as {user!r}"
    # Kept by the docker format only: a build in the OCI format would lose it.
    health = image.info.get("Healthcheck") or {}
    assert health.get("Test", [""])[0] == "CMD" and "/health" in " ".join(health["Test"]), health
    assert "8118/tcp" in config.get("ExposedPorts", {}) and "/data" in config.get("Volumes", {})
    # Exec form (no shell between the server and SIGTERM), settings left to ENV so -e overrides them.
    assert config["Entrypoint"] == ["veggiecron"] and config["Cmd"] == ["serve"]
    assert env["VEGGIECRON_HOST"] == "0.0.0.0" and env["VEGGIECRON_PORT"] == "8118"
    assert env["VEGGIECRON_APP__ENV"] == "production" and env["SCHEDULER_DATABASE"] == "/data/veggiecron.db"
    assert not [name for name in env if SECRET_NAMES.search(name)], env
    data = (image.root / "data").stat()
    assert data.st_uid == image.uid(user) and data.st_mode & 0o700 == 0o700


def check_files(image: Image) -> None:
    paths = image_files(image.root)
    # Not one of this tree's test or benchmark files, under any name of directory (found by their
    # contents: other packages ship tests/__init__.py of their own), nor a tests or bench package.
    ours = {digest(p) for top in ("tests", "bench") for p in (ROOT / top).rglob("*.py") if p.stat().st_size}
    names = {p.name for top in ("tests", "bench") for p in (ROOT / top).rglob("*.py")}
    assert ours, "no test files found to look for"
    found = [p for p in paths if os.path.basename(p) in names and not (image.root / p).is_symlink()]
    found = [p for p in found if (image.root / p).is_file()]
    copied = [p for p in found if digest(image.root / p) in ours]
    assert not copied, f"test or benchmark files in the image: {copied[:5]}"
    assert not [p for p in paths if p.endswith(("site-packages/tests", "site-packages/bench"))]
    assert not any(p == "src" or p.startswith("src/") or p.endswith("/.git") for p in paths)
    compilers = [
        p
        for p in paths
        if (os.path.dirname(p).endswith("bin") and COMPILER.match(os.path.basename(p))) or p.startswith("usr/lib/gcc/")
    ]
    assert not compilers, f"a compiler in the image: {compilers[:5]}"
    # The build's certificate secret, pip's cache and any database stay out.
    assert not (image.root / "run" / "secrets").exists()
    assert not any("/.cache/pip" in f"/{p}" or p.endswith((".db", ".db-wal")) for p in paths)
    site = next((image.root / "opt" / "veggiecron" / "lib").glob("python3*/site-packages"))
    assert (site / "veggiecron" / "cli.py").exists() and (
        site / "veggiecron" / "ui" / "static" / "htmx.min.js"
    ).exists()


def check_exits_without_a_key(image: Image) -> None:
    """Production (the image's default) refuses the shipped key: one line, exit code 2."""
    argv, env = image.command({}, f"{image.container}-nokey")
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1 and "SECRET_KEY" in lines[0], done.stderr


def check_healthcheck(image: Image, name: str, env: dict[str, str]) -> None:
    """The image's own HEALTHCHECK command, run as the image would run it."""
    if image.use_podman_run:
        done = subprocess.run(["podman", "healthcheck", "run", name], capture_output=True, text=True, timeout=30)
    else:
        test = image.info["Healthcheck"]["Test"][1:]
        done = subprocess.run(image.in_root(test), env=env, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr


def create_admin(image: Image, name: str, env: dict[str, str]) -> str:
    """README's `docker exec NAME veggiecron create-admin ops`, while the server runs: the token."""
    argv = image.exec_in(name, ["veggiecron", "create-admin", "ops"])
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


async def test_the_image_builds_holds_only_the_server_and_serves_until_sigterm(sink: Sink, tmp_path: Path) -> None:
    started = time.monotonic()
    with built_image() as image:
        built = time.monotonic()
        check_config(image)
        check_files(image)
        check_exits_without_a_key(image)

        port, name = free_port(), f"{image.container}-serve"
        argv, env = image.command(
            {
                "SECRET_KEY": APP_KEY,  # Seed's name for app.key
                "VEGGIECRON_PORT": str(port),  # over the image's ENV, as `-e` would
                "VEGGIECRON_HTTP_CLIENT__ALLOW_NETWORKS": "127.0.0.0/8",  # production denies loopback targets
                "VEGGIECRON_SECURITY__BCRYPT_ROUNDS": "4",
            },
            name,
        )
        log = tmp_path / "image.log"
        with log.open("w") as out:
            process = await asyncio.create_subprocess_exec(*argv, env=env, stdout=out, stderr=out)
        try:
            async with aiohttp.ClientSession() as session:
                base = f"http://127.0.0.1:{port}"

                async def healthy() -> bool:
                    if process.returncode is not None:
                        raise AssertionError(f"the image's server exited: {log.read_text()}")
                    try:
                        async with session.get(f"{base}/health") as response:
                            return response.status == 200
                    except aiohttp.ClientConnectionError:
                        return False

                deadline = time.monotonic() + 60
                while not await healthy():
                    assert time.monotonic() < deadline, log.read_text()
                    await asyncio.sleep(0.1)
                await asyncio.to_thread(check_healthcheck, image, name, env)
                admin_token = await asyncio.to_thread(create_admin, image, name, env)
                status, body = await Api(base, session).call("GET", "/job", token=admin_token)
                assert status == 200, body
                api = Api(base, session)
                await api.register_and_login()
                await api.create_job("beat", sink.url + "/beat", schedule="every 1 seconds")
                await wait_for(lambda: len(sink.paths("/beat")) >= 2, timeout=15)
            # SIGTERM to the server as its namespace's PID 1: it stops only because it handles it.
            pid, pid_inside = image.entry_pid(process.pid)
            assert pid_inside == 1
            os.kill(pid, signal.SIGTERM)
            grace = 10.0  # scheduler.shutdown_grace_seconds, the default the image keeps
            assert await asyncio.wait_for(process.wait(), timeout=grace + 5) == 0, log.read_text()
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
        text = log.read_text()
        assert "stopped cleanly" in text and "Traceback" not in text, text
        assert "listening on http://0.0.0.0:" in text
        if not image.use_podman_run:  # the database landed in the volume, owned by the image's user
            database = image.root / "data" / "veggiecron.db"
            assert database.stat().st_uid == image.uid(image.config["User"])
        ran = time.monotonic()
    print(f"image: built in {built - started:.1f} s, checked and served in {ran - built:.1f} s")
