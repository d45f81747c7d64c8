"""Integer fields take whole numbers in any JSON number form (2, 2.0, 2e0) and refuse fractions clearly."""

from __future__ import annotations

import orjson
import pytest

from tests.helpers import Api, Sink, assert_error, wait_for
from veggiecron.app import Server

# Written by hand: the forms some encoders use for whole numbers (Python would write 2.0 only).
WHOLE_FORMS = ("2.0", "2e0", "2.00", "20E-1")


async def post_raw(api: Api, path: str, body: str, token: str | None = None) -> tuple[int, dict[str, object]]:
    headers = {"Content-Type": "application/json", **api.headers(token)}
    async with api.session.post(api.base + path, data=body.encode(), headers=headers) as response:
        return response.status, orjson.loads(await response.read())


@pytest.mark.parametrize("form", WHOLE_FORMS)
async def test_whole_numbers_written_as_floats_are_accepted_and_used(user_api: Api, sink: Sink, form: str) -> None:
    body = (
        f'{{"name": "two", "schedule": "every hour", "max_catch_up": {form}, "pause_after_failures": {form},'
        f' "data": {{"url": "{sink.url}/two", "number_of_clones": {form}, "retries": {form},'
        f' "retry_on": [409.0], "success_codes": [200.0, "3xx"]}}}}'
    )
    status, answer = await post_raw(user_api, "/job", body)
    assert status == 201, answer
    status, _ = await user_api.call("POST", "/job/two/run")
    assert status == 202
    await wait_for(lambda: len(sink.paths("/two")) == 2)  # two clones


@pytest.mark.parametrize(
    ("field", "body"),
    [
        ("data.number_of_clones", '"number_of_clones": 2.5'),
        ("data.retries", '"retries": 1.5'),
        ("data.retry_on", '"retry_on": [409.5]'),
        ("data.success_codes", '"success_codes": [200.5]'),
    ],
)
async def test_fractions_are_refused_naming_the_field(user_api: Api, field: str, body: str) -> None:
    status, answer = await post_raw(
        user_api, "/job", f'{{"name": "x", "schedule": "every hour", "data": {{"url": "http://127.0.0.1:9/", {body}}}}}'
    )
    assert_error(status, answer, 400, field)
    assert "whole number" in str(answer["description"]), answer
    status, listing = await user_api.call("GET", "/job")
    assert listing["data"]["count"] == 0  # nothing was stored


async def test_seed_frequency_takes_a_whole_float_and_refuses_a_fraction(server: Server, api: Api) -> None:
    admin = await server.ctx.accounts.ensure_admin("ops")
    token, _ = await server.ctx.accounts.issue_token(admin)
    schedule = '{"interval_definition": "1 hours", "endpoint": "http://127.0.0.1:9/", "payload": {}, "frequency": %s}'
    status, created = await post_raw(api, "/api/v1/schedule/", schedule % "3.0", token)
    assert status == 201 and created["frequency"] == 3, created
    status, refused = await post_raw(api, "/api/v1/schedule/", schedule % "2.5", token)
    assert status == 400 and refused == {"frequency": ["A valid integer is required."]}, refused
