"""`pip install .` into a fresh virtualenv, then `veggiecron serve` from an empty directory, by environment only."""

from __future__ import annotations

import asyncio
import gzip
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest

from tests.e2e.commands import LISTENING
from tests.helpers import Api, Sink, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

ROOT = Path(__file__).resolve().parents[2]
# What a clone holds beyond the sources: never copied into the package build.
NOT_SOURCES = shutil.ignore_patterns(
    ".git", ".venv", "build", "*.egg-info", "__pycache__", ".*_cache", ".hypothesis", ".schemathesis", "*.db*"
)


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtualenv with the package and its sentry extra installed from a copy of this tree."""
    where = tmp_path_factory.mktemp("install")
    source = where / "source"
    shutil.copytree(ROOT, source, ignore=NOT_SOURCES)
    venv = where / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    done = subprocess.run(
        [str(venv / "bin" / "pip"), "install", "-q", "--disable-pip-version-check", f"{source}[sentry]"],
        capture_output=True,
        text=True,
        timeout=540,
    )
    assert done.returncode == 0, done.stderr
    return venv


def only(venv: Path, home: Path, **settings: str) -> dict[str, str]:
    """An environment with nothing but a PATH, a HOME and the given veggiecron settings."""
    return {"PATH": f"{venv / 'bin'}:/usr/bin:/bin", "HOME": str(home), "LANG": "C.UTF-8", **settings}


async def serve(venv: Path, cwd: Path, env: dict[str, str], log: Path) -> tuple[asyncio.subprocess.Process, int]:
    with log.open("w") as out:
        process = await asyncio.create_subprocess_exec(
            str(venv / "bin" / "veggiecron"), "serve", cwd=cwd, env=env, stdout=out, stderr=out
        )

    def port() -> int | None:
        if process.returncode is not None:
            raise AssertionError(log.read_text())
        found = LISTENING.search(log.read_text())
        return int(found.group(1)) if found else None

    return process, await wait_for(port, timeout=30)


async def test_installed_command_serves_from_an_empty_directory_with_environment_only(
    venv: Path, tmp_path: Path, sink: Sink
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    env = only(
        venv,
        tmp_path,
        VEGGIECRON_PORT="0",
        VEGGIECRON_DATABASE="sqlite:///vc.db",
        VEGGIECRON_APP__KEY="installed-test-key-0123456789",
        VEGGIECRON_SECURITY__BCRYPT_ROUNDS="4",
        VEGGIECRON_LOGGING__FORMAT="json",
    )
    process, port = await serve(venv, empty, env, tmp_path / "server.log")
    try:
        async with aiohttp.ClientSession() as session:
            api = Api(f"http://127.0.0.1:{port}", session)
            await api.register_and_login()
            await api.create_job("beat", sink.url + "/beat", schedule="every 1 seconds")
            await wait_for(lambda: len(sink.paths("/beat")) >= 2, timeout=10)
            async with session.get(f"http://127.0.0.1:{port}/ui/login") as response:
                assert response.status == 200 and "htmx.min.js" in await response.text()
            async with session.get(f"http://127.0.0.1:{port}/ui/static/htmx.min.js") as response:
                assert response.status == 200
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), timeout=15) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert (empty / "vc.db").exists()
    log = (tmp_path / "server.log").read_text()
    assert '"message":"stopped cleanly"' in log and "Traceback" not in log


async def test_the_sentry_extra_reports_unexpected_errors(venv: Path, tmp_path: Path, sink: Sink) -> None:
    """SCHEDULER_SENTRY_DSN, as Seed sets it, sends ERROR records to a (local) Sentry."""
    dsn = sink.url.replace("http://", "http://public-key@") + "/1"
    env = only(
        venv, tmp_path, SCHEDULER_SENTRY_DSN=dsn, VEGGIECRON_PORT="0", VEGGIECRON_DATABASE=str(tmp_path / "s.db")
    )
    process, _port = await serve(venv, tmp_path, env, tmp_path / "server.log")
    process.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(process.wait(), timeout=15) == 0
    assert "unexpected errors are reported to Sentry" in (tmp_path / "server.log").read_text()

    script = (
        "import logging, sentry_sdk\n"
        "from veggiecron.config_layers import load_settings\n"
        "from veggiecron.logs import configure_logging, start_error_reporting\n"
        "config = load_settings().config\n"
        "configure_logging(config)\n"
        "assert start_error_reporting(config)\n"
        "logging.getLogger('veggiecron.scheduler').error('an unexpected failure in job %s', 'sync')\n"
        "sentry_sdk.flush(10)\n"
    )
    reporter = await asyncio.create_subprocess_exec(
        str(venv / "bin" / "python"), "-c", script, cwd=tmp_path, env=env, stderr=asyncio.subprocess.PIPE
    )
    _out, err = await asyncio.wait_for(reporter.communicate(), timeout=60)
    assert reporter.returncode == 0, err.decode()

    def envelopes() -> list[bytes]:
        bodies = []
        for hit in sink.hits:
            if hit.path == "/api/1/envelope/":
                body = hit.body
                bodies.append(gzip.decompress(body) if body[:2] == b"\x1f\x8b" else body)
        return bodies

    await wait_for(lambda: any(b"an unexpected failure in job sync" in body for body in envelopes()), timeout=10)


def test_the_package_holds_the_code_not_the_tests(venv: Path) -> None:
    site = next((venv / "lib").glob("python3*/site-packages"))
    assert (site / "veggiecron" / "cli.py").exists()
    # The dashboard's templates and static files, htmx with its licence.
    for part in ("templates/jobs.html", "static/htmx.min.js", "static/htmx.LICENSE", "static/app.css"):
        assert (site / "veggiecron" / "ui" / part).exists(), part
    assert not (site / "tests").exists() and not (site / "bench").exists()
    assert os.access(venv / "bin" / "veggiecron", os.X_OK)
