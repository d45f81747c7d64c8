"""GET /openapi.json and GET /docs: a valid OpenAPI 3.1 document, in step with make_app's routes, honest
about what the handlers answer (checked by hand and by a short, fixed-seed schemathesis run)."""

from __future__ import annotations

import asyncio
import html
import re
import sqlite3
import uuid
from collections.abc import Iterator
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import hypothesis
import orjson
import pytest
import schemathesis
import tornado.routing
import tornado.web

from bench.fuzz import (
    FUZZ_PASSWORD,
    FUZZ_USER,
    PARENT_JOB,
    TokenAuth,
    confine_body,
    confine_case,
    make_parent,
    register,
    schemathesis_config,
)
from tests.helpers import Api, Sink, test_config
from tests.threaded import ThreadedServer, add_openapi_routes, fuzz_config, with_openapi_routes
from veggiecron.api import openapi
from veggiecron.app import Server, make_app
from veggiecron.config import Config
from veggiecron.job_fields import CREATE_FIELDS, UPDATE_FIELDS
from veggiecron.jobtypes.http.schema import http_field_schemas
from veggiecron.jobtypes.http.target import FIELDS as HTTP_FIELDS
from veggiecron.policies import POLICY_FIELDS
from veggiecron.seed.validation import SCHEDULE_FIELDS

METHODS = ("get", "post", "put", "patch", "delete")
DOC = openapi.document()


# ---------------------------------------------------------------------------------------------
# The app with /openapi.json and /docs, whether or not make_app lists them yet
# ---------------------------------------------------------------------------------------------


def app_routes() -> list[tuple[re.Pattern[str], type[tornado.web.RequestHandler]]]:
    """(compiled pattern, handler) of every route, in tornado's matching order."""
    application = with_openapi_routes(make_app(None), None)  # type: ignore[arg-type]  # the table only
    routes = []
    for rule in application.wildcard_router.rules:
        assert isinstance(rule.matcher, tornado.routing.PathMatches), rule  # every route is a path pattern
        if rule.matcher.regex.pattern.startswith("/ui"):
            continue  # the dashboard's pages, not the API
        routes.append((rule.matcher.regex, rule.target))
    return routes


def handler_methods(handler: type[tornado.web.RequestHandler]) -> set[str]:
    """The HTTP methods a handler implements (overrides of RequestHandler's 405-raising defaults)."""
    return {m for m in METHODS if getattr(handler, m) is not getattr(tornado.web.RequestHandler, m)}


def route_of(path: str) -> type[tornado.web.RequestHandler] | None:
    """The handler tornado picks for a documented path, its parameters filled in."""
    sample = re.sub(r"\{[^}]+\}", "1", path)
    for pattern, handler in app_routes():
        if pattern.fullmatch(sample):
            return handler
    return None


@pytest.fixture
async def base_url(server: Server) -> str:
    return await add_openapi_routes(server)


# ---------------------------------------------------------------------------------------------
# (a) a valid OpenAPI 3.1 document
# ---------------------------------------------------------------------------------------------


def test_document_is_valid_openapi_3_1() -> None:
    from openapi_spec_validator import OpenAPIV31SpecValidator

    assert DOC["openapi"].startswith("3.1.")
    # Raises on any violation of the OpenAPI 3.1 schema, including the JSON Schemas inside.
    OpenAPIV31SpecValidator(DOC).validate()


def test_document_follows_the_configuration(db_file: str) -> None:
    config = test_config(db_file)
    config = replace(
        config, api=replace(config.api, max_page_size=7), http_client=replace(config.http_client, max_clones=3)
    )
    doc = openapi.document(config)
    limit = next(p for p in doc["paths"]["/job"]["get"]["parameters"] if p["name"] == "limit")
    assert limit["schema"]["maximum"] == 7
    assert doc["components"]["schemas"]["HttpJobData"]["properties"]["number_of_clones"]["maximum"] == 3


def test_every_operation_has_an_id_a_summary_and_answers() -> None:
    ids = []
    for path, item in DOC["paths"].items():
        for method, op in item.items():
            ids.append(op["operationId"])
            assert op["summary"], (method, path)
            assert any(code.startswith("2") for code in op["responses"]), (method, path)
            for parameter in op.get("parameters", []):
                if parameter["in"] == "path":
                    assert f"{{{parameter['name']}}}" in path
    assert len(ids) == len(set(ids))
    links = [
        link
        for item in DOC["paths"].values()
        for op in item.values()
        for response in op["responses"].values()
        for link in response.get("links", {}).values()
    ]
    assert links and all(link["operationId"] in ids for link in links)


