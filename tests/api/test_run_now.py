"""POST /job/<name>/run: a run by hand, on an enabled or a disabled job, answers the run_id its run
shows under in GET /job/<name>/runs."""

from __future__ import annotations

from typing import Any

from tests.helpers import Api, Sink, wait_for


async def runs_of(api: Api, name: str) -> list[dict[str, Any]]:
    status, body = await api.call("GET", f"/job/{name}/runs")
    assert status == 200, body
    return list(body["data"]["runs"])


async def test_run_now_answers_the_run_id_its_run_is_listed_under(user_api: Api, sink: Sink) -> None:
    await user_api.create_job("hourly", sink.url + "/hourly", schedule="every 1 hours")
    status, body = await user_api.call("POST", "/job/hourly/run")
    assert status == 202, body
    run_id = body["data"]["run_id"]
    assert run_id in body["description"] and body["data"]["enabled"] is True
    runs = await wait_for(lambda: runs_of(user_api, "hourly"))
    assert [run["run_id"] for run in runs] == [run_id]
    assert sink.paths("/hourly")[0].headers["Idempotency-Key"] == run_id


async def test_a_disabled_job_runs_by_hand_and_stays_disabled(user_api: Api, sink: Sink) -> None:
    await user_api.create_job("off", sink.url + "/off", schedule="every 1 hours", enabled=False)
    status, body = await user_api.call("POST", "/job/off/run")
    assert status == 202, body
    assert body["data"]["enabled"] is False and "stays disabled" in body["description"]
    runs = await wait_for(lambda: runs_of(user_api, "off"))
    assert runs[0]["run_id"] == body["data"]["run_id"] and runs[0]["outcome"] == "ok"
    status, job = await user_api.call("GET", "/job/off")
    assert job["data"]["state"] == "disabled"
