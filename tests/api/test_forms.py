"""Form posts as OpenAPI clients send them: `data` as bracketed fields, every value as text.

The document declares `data` of POST /job, PUT and PATCH /job/{name} an object in form bodies; a
client generated from it (schemathesis among them) writes `data[url]=...&data[success_codes][0]=200`.
The server assembles those and reads each text as the document types it.
"""

from __future__ import annotations

from typing import Any

import pytest
from jsonschema import Draft202012Validator

from tests.helpers import Api, assert_error
from veggiecron.api import openapi

DOC = openapi.document()
FORM = "application/x-www-form-urlencoded"
URL = "http://127.0.0.1:9/hook"


def form_schema_valid(path: str, method: str, body: dict[str, Any]) -> bool:
    schema = DOC["paths"][path][method]["requestBody"]["content"][FORM]["schema"]
    return bool(Draft202012Validator({**schema, "components": DOC["components"]}).is_valid(body))


async def test_a_job_posted_with_bracketed_data_is_taken_with_typed_values(user_api: Api) -> None:
    """The form schemathesis sent when it found POST /job answering 400 "unknown field 'data[url]'"."""
    body = {
        "name": "deep",
        "schedule": "every 1 hours",
        "enabled": True,
        "start_at": 1_800_000_000.5,
        "data": {
            "url": URL,
            "success_codes": [200, "3xx"],
            "retry_on": [404],
            "headers": {"X-Count": "7"},
            "timeout": 2.5,
            "enable_shadows": True,
        },
    }
    assert form_schema_valid("/job", "post", body)
    form = [
        ("name", "deep"),
        ("schedule", "every 1 hours"),
        ("enabled", "true"),
        ("start_at", "1800000000.5"),  # epoch seconds as text, not refused as a malformed time
        ("data[url]", URL),
        ("data[success_codes][0]", "200"),
        ("data[success_codes][1]", "3xx"),
        ("data[retry_on][0]", "404"),
        ("data[headers][X-Count]", "7"),  # a header's value stays text: the schema says string
        ("data[timeout]", "2.5"),
        ("data[enable_shadows]", "true"),
    ]
    status, created = await user_api.call("POST", "/job", data=form)
    assert status == 201, created
    data = created["data"]["data"]
    assert data["success_codes"] == [200, "3xx"] and data["retry_on"] == [404]
    assert data["headers"] == {"X-Count": "7"} and data["timeout"] == 2.5 and data["enable_shadows"] is True
    assert created["data"]["start_at"] == 1_800_000_000.5


@pytest.mark.parametrize("method", ["PATCH", "PUT"])
async def test_a_job_changed_with_bracketed_data(user_api: Api, method: str) -> None:
    await user_api.create_job("change", URL)
    assert form_schema_valid("/job/{name}", method.lower(), {"data": {"url": URL, "verb": "post", "headers": {}}})
    form = {"data[url]": URL + "/2", "data[verb]": "post", "data[headers]": ""}  # an empty object: its bare key
    status, changed = await user_api.call(method, "/job/change", data=form)
    assert status == 200, changed
    assert changed["data"]["data"]["url"] == URL + "/2" and changed["data"]["data"]["verb"].upper() == "POST"
    status, read = await user_api.call("GET", "/job/change")
    assert read["data"]["data"]["url"] == URL + "/2"


async def test_data_as_json_text_in_a_form_still_works(user_api: Api) -> None:
    status, body = await user_api.call(
        "POST", "/job", data={"name": "text", "schedule": "every 1 hours", "data": f'{{"url": "{URL}", "retries": 2}}'}
    )
    assert status == 201, body
    assert body["data"]["data"]["retries"] == 2


@pytest.mark.parametrize(
    ("form", "field"),
    [
        ([("data", f'{{"url": "{URL}"}}'), ("data[verb]", "post")], "data"),  # both as text and as brackets
        ([("data[url]", URL), ("data[url][x]", "y")], "data"),
        ([("data[][url]", URL)], "data."),  # the key "" is no field of an http job
        ([("data" + "[a]" * 20, "deep")], "data" + "[a]" * 20),
        ([("data[url]", URL), ("data[retries]", "many")], "data.retries"),
        ([("data[url]", URL), ("data[nope]", "1")], "data.nope"),
    ],
)
async def test_bracketed_fields_that_make_no_job_are_a_400_naming_the_field(
    user_api: Api, form: list[tuple[str, str]], field: str
) -> None:
    status, body = await user_api.call("POST", "/job", data=[("name", "bad"), ("schedule", "every 1 hours"), *form])
    assert_error(status, body, 400, field)
    status, listed = await user_api.call("GET", "/job")
    assert listed["data"]["count"] == 0
