"""Every outbound target a client sends is one URL validator's: a job's data.url and notify_url, a Seed
schedule's endpoint, a webhook's target. Not a URL: a 400 naming the field, and nothing stored."""

from __future__ import annotations

from typing import Any

import pytest

from tests.helpers import Api

NOT_URLS = ["https://\U000c0d2e\x0f\u00a9h", "https://\U000c0d2e", "http://bücher.example/", "http://h.example:0/"]


async def seed(api: Api, method: str, path: str, body: Any) -> tuple[int, dict[str, Any]]:
    return await api.call(method, path, json=body, headers={"Authorization": f"Token {api.token}"})


@pytest.mark.parametrize("url", NOT_URLS)
async def test_a_seed_endpoint_that_is_not_a_url_is_a_400(user_api: Api, url: str) -> None:
    body = {"interval_definition": "1 minutes", "endpoint": url, "payload": {}}
    status, answer = await seed(user_api, "POST", "/api/v1/schedule/", body)
    assert status == 400 and list(answer) == ["endpoint"], answer
    status, answer = await seed(user_api, "GET", "/api/v1/schedule/", None)
    assert answer["count"] == 0


@pytest.mark.parametrize("url", NOT_URLS)
async def test_a_webhook_target_that_is_not_a_url_is_a_400_on_every_write(
    user_api: Api, sink_url: str, url: str
) -> None:
    status, hook = await seed(user_api, "POST", "/api/v1/webhook/", {"event": "schedule.added", "target": sink_url})
    assert status == 201, hook
    for method, path in (("POST", "/api/v1/webhook/"), ("PUT", f"/api/v1/webhook/{hook['id']}/")):
        status, answer = await seed(user_api, method, path, {"event": "schedule.added", "target": url})
        assert status == 400 and list(answer) == ["target"], (method, answer)
    status, answer = await seed(user_api, "PATCH", f"/api/v1/webhook/{hook['id']}/", {"target": url})
    assert status == 400 and list(answer) == ["target"], answer
    status, answer = await seed(user_api, "GET", "/api/v1/webhook/", None)
    assert [h["target"] for h in answer["results"]] == [sink_url]


@pytest.mark.parametrize("url", NOT_URLS)
async def test_a_job_url_or_notify_url_that_is_not_a_url_is_a_400(user_api: Api, sink_url: str, url: str) -> None:
    for body, field in (
        ({"name": "j", "data": {"url": url}, "schedule": "every 1 hours"}, "data.url"),
        ({"name": "j", "data": {"url": sink_url}, "schedule": "every 1 hours", "notify_url": url}, "notify_url"),
    ):
        status, answer = await user_api.call("POST", "/job", json=body)
        assert status == 400 and answer["data"]["field"] == field, answer
    await user_api.create_job("j", sink_url, schedule="every 1 hours")
    status, answer = await user_api.call("PATCH", "/job/j", json={"notify_url": url})
    assert status == 400 and answer["data"]["field"] == "notify_url", answer


async def test_the_idna_form_of_a_unicode_host_is_suggested(user_api: Api) -> None:
    body = {"name": "j", "data": {"url": "http://bücher.example/"}, "schedule": "every 1 hours"}
    status, answer = await user_api.call("POST", "/job", json=body)
    assert status == 400 and "xn--bcher-kva.example" in answer["description"], answer


@pytest.fixture
def sink_url() -> str:
    return "http://127.0.0.1:9/hook"