# ---------------------------------------------------------------------------------------------
# (b) in step with the code: routes, methods, fields
# ---------------------------------------------------------------------------------------------


def test_every_route_and_method_is_documented() -> None:
    documented: dict[type[tornado.web.RequestHandler], set[str]] = {}
    for path, item in DOC["paths"].items():
        handler = route_of(path)
        assert handler is not None, f"{path} is documented but no route of make_app answers it"
        documented.setdefault(handler, set()).update(m for m in item if m in METHODS)
    for pattern, handler in app_routes():
        assert handler in documented, f"route {pattern.pattern} ({handler.__name__}) is not documented"
        assert documented[handler] == handler_methods(handler), (
            f"{handler.__name__}: documented {sorted(documented[handler])}, "
            f"implemented {sorted(handler_methods(handler))}"
        )


def test_each_documented_path_maps_to_one_route() -> None:
    handlers = [route_of(path) for path in DOC["paths"]]
    # Two documented paths answered by the same handler would document one route twice.
    assert len(handlers) == len(set(handlers))


def test_body_schemas_list_the_fields_the_validators_take() -> None:
    schemas = DOC["components"]["schemas"]
    # oidc only where the server issues tokens (app.public_url set): elsewhere it is refused.
    assert list(schemas["HttpJobData"]["properties"]) == [f for f in HTTP_FIELDS if f != "oidc"]
    assert set(http_field_schemas(Config().http_client)) == set(HTTP_FIELDS)
    assert set(openapi.policy_field_schemas()) == set(POLICY_FIELDS)
    assert list(schemas["JobCreate"]["properties"]) == list(CREATE_FIELDS)
    assert list(schemas["JobCreateForm"]["properties"]) == list(CREATE_FIELDS)
    assert list(schemas["JobUpdate"]["properties"]) == list(UPDATE_FIELDS)
    assert list(schemas["ScheduleWrite"]["properties"]) == list(SCHEDULE_FIELDS)
    job = schemas["Job"]["properties"]
    assert set(POLICY_FIELDS) <= set(job)


# ---------------------------------------------------------------------------------------------
# Served, and honest about real answers (checked by hand; schemathesis checks many more below)
# ---------------------------------------------------------------------------------------------


def document_validator(schema: Any) -> Any:
    """A validator of `schema`, a part of the document: its "#/components/schemas/..." references
    resolve against this root."""
    from jsonschema import Draft202012Validator

    return Draft202012Validator({**schema, "components": DOC["components"]})


def conforms(path: str, method: str, status: int, body: Any) -> None:
    """Assert that an answer matches the document's schema for it."""
    response = DOC["paths"][path][method]["responses"][str(status)]
    schema = response["content"]["application/json"]["schema"]
    errors = sorted(document_validator(schema).iter_errors(body), key=str)
    assert not errors, f"{method.upper()} {path} {status}: {errors[0].message}\n{body}"


def valid_under_document(schema: Any, value: Any) -> bool:
    return bool(document_validator(schema).is_valid(value))


def query_schema(path: str, method: str, name: str) -> Any:
    return next(p["schema"] for p in DOC["paths"][path][method]["parameters"] if p["name"] == name)


def body_schema(path: str, method: str) -> Any:
    return DOC["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"]


@pytest.mark.parametrize(("name", "value"), [("failing", ""), ("failing", "TRUE"), ("failing", "0"), ("state", "")])
async def test_job_filters_the_server_takes_are_valid_under_the_document(user_api: Api, name: str, value: str) -> None:
    """Found by a 10-minute fuzzing run: ?failing= (empty) was taken, but the document allowed no empty value."""
    assert valid_under_document(query_schema("/job", "get", name), value)
    status, body = await user_api.call("GET", "/job", params={name: value})
    assert status == 200, body


