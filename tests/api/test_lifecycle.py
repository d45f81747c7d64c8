"""Stopping the server: runs in flight finish within the grace period and are recorded."""

from __future__ import annotations

import sqlite3

import aiohttp

from tests.helpers import Api, Sink, start_server, test_config, wait_for
from veggiecron.app import Server


async def test_stop_lets_runs_in_flight_finish_and_records_them(db_file: str, sink: Sink) -> None:
    server = await start_server(test_config(db_file))
    stopped = False
    try:
        async with aiohttp.ClientSession() as session:
            api = Api(f"http://127.0.0.1:{server.port}", session)
            await api.register_and_login()
            await api.create_job("slow", sink.url + "/slow", schedule="every 1 hours")
            sink.delay = 0.8
            status, _ = await api.call("POST", "/job/slow/run")
            assert status == 202
            await wait_for(lambda: sink.paths("/slow"), timeout=3)
        await server.stop()  # the run is still waiting on the sink
        stopped = True
    finally:
        if not stopped:
            await server.stop()
    with sqlite3.connect(db_file) as db:
        rows = db.execute("SELECT outcome, status_code FROM runs").fetchall()
    assert rows == [("ok", 200)]


async def test_health_reports_a_dead_scheduler(server: Server, api: Api) -> None:
    status, body = await api.call("GET", "/health")
    assert status == 200 and body["data"]["scheduler"] == "ok"
    assert server.scheduler is not None
    await server.scheduler.stop(grace=0)
    status, body = await api.call("GET", "/health")
    assert status == 503 and body["data"]["scheduler"] == "stopped"
