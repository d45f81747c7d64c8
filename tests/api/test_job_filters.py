"""Tags on jobs, and GET /job's filters: tag, q, state and failing."""

from __future__ import annotations

from tests.helpers import Api, Sink, assert_error, wait_for


async def listed(api: Api, **params: object) -> list[str]:
    status, body = await api.call("GET", "/job", params={k: str(v) for k, v in params.items()})
    assert status == 200, body
    assert body["data"]["count"] == len(body["data"]["jobs"])
    return [job["name"] for job in body["data"]["jobs"]]


async def test_tags_are_set_at_creation_and_by_patch(user_api: Api, sink: Sink) -> None:
    job = await user_api.create_job("a", sink.url, "every 1 hours", tags=["billing", "nightly", "billing"])
    assert job["tags"] == ["billing", "nightly"]  # a repeated tag is kept once
    status, body = await user_api.call(
        "POST",
        "/job",
        data={"name": "form", "data": f'{{"url": "{sink.url}"}}', "schedule": "every 1 hours", "tags": "ops, eu"},
    )
    assert status == 201 and body["data"]["tags"] == ["ops", "eu"], body
    status, body = await user_api.call("PATCH", "/job/a", json={"tags": ["ops"]})
    assert status == 200 and body["data"]["tags"] == ["ops"]
    status, body = await user_api.call("PATCH", "/job/a", json={"schedule": "every 2 hours"})
    assert body["data"]["tags"] == ["ops"]  # untouched when not sent
    status, body = await user_api.call("GET", "/job/a")
    assert body["data"]["tags"] == ["ops"]
    await user_api.create_job("untagged", sink.url, "every 1 hours")
    assert await listed(user_api, tag="ops") == ["a", "form"]


async def test_bad_tags_are_refused_naming_the_field(user_api: Api, sink: Sink) -> None:
    for tags in (["has space"], "a,,b/c", [1], ["x" * 33], [f"t{i}" for i in range(17)], {"a": 1}):
        status, body = await user_api.call(
            "POST", "/job", json={"name": "bad", "data": {"url": sink.url}, "schedule": "every 1 hours", "tags": tags}
        )
        assert_error(status, body, 400, "tags")
    assert await listed(user_api) == []


async def test_filters_by_tag_text_state_and_failing(user_api: Api, sink: Sink) -> None:
    await user_api.create_job("report-nightly", sink.url + "/r", "every 1 hours", tags=["billing"])
    await user_api.create_job("ping", sink.url + "/health", "every 1 hours", tags=["ops"])
    await user_api.create_job("off", sink.url + "/off", "every 1 hours", enabled=False, tags=["ops"])
    sink.status = 500
    await user_api.create_job("broken", sink.url + "/broken", "every 1 hours")
    status, _ = await user_api.call("POST", "/job/broken/run")
    assert status == 202

    async def broken_failed() -> bool:
        return await listed(user_api, failing="true") == ["broken"]

    await wait_for(broken_failed)
    assert await listed(user_api, tag="ops") == ["ping", "off"]
    assert await listed(user_api, q="HEALTH") == ["ping"]
    assert await listed(user_api, q="report") == ["report-nightly"]
    assert await listed(user_api, state="disabled") == ["off"]
    assert await listed(user_api, state="scheduled", tag="ops") == ["ping"]
    assert await listed(user_api, failing="false") == ["report-nightly", "ping", "off", "broken"]
    status, body = await user_api.call("GET", "/job", params={"tag": ["ops", "billing"]})  # every tag
    assert body["data"]["count"] == 0


async def test_bad_filters_are_400s_naming_the_parameter(user_api: Api) -> None:
    for params, field in (
        ({"state": "sleeping"}, "state"),
        ({"state": "\x17"}, "state"),  # tornado reads control characters as spaces
        ({"failing": "maybe"}, "failing"),
        ({"tag": "no spaces"}, "tag"),
        ({"q": "x" * 201}, "q"),
    ):
        status, body = await user_api.call("GET", "/job", params=params)
        assert_error(status, body, 400, field)


async def test_another_users_jobs_never_match(api: Api, sink: Sink) -> None:
    await api.register_and_login("alice")
    await api.create_job("shared-name", sink.url, "every 1 hours", tags=["t"])
    alice = api.token
    await api.register_and_login("bob")
    assert await listed(api, tag="t") == []
    assert await listed(api, q="shared") == []
    api.token = alice
    assert await listed(api, tag="t") == ["shared-name"]