async def test_an_rfc_3339_time_in_lower_case_is_valid_and_taken(user_api: Api) -> None:
    """RFC 3339 allows "t" and "z": the document's pattern did, the server refused them."""
    fields = {"name": "lower", "type": "http", "data": {"url": "http://127.0.0.1:9/"}, "schedule": "every 1 hours"}
    fields["end_at"] = "7600-02-29t01:28:01z"
    assert valid_under_document(body_schema("/job", "post"), fields)
    status, body = await user_api.call("POST", "/job", json=fields)
    assert status == 201, body
    assert body["data"]["end_at_utc"] == "7600-02-29T01:28:01.000Z"


async def test_more_tag_filters_than_a_job_can_carry_are_refused(user_api: Api) -> None:
    """The document allows 16 tag parameters; 17 were taken (the second 10-minute fuzzing run)."""
    tags = [f"t{i}" for i in range(17)]
    assert not valid_under_document(query_schema("/job", "get", "tag"), tags)
    status, body = await user_api.call("GET", "/job?" + "&".join(f"tag={t}" for t in tags))
    assert status == 400, body
    assert body["data"]["field"] == "tag"


async def test_a_job_starting_at_the_end_of_the_calendar_never_runs_and_lists_cleanly(user_api: Api) -> None:
    """start_at 9999-12-31T23:59:58Z with a slot every 3779 hours: the next slot lies past year 9999.

    It was stored as the next run, and every answer showing the job was a 500 from then on.
    """
    fields = {"schedule": "every 3779 hours", "start_at": 253402300798.0, "data": {"url": "http://127.0.0.1:9/"}}
    status, body = await user_api.call("POST", "/job", json={"name": "late", "type": "http", **fields})
    assert status == 201, body
    assert body["data"]["next_run"] is None and body["data"]["state"] == "done"
    status, body = await user_api.call("GET", "/job")
    assert status == 200 and body["data"]["count"] == 1, body


async def test_a_null_cron_definition_beside_an_interval_is_valid_and_taken(user_api: Api) -> None:
    """The schema's "never a cron that names no day" matched null too, so it refused every null cron_definition."""
    status, body = await user_api.call(
        "POST", "/api/v1/schedule/", json={"endpoint": "http://127.0.0.1:9/hook", "interval_definition": "1 hours"}
    )
    assert status == 201, body
    change = {"cron_definition": None, "interval_definition": "\t11\r \nhours\x0b"}
    path = "/api/v1/schedule/{schedule_id}/"
    assert valid_under_document(body_schema(path, "patch"), change)
    status, body = await user_api.call("PATCH", f"/api/v1/schedule/{body['id']}/", json=change)
    assert status == 200, body
    assert body["interval_definition"] == change["interval_definition"]


async def test_openapi_json_is_served_without_a_token(base_url: str, session: aiohttp.ClientSession) -> None:
    async with session.get(f"{base_url}/openapi.json") as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("application/json")
        served = await response.json()
    assert served["openapi"] == DOC["openapi"]
    assert served["paths"].keys() == DOC["paths"].keys()


