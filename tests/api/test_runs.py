"""Runs over the real API and real sinks: /job/<name>/run, /job/<name>/runs and what the http runner sends."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import aiohttp
import pytest

from tests.helpers import Api, Hit, Sink, assert_error, sample, start_server, start_sink, test_config, wait_for
from veggiecron.app import Server
from veggiecron.config import HttpClientSection

RUN_FIELDS = {
    "id",
    "due_at",
    "started_at",
    "lateness_ms",
    "duration_ms",
    "outcome",
    "attempts",
    "status_code",
    "error",
    "response_excerpt",
    "pool_wait_ms",
}


@pytest.fixture
async def slow_sink() -> AsyncIterator[Sink]:
    """A sink like `sink`, but its teardown does not wait for handlers still sleeping in `delay`."""
    sink, runner = await start_sink(shutdown_timeout=0.1)
    yield sink
    sink.delay = 0
    await runner.cleanup()


async def runs_of(api: Api, name: str, **params: Any) -> dict[str, Any]:
    status, body = await api.call("GET", f"/job/{name}/runs", params=params or None)
    assert status == 200, body
    data: dict[str, Any] = body["data"]
    return data


async def wait_for_runs(api: Api, name: str, count: int = 1, timeout: float = 5.0) -> list[dict[str, Any]]:
    async def enough() -> list[dict[str, Any]] | None:
        data = await runs_of(api, name)
        return data["runs"] if data["count"] >= count else None

    runs: list[dict[str, Any]] = await wait_for(enough, timeout=timeout)
    return runs


async def run_now(api: Api, name: str) -> dict[str, Any]:
    status, body = await api.call("POST", f"/job/{name}/run")
    assert status == 202, body
    assert body["id"] == "success"
    data: dict[str, Any] = body["data"]
    return data


async def run_once(api: Api, name: str, data: dict[str, Any]) -> dict[str, Any]:
    """Create an hourly job with these data, run it now, and answer that run once it has finished."""
    await api.create_job(name, "", schedule="every 1 hours", data=data)
    await run_now(api, name)
    return (await wait_for_runs(api, name))[0]


def scheduled_at(hit: Hit) -> float:
    moment = datetime.fromisoformat(hit.headers["X-Veggiecron-Scheduled-At"])
    assert moment.tzinfo is not None, hit.headers["X-Veggiecron-Scheduled-At"]
    return moment.timestamp()


# run now


async def test_run_now_fires_a_far_future_job_promptly(user_api: Api, sink: Sink) -> None:
    created = await user_api.create_job("hourly", sink.url + "/hourly", schedule="every 1 hours")
    before = time.time()
    data = await run_now(user_api, "hourly")
    assert data["name"] == "hourly"
    assert before - 1 <= data["due_at"] <= time.time() + 1
    await wait_for(lambda: sink.paths("/hourly"), timeout=2)
    assert sink.paths("/hourly")[0].arrived_at - before < 2
    runs = await wait_for_runs(user_api, "hourly")
    assert runs[0]["outcome"] == "ok"
    assert runs[0]["due_at"] == pytest.approx(data["due_at"], abs=1e-3)
    # The schedule is untouched by a manual run.
    status, body = await user_api.call("GET", "/job/hourly")
    assert body["data"]["next_run"] == created["next_run"]
    assert body["data"]["state"] == "scheduled"


async def test_run_now_works_for_a_disabled_job(user_api: Api, sink: Sink) -> None:
    await user_api.create_job("off", sink.url + "/off", schedule="every 1 hours", enabled=False)
    await run_now(user_api, "off")
    await wait_for(lambda: sink.paths("/off"), timeout=2)
    status, body = await user_api.call("GET", "/job/off")
    assert body["data"]["state"] == "disabled"


async def test_run_now_on_an_unknown_job_is_404(user_api: Api) -> None:
    status, body = await user_api.call("POST", "/job/nope/run")
    assert_error(status, body, 404)


# run history


async def test_runs_page_newest_first_with_every_field(user_api: Api, sink: Sink) -> None:
    sink.body = b"pong from the sink"
    await user_api.create_job("hist", sink.url + "/hist", schedule="every 1 hours")
    dues = []
    for expected in (1, 2, 3):
        dues.append((await run_now(user_api, "hist"))["due_at"])
        await wait_for_runs(user_api, "hist", expected)
    data = await runs_of(user_api, "hist")
    assert data["count"] == 3 and data["offset"] == 0
    runs = data["runs"]
    assert [r["due_at"] for r in runs] == pytest.approx(sorted(dues, reverse=True), abs=1e-3)
    ids = [r["id"] for r in runs]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == 3
    for run in runs:
        assert set(run) >= RUN_FIELDS
        assert run["outcome"] == "ok"
        assert run["attempts"] == 1
        assert run["status_code"] == 200
        assert run["error"] is None
        assert run["response_excerpt"] == "pong from the sink"
        assert run["started_at"] >= run["due_at"] - 0.01
        assert run["lateness_ms"] == pytest.approx((run["started_at"] - run["due_at"]) * 1000, abs=1)
        assert 0 <= run["lateness_ms"] < 1000
        assert 0 <= run["duration_ms"] < 5000
    first_page = await runs_of(user_api, "hist", limit=2)
    assert first_page["count"] == 3 and first_page["limit"] == 2
    assert [r["id"] for r in first_page["runs"]] == ids[:2]
    second_page = await runs_of(user_api, "hist", limit=2, offset=2)
    assert second_page["count"] == 3 and second_page["offset"] == 2
    assert [r["id"] for r in second_page["runs"]] == ids[2:]
    # The job view shows the same recent runs.
    status, body = await user_api.call("GET", "/job/hist")
    assert [r["id"] for r in body["data"]["runs"]] == ids


@pytest.mark.parametrize(("field", "value"), [("limit", "0"), ("limit", "x"), ("limit", "501"), ("offset", "-1")])
async def test_runs_reject_a_bad_page(user_api: Api, sink: Sink, field: str, value: str) -> None:
    await user_api.create_job("hist", sink.url + "/hist", schedule="every 1 hours")
    status, body = await user_api.call("GET", "/job/hist/runs", params={field: value})
    assert_error(status, body, 400, field)


async def test_runs_of_an_unknown_job_is_404(user_api: Api) -> None:
    status, body = await user_api.call("GET", "/job/nope/runs")
    assert_error(status, body, 404)


async def test_scheduled_runs_are_recorded_at_their_slots(user_api: Api, sink: Sink) -> None:
    created = await user_api.create_job("tick", sink.url + "/tick", schedule="every 1 seconds")
    await wait_for(lambda: len(sink.paths("/tick")) >= 2, timeout=4)
    hits = sink.paths("/tick")
    slots = [scheduled_at(h) for h in hits]
    # The first request is for the first next_run the API announced; slots are one second apart.
    assert slots[0] == pytest.approx(created["next_run"], abs=1e-3)
    assert slots[1] - slots[0] == pytest.approx(1.0, abs=1e-3)
    assert hits[0].headers["Idempotency-Key"] != hits[1].headers["Idempotency-Key"]
    runs = await wait_for_runs(user_api, "tick", 2)
    assert {round(r["due_at"], 3) for r in runs[-2:]} == {round(s, 3) for s in slots[:2]}
    assert all(r["outcome"] == "ok" for r in runs)


# what the runner sends


async def test_verb_headers_and_body_arrive_as_configured(user_api: Api, sink: Sink) -> None:
    data = {
        "url": sink.url + "/post?x=1",
        "verb": "post",
        "headers": {"X-Custom": "yes", "Content-Type": "text/plain"},
        "body": "hello sink",
    }
    job = await user_api.create_job("poster", "", schedule="every 1 hours", data=data)
    await run_now(user_api, "poster")
    hit = (await wait_for(lambda: sink.paths("/post"), timeout=3))[0]
    assert hit.method == "POST"
    assert hit.headers["X-Custom"] == "yes"
    assert hit.headers["Content-Type"] == "text/plain"
    assert hit.body == b"hello sink"
    assert hit.headers["X-Veggiecron-Job"].isdigit()
    assert job["data"]["verb"] == "post"


async def test_a_body_without_a_content_type_is_sent_without_one(user_api: Api, sink: Sink) -> None:
    data = {"url": sink.url + "/plain", "verb": "POST", "body": "raw bytes"}
    await user_api.create_job("plain", "", schedule="every 1 hours", data=data)
    await run_now(user_api, "plain")
    hit = (await wait_for(lambda: sink.paths("/plain"), timeout=3))[0]
    assert hit.body == b"raw bytes"
    assert "Content-Type" not in hit.headers  # not a guessed application/octet-stream


async def test_json_is_sent_with_a_json_content_type(user_api: Api, sink: Sink) -> None:
    payload = {"a": 1, "nested": {"list": [1, "two", None]}, "ok": True}
    await user_api.create_job(
        "jsoner", "", schedule="every 1 hours", data={"url": sink.url + "/json", "verb": "PUT", "json": payload}
    )
    await run_now(user_api, "jsoner")
    hit = (await wait_for(lambda: sink.paths("/json"), timeout=3))[0]
    assert hit.method == "PUT"
    assert hit.headers["Content-Type"].split(";")[0] == "application/json"
    assert json.loads(hit.body) == payload


async def test_a_get_sends_no_body(user_api: Api, sink: Sink) -> None:
    await user_api.create_job("getter", sink.url + "/get", schedule="every 1 hours")
    await run_now(user_api, "getter")
    hit = (await wait_for(lambda: sink.paths("/get"), timeout=3))[0]
    assert hit.method == "GET"
    assert hit.body == b""


async def test_every_request_carries_the_veggiecron_headers(user_api: Api, sink: Sink) -> None:
    await user_api.create_job("marked", sink.url + "/marked", schedule="every 1 hours")
    other = await user_api.create_job("other", sink.url + "/other", schedule="every 1 hours")
    first = await run_now(user_api, "marked")
    await wait_for(lambda: sink.paths("/marked"), timeout=3)
    second = await run_now(user_api, "marked")
    await run_now(user_api, "other")
    await wait_for(lambda: len(sink.paths("/marked")) == 2 and sink.paths("/other"), timeout=3)
    one, two = sink.paths("/marked")
    for hit, run in ((one, first), (two, second)):
        assert hit.headers["X-Veggiecron-Job"].isdigit()
        assert scheduled_at(hit) == pytest.approx(run["due_at"], abs=1e-3)
        assert hit.headers["Idempotency-Key"]
    assert one.headers["X-Veggiecron-Job"] == two.headers["X-Veggiecron-Job"]
    assert sink.paths("/other")[0].headers["X-Veggiecron-Job"] != one.headers["X-Veggiecron-Job"]
    assert one.headers["Idempotency-Key"] != two.headers["Idempotency-Key"]
    assert other["name"] == "other"


async def test_job_headers_cannot_replace_the_veggiecron_headers(user_api: Api, sink: Sink) -> None:
    headers = {
        "idempotency-key": "mine",
        "x-veggiecron-job": "999",
        "X-Veggiecron-Scheduled-At": "never",
        "X-Other": "kept",
    }
    job = await user_api.create_job(
        "spoof", "", schedule="every 1 hours", data={"url": sink.url + "/spoof", "headers": headers}
    )
    assert job["data"]["headers"] == headers
    data = await run_now(user_api, "spoof")
    hit = (await wait_for(lambda: sink.paths("/spoof"), timeout=3))[0]
    assert hit.headers["X-Other"] == "kept"
    assert hit.headers["X-Veggiecron-Job"] != "999" and hit.headers["X-Veggiecron-Job"].isdigit()
    assert hit.headers["Idempotency-Key"] != "mine"
    assert scheduled_at(hit) == pytest.approx(data["due_at"], abs=1e-3)


async def test_clones_send_several_requests_per_run(user_api: Api, sink: Sink) -> None:
    await user_api.create_job(
        "clones", "", schedule="every 1 hours", data={"url": sink.url + "/clone", "number_of_clones": 3}
    )
    await run_now(user_api, "clones")
    runs = await wait_for_runs(user_api, "clones")
    hits = sink.paths("/clone")
    assert len(hits) == 3
    assert len({h.headers["Idempotency-Key"] for h in hits}) == 1
    assert runs[0]["outcome"] == "ok" and runs[0]["status_code"] == 200
    # A second run sends three more, under a new key.
    await run_now(user_api, "clones")
    await wait_for_runs(user_api, "clones", 2)
    assert len(sink.paths("/clone")) == 6
    assert len({h.headers["Idempotency-Key"] for h in sink.paths("/clone")}) == 2


# retries, status codes, timeouts


async def test_retries_until_the_sink_recovers(user_api: Api, sink: Sink) -> None:
    sink.fail_first = 2
    run = await run_once(user_api, "flaky", {"url": sink.url + "/flaky", "retries": 2})
    assert run["outcome"] == "ok"
    assert run["attempts"] == 3
    assert run["status_code"] == 200
    assert run["error"] is None
    hits = sink.paths("/flaky")
    assert len(hits) == 3
    assert len({h.headers["Idempotency-Key"] for h in hits}) == 1


async def test_retries_exhausted_fail_the_run(user_api: Api, sink: Sink) -> None:
    sink.fail_first = 5
    run = await run_once(user_api, "flaky", {"url": sink.url + "/flaky", "retries": 1})
    assert run["outcome"] == "failed"
    assert run["attempts"] == 2
    assert run["status_code"] == 503
    assert "503" in run["error"]
    assert len(sink.paths("/flaky")) == 2


async def test_a_500_without_retries_fails(user_api: Api, sink: Sink) -> None:
    sink.status = 500
    sink.body = b"boom"
    run = await run_once(user_api, "broken", {"url": sink.url + "/broken", "retries": 0})
    assert run["outcome"] == "failed"
    assert run["status_code"] == 500
    assert run["attempts"] == 1
    assert "500" in run["error"]
    assert run["response_excerpt"] == "boom"
    assert len(sink.paths("/broken")) == 1


async def test_success_codes_can_make_a_500_ok(user_api: Api, sink: Sink) -> None:
    sink.status = 500
    run = await run_once(user_api, "fine", {"url": sink.url + "/fine", "success_codes": [500]})
    assert run["outcome"] == "ok"
    assert run["status_code"] == 500
    assert run["error"] is None


async def test_success_codes_exclude_the_default_2xx(user_api: Api, sink: Sink) -> None:
    run = await run_once(user_api, "strict", {"url": sink.url + "/strict", "success_codes": [204, "3xx"]})
    assert run["outcome"] == "failed"
    assert run["status_code"] == 200


async def test_a_slow_sink_times_out(user_api: Api, slow_sink: Sink) -> None:
    slow_sink.delay = 2
    await user_api.create_job(
        "slow", "", schedule="every 1 hours", data={"url": slow_sink.url + "/slow", "timeout": 0.3}
    )
    before = time.monotonic()
    await run_now(user_api, "slow")
    run = (await wait_for_runs(user_api, "slow", timeout=3))[0]
    assert time.monotonic() - before < 1.5
    assert run["outcome"] == "failed"
    assert "timeout" in run["error"].lower()
    assert run["status_code"] is None
    assert 250 <= run["duration_ms"] < 1500


async def test_connection_refused_fails_the_run_and_the_server_keeps_serving(user_api: Api, sink: Sink) -> None:
    run = await run_once(user_api, "refused", {"url": "http://127.0.0.1:1/"})
    assert run["outcome"] == "failed"
    assert run["status_code"] is None
    assert run["error"]
    assert run["attempts"] == 1
    status, body = await user_api.call("GET", "/health")
    assert status == 200 and body["data"]["scheduler"] == "ok"
    # Other jobs still run.
    await user_api.create_job("alive", sink.url + "/alive", schedule="every 1 hours")
    await run_now(user_api, "alive")
    await wait_for(lambda: sink.paths("/alive"), timeout=3)


# overlapping runs


async def test_without_shadows_an_overlapping_slot_is_skipped(user_api: Api, slow_sink: Sink) -> None:
    slow_sink.delay = 2.5
    await user_api.create_job("busy", "", schedule="every 1 seconds", data={"url": slow_sink.url + "/busy"})

    async def skipped() -> list[dict[str, Any]]:
        return [r for r in (await runs_of(user_api, "busy"))["runs"] if r["outcome"] == "skipped"]

    runs = await wait_for(skipped, timeout=6)  # recorded when the run in flight ends
    run = runs[0]
    assert run["attempts"] == 0
    assert run["status_code"] is None
    assert run["error"] and "skip" in run["error"]
    hits = slow_sink.paths("/busy")
    assert scheduled_at(hits[0]) < run["due_at"] < hits[0].arrived_at + slow_sink.delay
    gaps = [b.arrived_at - a.arrived_at for a, b in zip(hits, hits[1:], strict=False)]
    assert all(gap >= slow_sink.delay - 0.2 for gap in gaps), f"requests overlapped: {gaps}"


async def test_with_shadows_overlapping_requests_are_sent(user_api: Api, slow_sink: Sink) -> None:
    slow_sink.delay = 2.5
    await user_api.create_job(
        "shadow", "", schedule="every 1 seconds", data={"url": slow_sink.url + "/shadow", "enable_shadows": True}
    )
    await wait_for(lambda: len(slow_sink.paths("/shadow")) >= 2, timeout=4)
    first, second = slow_sink.paths("/shadow")[:2]
    assert second.arrived_at - first.arrived_at < slow_sink.delay, "the second request waited for the first"
    # Consecutive slots were both sent: the second was not skipped for the first still in flight.
    assert scheduled_at(second) - scheduled_at(first) == pytest.approx(1.0, abs=1e-3)
    assert all(r["outcome"] != "skipped" for r in (await runs_of(user_api, "shadow"))["runs"])


async def test_runs_of_one_job_do_not_block_another(user_api: Api, slow_sink: Sink, sink: Sink) -> None:
    slow_sink.delay = 2.5
    await user_api.create_job("slowpoke", slow_sink.url + "/slowpoke", schedule="every 1 hours")
    await user_api.create_job("quick", sink.url + "/quick", schedule="every 1 hours")
    await run_now(user_api, "slowpoke")
    await wait_for(lambda: slow_sink.paths("/slowpoke"), timeout=2)
    before = time.monotonic()
    await run_now(user_api, "quick")
    await wait_for_runs(user_api, "quick", timeout=2)
    assert time.monotonic() - before < 1.5
    assert sink.paths("/quick")


async def test_health_counts_runs_in_flight(user_api: Api, slow_sink: Sink, server: Server) -> None:
    slow_sink.delay = 2.5
    await user_api.create_job("inflight", slow_sink.url + "/inflight", schedule="every 1 hours")
    await run_now(user_api, "inflight")
    await wait_for(lambda: slow_sink.paths("/inflight"), timeout=2)
    status, body = await user_api.call("GET", "/health")
    assert status == 200
    assert body["data"]["runs_in_flight"] >= 1
    assert body["data"]["scheduled_jobs"] >= 1


# pool wait: a run starts when its request is handed to a connection


@pytest.mark.parametrize("pool", ["per target", "in all"])
async def test_a_run_waiting_for_a_connection_is_late_by_that_wait(db_file: str, pool: str) -> None:
    """Two runs due together, one connection for them: the second waits for the first.

    Its wait is its own field and part of its lateness; the first one waited for nothing. One
    connection per target makes it wait in its lane; one in all, in the HTTP client.
    """
    one = HttpClientSection(pool_per_host=1) if pool == "per target" else HttpClientSection(pool_size=1)
    server = await start_server(test_config(db_file, http_client=one))
    sinks = [await start_sink(shutdown_timeout=0.1) for _ in range(2)]
    try:
        async with aiohttp.ClientSession() as session:
            api = Api(f"http://127.0.0.1:{server.port}", session)
            await api.register_and_login()
            for (sink, _), name in zip(sinks, ("first", "second"), strict=True):
                sink.delay = 0.4
                url = (sink.url if pool == "in all" else sinks[0][0].url) + "/" + name
                await api.create_job(name, "", schedule="every 1 hours", data={"url": url})
            await asyncio.gather(run_now(api, "first"), run_now(api, "second"))
            runs = [(await wait_for_runs(api, name))[0] for name in ("first", "second")]
            waited, prompt = sorted(runs, key=lambda run: run["pool_wait_ms"], reverse=True)
            assert all(run["outcome"] == "ok" for run in runs), runs
            assert waited["pool_wait_ms"] >= 300, waited
            assert waited["lateness_ms"] >= waited["pool_wait_ms"] - 1, waited
            assert waited["duration_ms"] < 390 + 300, waited  # the wait is not part of its duration
            assert prompt["pool_wait_ms"] < 200, prompt
            reply = await session.get(f"http://127.0.0.1:{server.port}/metrics")
            text = await reply.text()
            assert sample(text, "veggiecron_pool_wait_seconds_count") == 2.0
            assert sample(text, 'veggiecron_pool_wait_seconds_bucket{le="0.25"}') == 1.0
    finally:
        await server.stop()
        for sink, runner in sinks:
            sink.delay = 0
            await runner.cleanup()


async def test_a_run_that_never_reached_a_connection_has_no_pool_wait(user_api: Api) -> None:
    run = await run_once(user_api, "nowhere", {"url": "http://name.invalid/"})
    assert run["outcome"] == "failed"
    assert run["error_class"] == "dns"
    assert run["pool_wait_ms"] is None
