"""A job type from outside the package: found through the veggiecron.job_types entry points,
created over the API, fired by the scheduler, stored in SQLite and in PostgreSQL, and shown in
the run history and the published contract.

The type lives in tests/plugins (memory_jobtype.py and its dist-info): the server is started with
that directory on its PYTHONPATH, nothing else changes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.daemon import Daemon
from tests.helpers import Api, assert_error, wait_for
from tests.postgres import PostgresServer
from tests.ui.client import Dashboard

pytestmark = pytest.mark.slow

PLUGINS = str(Path(__file__).resolve().parents[1] / "plugins")


async def ok_runs(api: Api, name: str) -> list[dict[str, object]]:
    status, body = await api.call("GET", f"/job/{name}/runs")
    assert status == 200, body
    return [run for run in body["data"]["runs"] if run["outcome"] == "ok"]


@pytest.fixture(params=["sqlite", "postgresql"])
async def database(request: pytest.FixtureRequest) -> AsyncIterator[dict[str, Any]]:
    """The daemon's database setting: its own SQLite file, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield {}
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    url = await server.create_database()
    yield {"database": url}
    await server.drop_database(url)


async def test_a_plugin_job_type_runs_on_schedule_and_shows_in_the_history(
    database: dict[str, Any], tmp_path: Path, session: aiohttp.ClientSession
) -> None:
    daemon = Daemon(tmp_path, python_path=(PLUGINS,), **database)
    await daemon.start()
    try:
        api = Api(f"http://127.0.0.1:{daemon.port}", session)
        await api.register_and_login()
        status, body = await api.call(
            "POST",
            "/job",
            json={"name": "note", "type": "memory", "data": {"note": "hi"}, "schedule": "every 1 seconds"},
        )
        assert status == 201, body
        assert body["data"]["type"] == "memory" and body["data"]["data"] == {"note": "hi"}

        async def two_ok_runs() -> list[dict[str, object]] | None:
            runs = await ok_runs(api, "note")
            return runs if len(runs) >= 2 else None

        runs = await wait_for(two_ok_runs, timeout=15, interval=0.2)
        assert all(str(run["response_excerpt"]).startswith("memory call ") for run in runs)
        assert all(str(run["response_excerpt"]).endswith(": hi") for run in runs)

        # A form post's bracketed data is read by the job's own type.
        status, body = await api.call(
            "POST",
            "/job",
            data={
                "name": "form",
                "type": "memory",
                "data[note]": "by form",
                "data[fail]": "true",
                "schedule": "every 1 hours",
            },
        )
        assert status == 201, body
        assert body["data"]["data"] == {"note": "by form", "fail": True}

        # The type validates its own data, and the error names the field.
        status, body = await api.call(
            "POST", "/job", json={"name": "bad", "type": "memory", "data": {"note": 5}, "schedule": "every 1 hours"}
        )
        assert_error(status, body, 400, "data.note")
        status, body = await api.call(
            "POST", "/job", json={"name": "bad", "type": "ftp", "data": {}, "schedule": "every 1 hours"}
        )
        assert_error(status, body, 400, "type")
        assert "memory" in body["description"] and "http" in body["description"]

        # The published contract describes the type's data beside the http type's.
        async with session.get(f"{api.base}/openapi.json") as response:
            doc = await response.json()
        schemas = doc["components"]["schemas"]
        assert schemas["MemoryJobData"]["required"] == ["note"]
        assert set(schemas["JobCreate"]["properties"]["type"]["enum"]) == {"http", "memory"}
        data = schemas["JobCreate"]["properties"]["data"]
        assert {"$ref": "#/components/schemas/MemoryJobData"} in data["oneOf"]
    finally:
        await daemon.close()


async def test_the_dashboard_form_shows_and_saves_the_types_own_fields(
    tmp_path: Path, session: aiohttp.ClientSession
) -> None:
    daemon = Daemon(tmp_path, python_path=(PLUGINS,))
    await daemon.start()
    dashboard = Dashboard(f"http://127.0.0.1:{daemon.port}")
    try:
        api = Api(f"http://127.0.0.1:{daemon.port}", session)
        await api.register_and_login()
        assert (await dashboard.login("alice", "s3cret-pass")).status == 303
        page = await dashboard.get("/ui/new", type="memory")
        assert page.status == 200
        assert 'id="note"' in page.text and 'id="url"' not in page.text  # the http type's fields are http's
        page = await dashboard.post(
            "/ui/new", {"type": "memory", "name": "n", "note": "from the form", "schedule": "every 1 hours"}
        )
        assert page.status == 303, page.text
        status, body = await api.call("GET", "/job/n")
        assert status == 200 and body["data"]["type"] == "memory"
        assert body["data"]["data"] == {"note": "from the form"}
        page = await dashboard.get("/ui/jobs/n")
        assert page.status == 200 and "<dt>Note</dt><dd>from the form</dd>" in page.text
        assert "<dt>URL</dt>" not in page.text
        page = await dashboard.get("/ui/jobs/n/edit")
        assert page.status == 200 and 'value="from the form"' in page.text
        page = await dashboard.post("/ui/jobs/n/edit", {"note": "", "schedule": "every 1 hours"})
        assert page.status == 400 and "data.note" in page.error_beside("note")
    finally:
        await dashboard.close()
        await daemon.close()