async def test_answers_conform_to_the_document(base_url: str, user_api: Api, sink: Sink) -> None:
    api = user_api
    status, body = await api.call("GET", "/")
    conforms("/", "get", status, body)
    status, body = await api.call("GET", "/health")
    conforms("/health", "get", status, body)
    status, body = await api.call(
        "POST",
        "/job",
        json={
            "name": "ping",
            "data": {"url": sink.url + "/p", "verb": "post", "json": [1]},
            "schedule": "every 1 hours",
            "overlap": "allow",
            "start_at": "2020-01-01T00:00:00Z",
        },
    )
    conforms("/job", "post", status, body)
    status, body = await api.call(
        "POST",
        "/job",
        data={"name": "form", "data": f'{{"url": "{sink.url}"}}', "schedule": "once @ 1", "max_catch_up": "5"},
    )
    conforms("/job", "post", status, body)
    status, body = await api.call("POST", "/job/ping/run")
    conforms("/job/{name}/run", "post", status, body)
    await asyncio.sleep(0.3)
    for path, route in (
        ("/job", "/job"),
        ("/job?name=ping", "/job"),
        ("/job/ping", "/job/{name}"),
        ("/job/ping/runs", "/job/{name}/runs"),
        ("/job/ping/next?count=3", "/job/{name}/next"),
        ("/tokens", "/tokens"),
    ):
        status, body = await api.call("GET", path)
        conforms(route, "get", status, body)
    status, body = await api.call("PATCH", "/job/ping", json={"enabled": False, "overlap": None})
    conforms("/job/{name}", "patch", status, body)
    for method, path, route, payload in (
        ("POST", "/job", "/job", {"name": "bad name", "data": {}, "schedule": "x"}),
        ("POST", "/job", "/job", {"name": "ping", "data": {"url": sink.url}, "schedule": "every 1 hours"}),
        ("GET", "/job/none", "/job/{name}", None),
        ("GET", "/job?limit=0", "/job", None),
    ):
        status, body = await api.call(method, path, json=payload)
        conforms(route, method.lower(), status, body)
    status, body = await api.call("GET", "/job", token="wrong")
    conforms("/job", "get", status, body)
    headers = {"Authorization": f"Token {api.token}"}
    status, body = await api.call(
        "POST",
        "/api/v1/schedule/",
        headers=headers,
        json={"interval_definition": "1 minutes", "endpoint": sink.url, "payload": {"a": 1}, "auth_token": "t"},
    )
    conforms("/api/v1/schedule/", "post", status, body)
    schedule = body["id"]
    for path, route in (
        ("/api/v1/schedule/", "/api/v1/schedule/"),
        (f"/api/v1/schedule/{schedule}/", "/api/v1/schedule/{schedule_id}/"),
        ("/api/v1/user/", "/api/v1/user/"),
        ("/api/v1/group/", "/api/v1/group/"),
        ("/api/v1/failed-tasks/", "/api/v1/failed-tasks/"),
        ("/api/v1/", "/api/v1/"),
        ("/api/health/", "/api/health/"),
        ("/api/metrics/", "/api/metrics/"),
    ):
        status, body = await api.call("GET", path, headers=headers)
        conforms(route, "get", status, body)
    status, body = await api.call(
        "POST", "/api/v1/webhook/", headers=headers, json={"event": "schedule.added", "target": sink.url}
    )
    conforms("/api/v1/webhook/", "post", status, body)
    for method, path, route, seed_payload in (
        ("POST", "/api/v1/schedule/", "/api/v1/schedule/", {"endpoint": sink.url}),
        ("GET", "/api/v1/schedule/nope/", "/api/v1/schedule/{schedule_id}/", None),
        ("PUT", "/api/v1/webhook/1/", "/api/v1/webhook/{hook_id}/", {"event": "nope"}),
        ("POST", "/api/v1/user/token/", "/api/v1/user/token/", {"email": "a@b.cd"}),
    ):
        status, body = await api.call(method, path, headers=headers, json=seed_payload)
        conforms(route, method.lower(), status, body)
    status, body = await api.call("GET", "/api/v1/schedule/", headers={"Authorization": "Basic !!"})
    conforms("/api/v1/schedule/", "get", status, body)


# ---------------------------------------------------------------------------------------------
# (c) the docs page: self-contained and complete
# ---------------------------------------------------------------------------------------------


async def test_docs_page_is_self_contained_and_complete(base_url: str, session: aiohttp.ClientSession) -> None:
    async with session.get(f"{base_url}/docs") as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/html")
        assert "default-src 'none'" in response.headers["Content-Security-Policy"]
        page = await response.text()
    assert page.startswith("<!DOCTYPE html>")
    # No asset or link from another origin: every absolute URL is this server's own.
    for url in re.findall(r"https?://[^\s\"'<>)]+", page):
        assert url.startswith(base_url + "/"), url
    assert "<script" not in page.lower()
    assert "@import" not in page and "url(" not in page
    for path, item in DOC["paths"].items():
        assert f"> {path}</h3>" in page, path
        for method, op in item.items():
            assert f"{method.upper()}</span> {path}" in page
            assert html.escape(op["summary"]) in page
    http_fields = [f for f in HTTP_FIELDS if f != "oidc"]  # oidc: where tokens are issued only
    for field in (*http_fields, *POLICY_FIELDS, *SCHEDULE_FIELDS, "limit", "offset", "count"):
        assert f"<code>{field}</code>" in page or f"<code>data.{field}</code>" in page, field


def test_docs_page_escapes_what_it_shows() -> None:
    doc = openapi.document()
    doc["paths"]["/"]["get"]["summary"] = "<script>alert(1)</script>"
    page = openapi.render_docs(doc)
    assert "<script>" not in page and "&lt;script&gt;" in page


# ---------------------------------------------------------------------------------------------
# A malformed form body is a 400
# ---------------------------------------------------------------------------------------------

# A form body tornado cannot parse (multipart/form-data without a boundary, or without its final
# boundary) raises tornado.httputil.HTTPInputError; found by schemathesis, it must stay a 400, not a 500.
BODY_OPERATIONS = [
    (path, method)
    for path, item in DOC["paths"].items()
    for method, op in item.items()
    if "requestBody" in op and "/user/token/" not in path  # that one answers 403 first (not an admin)
]


@pytest.mark.parametrize(("path", "method"), BODY_OPERATIONS)
async def test_malformed_form_body_is_a_400(base_url: str, user_api: Api, path: str, method: str) -> None:
    url = base_url + re.sub(r"\{[^}]+\}", "1", path)
    for content_type, body in (
        ("multipart/form-data", b'{"a": 1}'),  # no boundary
        ("multipart/form-data; boundary=xyz", b"no final boundary"),
    ):
        headers = {"X-Auth-Token": user_api.token or "", "Content-Type": content_type}
        async with user_api.session.request(method, url, data=body, headers=headers) as response:
            assert response.status == 400, (content_type, await response.text())


# ---------------------------------------------------------------------------------------------
# (d) schemathesis: a short, fixed-seed run against the in-process server
# ---------------------------------------------------------------------------------------------


def test_confinement_moves_every_url_onto_the_sink() -> None:
    sink = "http://127.0.0.1:9"
    body = {
        "name": "x",
        "data": {"url": "https://service.example/a?b=1", "headers": {}},
        "notify_url": "http://10.0.0.1/n",
        "endpoint": "HTTPS://other.example",
        "target": "ftp://files.example/",
    }
    confined = confine_body(body, sink)
    assert confined["data"]["url"] == "http://127.0.0.1:9/a?b=1"
    assert confined["notify_url"] == "http://127.0.0.1:9/n"
    assert confined["endpoint"] == "http://127.0.0.1:9"
    assert confined["target"] == "ftp://files.example/"  # refused by the server anyway
    form = confine_body({"data": '{"url": "http://service.example/x"}'}, sink)
    assert form["data"] == '{"url":"http://127.0.0.1:9/x"}'
    # A follower runs after the fuzz user's own job, the rest of its schedule as generated.
    follower = confine_body({"schedule": " \tAFtEr a-BbY\x0b fails"}, sink)
    assert follower["schedule"] == f" \tAFtEr {PARENT_JOB}\x0b fails"
    assert confine_body({"schedule": "every 1 days"}, sink)["schedule"] == "every 1 days"
    # A schedule the server refuses stays refused, and a valid one stays valid: not every name,
    # space or length makes a valid schedule, and ST201 and ST202 check both ways.
    for schedule in (
        "after -bad",
        "after a,b",
        "after a@b",
        "after " + "n" * 129,
        "after\u00a0a",
        "after a" + " " * 193,
    ):
        assert confine_body({"schedule": schedule}, sink)["schedule"] == schedule
    assert confine_body({"data": {"url": sink, "schedule": "after x"}}, sink)["data"]["schedule"] == "after x"


def test_confinement_keeps_the_parent_job_as_made() -> None:
    """A request naming the fuzz user's parent job in its path names one that does not exist."""
    case = type("Case", (), {"path_parameters": {"name": PARENT_JOB}, "body": {"schedule": "after x"}})()
    confine_case(case, "http://127.0.0.1:9")
    assert case.path_parameters["name"] != PARENT_JOB
    assert case.body["schedule"] == f"after {PARENT_JOB}"


class Tokens:
    """The fuzz user's token, fetched again after a request that may have revoked it."""

    def __init__(self, base_url: str) -> None:
        self.auth = type("InProcessAuth", (TokenAuth,), {"base_url": base_url})()
        self.token = ""

    def headers(self) -> dict[str, str]:
        if not self.token:
            self.token = self.auth.get(None, None)
        return {"X-Auth-Token": self.token}

    def after(self, case: Any, response: Any) -> None:
        if case.path in ("/logout", "/tokens/{token_id}") or response.status_code == 401:
            self.token = ""


FUZZ_DOC = openapi.document(fuzz_config(""))


def bodies_as(doc: dict[str, Any], media_type: str, bodiless: bool) -> dict[str, Any]:
    """The document with every request body in `media_type` alone; operations whose body has no such
    form are left out, and those without a body unless `bodiless`. schemathesis draws one of a
    body's media types at random: with a handful of examples per operation, one could go untried."""
    narrowed = orjson.loads(orjson.dumps(doc))
    for path, item in list(narrowed["paths"].items()):
        for method, op in list(item.items()):
            for response in op["responses"].values():
                response.pop("links", None)  # they may name an operation left out
            content = op.get("requestBody", {}).get("content")
            if content is None:
                if not bodiless:
                    del item[method]
            elif media_type in content:
                op["requestBody"]["content"] = {media_type: content[media_type]}
            else:
                del item[method]
        if not item:
            del narrowed["paths"][path]
    return narrowed


BODY_MEDIA_TYPES = sorted(
    {
        t
        for item in FUZZ_DOC["paths"].values()
        for op in item.values()
        for t in op.get("requestBody", {}).get("content", {})
    }
)
# schemathesis.pytest.from_fixture (a schema loaded from the served URL) breaks on pytest 9 (it
# sets Function._nodeid), so the schema is this document; the fixture checks the server serves it.
# bench.fuzz.ST_CONFIG: the same configuration as the long run (stateful sequences send valid data
# only; token-auth answers wrong credentials with 400). confine_case keeps URLs on the sink; forms
# go as schemathesis serialises them (objects as data[url]=...), as generated clients send them.
schema = schemathesis.openapi.from_dict(FUZZ_DOC, config=schemathesis_config())
# Every operation once per media type its body may be sent in (JSON first, then forms).
schema_json = schemathesis.openapi.from_dict(
    bodies_as(FUZZ_DOC, "application/json", bodiless=True), config=schemathesis_config()
)
schema_form = schemathesis.openapi.from_dict(
    bodies_as(FUZZ_DOC, "application/x-www-form-urlencoded", bodiless=False), config=schemathesis_config()
)
# Hypothesis draws uuids from true randomness, which it cannot replay: a stateful run that re-ran
# a sequence drew different ids and ended in FlakyStrategyDefinition. Seeded integers replay.
schemathesis.openapi.format(
    "uuid", hypothesis.strategies.integers(0, 2**128 - 1).map(lambda n: str(uuid.UUID(int=n, version=4)))
)


@pytest.fixture(scope="module")
def threaded_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadedServer]:
    import requests

    with ThreadedServer(str(tmp_path_factory.mktemp("openapi") / "fuzz.db")) as running:
        served = requests.get(f"{running.base_url}/openapi.json", timeout=30).json()
        assert served == orjson.loads(orjson.dumps(FUZZ_DOC))
        register(running.base_url, FUZZ_USER, FUZZ_PASSWORD)
        running.tokens = Tokens(running.base_url)
        make_parent(running.base_url, running.tokens.headers()["X-Auth-Token"])
        with requests.Session() as running.session:
            yield running


def _checks() -> list[Any]:
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import (
        content_type_conformance,
        negative_data_rejection,
        positive_data_acceptance,
        response_headers_conformance,
        response_schema_conformance,
        status_code_conformance,
    )

    return [
        not_a_server_error,
        status_code_conformance,
        content_type_conformance,
        response_headers_conformance,
        response_schema_conformance,
        positive_data_acceptance,  # ST202: a schema-valid request is accepted
        negative_data_rejection,  # ST201: a schema-violating request is refused
    ]


def _settings(max_examples: int, **extra: Any) -> Any:
    from hypothesis import HealthCheck, settings

    return settings(
        max_examples=max_examples,
        derandomize=True,  # a fixed seed: the same examples on every run
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        print_blob=False,
        **extra,
    )


def fuzz_one(case: Any, threaded_server: ThreadedServer) -> None:
    assert threaded_server.sink is not None and threaded_server.tokens is not None
    confine_case(case, threaded_server.sink.url)
    tokens = threaded_server.tokens
    response = case.call(
        base_url=threaded_server.base_url, session=threaded_server.session, headers=tokens.headers(), timeout=30
    )
    tokens.after(case, response)
    checks = _checks()
    if form_reads_valid(case):
        checks = [check for check in checks if check.__name__ != "negative_data_rejection"]
    case.validate_response(response, checks=checks)


def form_reads_valid(case: Any) -> bool:
    """Whether a form case, read as the server reads the form it receives, is one the document allows.

    A form writes the empty list and the empty text alike (`key=`: a list has no leaves to send),
    and the server reads "" as the empty list where no text may be empty (api/forms.py). So a
    negative case whose only fault is such an empty text (`data[expect][body_not_contains]=`) sends
    the very bytes of a valid one, and taking it is right: ST201 cannot apply to it.
    """
    if case.media_type != "application/x-www-form-urlencoded" or not isinstance(case.body, dict):
        return False
    if case.meta is not None and any(
        info.mode.is_negative for place, info in case.meta.components.items() if place.value != "body"
    ):
        return False  # negative elsewhere too (path, query, headers): ST201 applies
    body = next(b for b in case.operation.body if b.media_type == case.media_type)
    read = _empty_texts_as_lists(case.body)
    return read != case.body and bool(body.is_valid(read))


def _empty_texts_as_lists(value: Any) -> Any:
    if value == "":
        return []
    if isinstance(value, dict):
        return {key: _empty_texts_as_lists(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_empty_texts_as_lists(item) for item in value]
    return value


def test_a_form_whose_empty_text_is_a_valid_empty_list_is_not_negative() -> None:
    """The case schemathesis once reported as ST201: its form is the bytes of a valid request."""
    operation = schema_form["/job/{name}"]["PATCH"]

    def case(data: dict[str, Any]) -> Any:
        form = "application/x-www-form-urlencoded"
        return operation.Case(body={"data": data}, media_type=form, path_parameters={"name": "a"})

    expect: dict[str, Any] = {"body_contains": "0", "body_not_contains": ""}
    assert form_reads_valid(case({"url": "http://127.0.0.1:1/", "expect": expect}))
    # A fault the empty list does not cure stays negative.
    assert not form_reads_valid(case({"url": "http://127.0.0.1:1/", "expect": {**expect, "max_ms": -1}}))
    # So does a body with no empty text at all.
    assert not form_reads_valid(case({"url": 5}))
    # And a case negative elsewhere too (its path, say): ST201 still applies to it.
    from schemathesis.core.parameters import ParameterLocation
    from schemathesis.generation.meta import (
        CaseMetadata,
        ComponentInfo,
        FuzzingPhaseData,
        GenerationInfo,
        PhaseInfo,
        TestPhase,
    )
    from schemathesis.generation.modes import GenerationMode

    def negative_at(*places: ParameterLocation) -> Any:
        negative = GenerationMode.NEGATIVE
        meta = CaseMetadata(
            generation=GenerationInfo(time=0.0, mode=negative),
            components={place: ComponentInfo(negative) for place in places},
            phase=PhaseInfo(TestPhase.FUZZING, FuzzingPhaseData(None, None, None, None)),
        )
        form = "application/x-www-form-urlencoded"
        body: Any = {"data": {"url": "http://127.0.0.1:1/", "expect": expect}}
        return operation.Case(body=body, media_type=form, path_parameters={"name": "a"}, _meta=meta)

    assert not form_reads_valid(negative_at(ParameterLocation.PATH, ParameterLocation.BODY))
    assert form_reads_valid(negative_at(ParameterLocation.BODY))


def test_the_fuzzing_covers_every_media_type_of_a_body() -> None:
    """A media type added to the document needs a schemathesis run of its own below."""
    assert BODY_MEDIA_TYPES == ["application/json", "application/x-www-form-urlencoded"]
    forms = schema_form.raw_schema["paths"]
    assert {(p, m) for p, item in forms.items() for m in item} == {
        (p, m)
        for p, m in BODY_OPERATIONS
        if "application/x-www-form-urlencoded" in DOC["paths"][p][m]["requestBody"]["content"]
    }


@pytest.mark.slow
@schema_json.parametrize()
@_settings(3)
def test_schemathesis_every_operation(case: Any, threaded_server: ThreadedServer) -> None:
    """Examples, coverage and fuzzing of each operation, bodies as JSON: no 5xx, every answer conforms
    to the document (status code, content type, headers, body schema), the document's valid
    requests are accepted and its invalid ones refused."""
    fuzz_one(case, threaded_server)


@pytest.mark.slow
@schema_form.parametrize()
@_settings(3)
def test_schemathesis_every_form_body(case: Any, threaded_server: ThreadedServer) -> None:
    """The same for every body the document lets a client send as a form."""
    assert case.media_type in ("application/x-www-form-urlencoded", None)  # None: a case without a body
    fuzz_one(case, threaded_server)


@pytest.mark.slow
def test_schemathesis_stateful(threaded_server: ThreadedServer) -> None:
    """Sequences that follow the document's links (create a job, then read, change, run, delete it...)."""
    from hypothesis.stateful import run_state_machine_as_test

    assert threaded_server.sink is not None and threaded_server.tokens is not None
    sink_url, base_url = threaded_server.sink.url, threaded_server.base_url
    tokens, session = threaded_server.tokens, threaded_server.session
    # Sequences send valid data only (ST_CONFIG): there is nothing schema-violating to refuse.
    checks = [check for check in _checks() if check.__name__ != "negative_data_rejection"]

    class StateMachine(schema.as_state_machine()):  # type: ignore[misc]
        def setup(self) -> None:
            # Every sequence starts from the same state: hypothesis replays sequences, and answers
            # that depended on what earlier sequences left behind made its draws differ.
            headers = tokens.headers()
            for kind, listing in (("job", "/job?limit=500"), ("api/v1/webhook", "/api/v1/webhook/?limit=500")):
                body = session.get(base_url + listing, headers=headers, timeout=30).json()
                items = body["data"]["jobs"] if kind == "job" else body["results"]
                for item in items:
                    key = item["name"] if kind == "job" else item["id"]
                    if key == PARENT_JOB:  # never changed by a sequence (confine_case): kept as made
                        continue
                    session.delete(f"{base_url}/{kind}/{key}" + ("/" if kind != "job" else ""), headers=headers)
            make_parent(base_url, headers["X-Auth-Token"])

        def before_call(self, case: Any) -> None:
            confine_case(case, sink_url)

        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            return {"base_url": base_url, "session": session, "headers": tokens.headers(), "timeout": 30}

        def after_call(self, response: Any, case: Any) -> None:
            tokens.after(case, response)

        def validate_response(self, response: Any, case: Any, additional_checks: Any = None, **kwargs: Any) -> None:
            case.validate_response(response, checks=checks, transport_kwargs=kwargs)

    run_state_machine_as_test(StateMachine, settings=_settings(12, stateful_step_count=6))


@pytest.mark.slow
def test_fuzzed_jobs_call_only_loopback(threaded_server: ThreadedServer) -> None:
    """Whatever the runs above created, every destination stored is the loopback sink (or nothing)."""
    with sqlite3.connect(threaded_server.db_file) as db:
        urls = [orjson.loads(data).get("url") for (data,) in db.execute("SELECT data FROM jobs")]
        urls += [orjson.loads(policy or "{}").get("notify_url") for (policy,) in db.execute("SELECT policy FROM jobs")]
        urls += [target for (target,) in db.execute("SELECT target FROM webhooks")]
    if not urls:
        pytest.skip("nothing was created (run with the schemathesis tests above)")
    hosts = {urlsplit(url).hostname for url in urls if isinstance(url, str)}
    assert hosts <= {"127.0.0.1"}, hosts


@pytest.mark.parametrize(
    "fields",
    [
        {"schedule": "once @ 253402300799", "timezone": "Asia/Chita"},  # local time in year 10000
        {"schedule": "every day @ 13:00", "timezone": "Asia/Chita", "start_at": 253402214400},
        {"schedule": "0 0 * * *", "timezone": "Pacific/Kiritimati", "start_at": 253402128000},
    ],
)
async def test_schedules_at_the_end_of_the_calendar_answer_cleanly(user_api: Api, fields: dict[str, Any]) -> None:
    """Found by the third 10-minute fuzzing run: GET /job/N/next of a job due on 9999-12-31 in a
    zone east of UTC was a 500 (its local time lies in year 10000)."""
    body = {"name": "last", "type": "http", "data": {"url": "http://127.0.0.1:9/"}, **fields}
    status, created = await user_api.call("POST", "/job", json=body)
    assert status == 201, created
    status, upcoming = await user_api.call("GET", "/job/last/next")
    assert status == 200, upcoming
    conforms("/job/{name}/next", "get", 200, upcoming)
    assert all(run["at"] <= 253402300799 for run in upcoming["data"]["runs"])
    assert (await user_api.call("GET", "/job/last"))[0] == 200
