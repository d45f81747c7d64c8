"""The OpenAPI 3.1 document of both APIs (GET /openapi.json) and a docs page rendered from it (GET /docs).

The schemas are built from the constants the validators use (runners.http.FIELDS and VERBS,
policies.POLICY_FIELDS, jobs.CREATE_FIELDS, seed.SCHEDULE_FIELDS, ...) and from the server's
configuration (page sizes, clone limit), so the document says what this server accepts.
Response schemas are deliberately at least as wide as what the handlers answer: a client (or
schemathesis) validating answers against them never sees a conforming answer refused.
tests/api/test_openapi.py keeps the document in step with the routes of make_app.
"""

from __future__ import annotations

import html
import re
from functools import lru_cache
from typing import Any

import orjson
import tornado.web

from ... import __version__
from ...config import Config
from ..base import BaseHandler
from .components import component_schemas
from .request_schemas import http_field_schemas, policy_field_schemas
from .schemas import BOOLEAN, FORM, INTEGER, JSON, NUMBER, STRING, Schema, envelope, obj, ref

__all__ = [
    "DocsHandler",
    "OpenApiHandler",
    "component_schemas",
    "docs_paths",
    "document",
    "http_field_schemas",
    "native_paths",
    "policy_field_schemas",
    "render_docs",
    "rendered",
    "routes",
    "seed_paths",
]

NATIVE, SEED, OPS, DOCS = "native", "seed", "operations", "documentation"

# Security schemes: native endpoints take a token; Seed endpoints take a token or HTTP Basic.
X_AUTH_TOKEN, TOKEN_AUTH, BEARER_AUTH, BASIC_AUTH = "xAuthToken", "tokenAuth", "bearerAuth", "basicAuth"
NATIVE_SECURITY: list[dict[str, list[str]]] = [{X_AUTH_TOKEN: []}, {TOKEN_AUTH: []}, {BEARER_AUTH: []}]
SEED_SECURITY: list[dict[str, list[str]]] = [{TOKEN_AUTH: []}, {BASIC_AUTH: []}, {X_AUTH_TOKEN: []}, {BEARER_AUTH: []}]

# ---------------------------------------------------------------------------------------------
# Operations
# ---------------------------------------------------------------------------------------------

ERROR_TEXT = {
    400: "Bad input: a malformed body, an invalid field (named in data.field) or query parameter.",
    401: "No valid token (or credentials).",
    403: "Not allowed: a quota exceeded, or not an admin.",
    404: "No such resource (another user's resources are not found either).",
    409: "Conflict: the name is taken.",
    413: "The request body is larger than api.max_body_bytes.",
    429: "Too many failed logins; retry after Retry-After seconds.",
    503: "The database cannot take writes right now (or the server is unhealthy).",
}
RETRY_AFTER = {"Retry-After": {"description": "Seconds until a new attempt may succeed.", "schema": INTEGER}}
WWW_AUTHENTICATE = {"WWW-Authenticate": {"description": "The authentication scheme expected.", "schema": STRING}}
LOCATION = {"Location": {"description": "Where the created resource is.", "required": True, "schema": STRING}}


def error_response(status: int, schema_name: str) -> dict[str, Any]:
    response: dict[str, Any] = {"description": ERROR_TEXT[status], "content": {JSON: {"schema": ref(schema_name)}}}
    if status == 429:
        response["headers"] = RETRY_AFTER
    if status == 401:
        response["headers"] = WWW_AUTHENTICATE
    return response


def json_response(description: str, schema: Schema, **extra: Any) -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": schema}}, **extra}


def body(schema: Schema, form: Schema | None = None, required: bool = True) -> dict[str, Any]:
    content: dict[str, Any] = {JSON: {"schema": schema}}
    if form is not None:
        content[FORM] = {"schema": form}
    return {"required": required, "content": content}


def operation(
    op_id: str,
    summary: str,
    tag: str,
    responses: dict[str, Any],
    *,
    errors: tuple[int, ...] = (),
    description: str = "",
    parameters: list[dict[str, Any]] | None = None,
    request_body: dict[str, Any] | None = None,
    auth: bool = True,
) -> dict[str, Any]:
    """One operation; its error answers are added in the API's shape (native envelope or DRF)."""
    seed = tag == SEED
    op: dict[str, Any] = {"operationId": op_id, "summary": summary, "tags": [tag]}
    if description:
        op["description"] = description
    if parameters:
        op["parameters"] = parameters
    if request_body:
        op["requestBody"] = request_body
    op["security"] = (SEED_SECURITY if seed else NATIVE_SECURITY) if auth else []
    statuses = set(errors) | {413}  # any request may carry an oversized body
    if auth:
        statuses.add(401)
        if seed:
            statuses.add(429)  # HTTP Basic checks a password, which is throttled
    if request_body:
        statuses.add(400)
    op["responses"] = {
        **responses,
        **{str(s): error_response(s, "SeedError" if seed else "Error") for s in sorted(statuses)},
    }
    return op


def path_param(name: str, schema: Schema, description: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": schema, "description": description}


def query_param(name: str, schema: Schema, description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


def page_params(config: Config) -> list[dict[str, Any]]:
    api = config.api
    return [
        query_param(
            "limit",
            {"type": "integer", "minimum": 1, "maximum": api.max_page_size, "default": api.default_page_size},
            "Page size.",
        ),
        query_param("offset", {"type": "integer", "minimum": 0, "maximum": 2**31, "default": 0}, "Items to skip."),
    ]


JOB_NAME_PARAM = path_param("name", {"type": "string", "minLength": 1}, "The job's name.")


def job_links(expression: str) -> dict[str, Any]:
    """Links from an answer naming a job to the operations on that job (for clients and stateful tests)."""
    targets = {
        "GetJob": "getJob",
        "UpdateJob": "updateJob",
        "ReplaceJob": "replaceJob",
        "RunJob": "runJob",
        "JobRuns": "listJobRuns",
        "JobNext": "nextJobRuns",
        "DeleteJob": "deleteJob",
    }
    return {name: {"operationId": op, "parameters": {"name": expression}} for name, op in targets.items()}


def id_links(ops: dict[str, str], param: str, expression: str = "$response.body#/id") -> dict[str, Any]:
    """Links named by `ops` (link name -> operationId), passing `expression` as the parameter `param`."""
    return {name: {"operationId": op, "parameters": {param: expression}} for name, op in ops.items()}


def first_of(links: dict[str, Any]) -> dict[str, Any]:
    """The same links from a Seed list: to its first result."""
    return {
        name: {**link, "parameters": {k: "$response.body#/results/0/id" for k in link["parameters"]}}
        for name, link in links.items()
    }


def native_paths(config: Config) -> dict[str, Any]:
    ok = "success"
    job_with_runs = envelope(ref("JobWithRuns"))
    return {
        "/": {
            "get": operation(
                "index",
                "Name and version of this server",
                OPS,
                {"200": json_response(ok, envelope(obj({"name": STRING, "version": STRING}, ("name", "version"))))},
                auth=False,
            )
        },
        "/health": {
            "get": operation(
                "health",
                "Health check",
                OPS,
                {
                    "200": json_response(
                        "The database answers and the scheduler loop is alive.", envelope(ref("Health"))
                    ),
                    "503": json_response(
                        "Unhealthy: data shows what is down.",
                        obj(
                            {"id": {"const": "error"}, "description": STRING, "data": ref("ErrorData")},
                            ("id", "description", "data"),
                        ),
                    ),
                },
                auth=False,
            )
        },
        "/register": {
            "post": operation(
                "register",
                "Register a user",
                NATIVE,
                {"201": json_response("Registered.", envelope(ref("User")))},
                errors=(409, 503),
                request_body=body(ref("Credentials"), ref("Credentials")),
                auth=False,
            )
        },
        "/login": {
            "post": operation(
                "login",
                "Log in: get a token",
                NATIVE,
                {"200": json_response("A new token.", envelope(ref("LoginAnswer")))},
                errors=(401, 429, 503),
                description="A wrong username and a wrong password get the same 401.",
                request_body=body(ref("Login"), ref("Login")),
                auth=False,
            )
        },
        "/logout": {
            "post": operation(
                "logout",
                "Log out: revoke the token of this request",
                NATIVE,
                {"200": json_response("Revoked.", envelope({"type": "object"}))},
                errors=(503,),
            )
        },
        "/tokens": {
            "get": operation(
                "listTokens",
                "Your unexpired tokens (ids and times, never the tokens)",
                NATIVE,
                {
                    "200": json_response(
                        ok,
                        envelope(ref("TokenPage")),
                        links=id_links({"RevokeToken": "revokeToken"}, "token_id", "$response.body#/data/tokens/0/id"),
                    )
                },
                errors=(400,),
                parameters=page_params(config),
            )
        },
        "/tokens/{token_id}": {
            "delete": operation(
                "revokeToken",
                "Revoke one of your tokens",
                NATIVE,
                {"200": json_response("Revoked.", envelope(obj({"id": INTEGER}, ("id",))))},
                errors=(400, 404, 503),
                parameters=[path_param("token_id", {"type": "integer", "minimum": 1}, "The token's id (GET /tokens).")],
            )
        },
        "/job": {
            "get": operation(
                "listJobs",
                "Your jobs, oldest first (or one job with ?name=)",
                NATIVE,
                {
                    "200": json_response(
                        "A page of jobs; with name, that job and its ten most recent runs.",
                        {"anyOf": [envelope(ref("JobPage")), job_with_runs]},
                        links=job_links("$response.body#/data/jobs/0/name"),
                    )
                },
                errors=(400, 404),
                parameters=[
                    *page_params(config),
                    query_param("name", STRING, "Answer this one job with its recent runs instead of a page."),
                ],
            ),
            "post": operation(
                "createJob",
                "Create a job",
                NATIVE,
                {
                    "201": json_response(
                        "Created.", envelope(ref("Job")), headers=LOCATION, links=job_links("$response.body#/data/name")
                    )
                },
                errors=(403, 409, 503),
                description="403 when a quota is exceeded, 409 when you already have a job of that name.",
                request_body=body(ref("JobCreate"), ref("JobCreateForm")),
            ),
        },
        "/job/{name}": {
            "get": operation(
                "getJob",
                "One job with its ten most recent runs",
                NATIVE,
                {"200": json_response(ok, job_with_runs)},
                errors=(400, 404),
                parameters=[JOB_NAME_PARAM],
            ),
            "put": operation(
                "replaceJob",
                "Change a job (the same as PATCH: any subset of the fields)",
                NATIVE,
                {"200": json_response("Updated.", envelope(ref("Job")))},
                errors=(403, 404, 503),
                parameters=[JOB_NAME_PARAM],
                request_body=body(ref("JobUpdate"), ref("JobUpdateForm")),
            ),
            "patch": operation(
                "updateJob",
                "Change a job's data, schedule, timezone, enabled or policies",
                NATIVE,
                {"200": json_response("Updated.", envelope(ref("Job")))},
                errors=(403, 404, 503),
                description="Takes effect at once; null restores a policy's default.",
                parameters=[JOB_NAME_PARAM],
                request_body=body(ref("JobUpdate"), ref("JobUpdateForm")),
            ),
            "delete": operation(
                "deleteJob",
                "Delete a job: it never fires again",
                NATIVE,
                {"200": json_response("Deleted.", envelope(obj({"name": STRING}, ("name",))))},
                errors=(400, 404, 503),
                parameters=[JOB_NAME_PARAM],
            ),
        },
        "/job/{name}/run": {
            "post": operation(
                "runJob",
                "Fire a job now, outside its schedule",
                NATIVE,
                {
                    "202": json_response(
                        "Started.", envelope(obj({"name": STRING, "due_at": NUMBER}, ("name", "due_at")))
                    )
                },
                errors=(400, 404, 503),
                parameters=[JOB_NAME_PARAM],
            )
        },
        "/job/{name}/runs": {
            "get": operation(
                "listJobRuns",
                "A job's run history, newest first",
                NATIVE,
                {"200": json_response(ok, envelope(ref("RunPage")))},
                errors=(400, 404),
                parameters=[JOB_NAME_PARAM, *page_params(config)],
            )
        },
        "/job/{name}/next": {
            "get": operation(
                "nextJobRuns",
                "The next run times, in UTC and in the job's timezone",
                NATIVE,
                {"200": json_response(ok, envelope(ref("NextRuns")))},
                errors=(400, 404),
                parameters=[
                    JOB_NAME_PARAM,
                    query_param(
                        "count", {"type": "integer", "minimum": 1, "maximum": 1000, "default": 10}, "How many."
                    ),
                ],
            )
        },
    }


def seed_paths(config: Config) -> dict[str, Any]:
    page = page_params(config)
    pk = {"type": "integer", "minimum": 1}
    schedule_id = path_param("schedule_id", {"type": "string", "format": "uuid"}, "The schedule's id (a UUID).")
    hook_id = path_param("hook_id", pk, "The webhook's id.")
    schedule_links = id_links(
        {
            "GetSchedule": "getSchedule",
            "UpdateSchedule": "updateSchedule",
            "ReplaceSchedule": "replaceSchedule",
            "DeleteSchedule": "deleteSchedule",
        },
        "schedule_id",
    )
    hook_links = id_links(
        {
            "GetWebhook": "getWebhook",
            "UpdateWebhook": "updateWebhook",
            "ReplaceWebhook": "replaceWebhook",
            "DeleteWebhook": "deleteWebhook",
        },
        "hook_id",
    )
    ok = "OK"

    def seed_op(op_id: str, summary: str, responses: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        return operation(op_id, summary, SEED, responses, **kwargs)

    return {
        "/api/token-auth/": {
            "post": seed_op(
                "seedTokenAuth",
                "Username and password to token",
                {"200": json_response("A new token.", ref("SeedToken"))},
                errors=(429, 503),
                request_body=body(ref("Login"), ref("Login")),
                auth=False,
            )
        },
        "/api/health/": {
            "get": seed_op(
                "seedHealth",
                "Health of the database and the scheduler",
                {
                    "200": json_response("Up.", ref("SeedHealth")),
                    "503": json_response("Down.", ref("SeedHealth")),
                },
            )
        },
        "/api/metrics/": {
            "get": seed_op(
                "seedMetrics",
                "The names of the metrics (served as Prometheus text at /metrics)",
                {
                    "200": json_response(
                        ok, obj({"metrics_available": {"type": "array", "items": STRING}}, ("metrics_available",))
                    )
                },
            ),
            "post": seed_op(
                "seedScheduleMetrics",
                "Accepted for compatibility; does nothing",
                {
                    "200": json_response(
                        ok, obj({"scheduled_metrics_initiated": BOOLEAN}, ("scheduled_metrics_initiated",))
                    )
                },
            ),
        },
        "/api/v1/": {
            "get": seed_op(
                "seedApiRoot",
                "Links to the resources",
                {"200": json_response(ok, {"type": "object", "additionalProperties": STRING})},
            )
        },
        "/api/v1/user/token/": {
            "post": seed_op(
                "seedUserToken",
                "Admins: a token for the user with this email (created when missing)",
                {"201": json_response("A new token.", ref("SeedToken"))},
                errors=(403, 503),
                description="Each call issues a new token; earlier ones keep working until they expire.",
                request_body=body(obj({"email": {"type": "string", "format": "email", "maxLength": 254}}, ("email",))),
            )
        },
        "/api/v1/user/": {
            "get": seed_op(
                "seedListUsers",
                "Yourself (admins: every user)",
                {"200": json_response(ok, ref("SeedUserPage"))},
                errors=(400,),
                parameters=page,
            )
        },
        "/api/v1/user/{user_id}/": {
            "get": seed_op(
                "seedGetUser",
                "One user (yourself, unless you are an admin)",
                {"200": json_response(ok, ref("SeedUser"))},
                errors=(400, 404),
                parameters=[path_param("user_id", pk, "The user's id.")],
            )
        },
        "/api/v1/group/": {
            "get": seed_op(
                "seedListGroups",
                "Groups",
                {"200": json_response(ok, ref("SeedGroupPage"))},
                errors=(400,),
                parameters=page,
            )
        },
        "/api/v1/group/{group_id}/": {
            "get": seed_op(
                "seedGetGroup",
                "One group",
                {"200": json_response(ok, ref("SeedGroup"))},
                errors=(400, 404),
                parameters=[path_param("group_id", pk, "The group's id.")],
            )
        },
        "/api/v1/schedule/": {
            "get": seed_op(
                "listSchedules",
                "Your schedules",
                {"200": json_response(ok, ref("SchedulePage"), links=first_of(schedule_links))},
                errors=(400,),
                parameters=page,
            ),
            "post": seed_op(
                "createSchedule",
                "Create a schedule",
                {"201": json_response("Created.", ref("Schedule"), headers=LOCATION, links=schedule_links)},
                errors=(403, 503),
                description="Give exactly one of cron_definition and interval_definition (else 400 with "
                "non_field_errors). Your schedule.added webhooks are told.",
                request_body=body(ref("ScheduleCreate")),
            ),
        },
        "/api/v1/schedule/{schedule_id}/": {
            "get": seed_op(
                "getSchedule",
                "One schedule",
                {"200": json_response(ok, ref("Schedule"))},
                errors=(400, 404),
                parameters=[schedule_id],
            ),
            "put": seed_op(
                "replaceSchedule",
                "Replace a schedule (endpoint required)",
                {"200": json_response("Updated.", ref("Schedule"))},
                errors=(403, 404, 503),
                parameters=[schedule_id],
                request_body=body(ref("ScheduleWrite")),
            ),
            "patch": seed_op(
                "updateSchedule",
                "Change some fields of a schedule",
                {"200": json_response("Updated.", ref("Schedule"))},
                errors=(403, 404, 503),
                parameters=[schedule_id],
                request_body=body(ref("SchedulePatch")),
            ),
            "delete": seed_op(
                "deleteSchedule",
                "Delete a schedule",
                {"204": {"description": "Deleted."}},
                errors=(400, 404, 503),
                parameters=[schedule_id],
            ),
        },
        "/api/v1/failed-tasks/": {
            "get": seed_op(
                "listFailedTasks",
                "Deliveries that failed after their retries",
                {
                    "200": json_response(
                        ok,
                        ref("FailedTaskPage"),
                        links=id_links(
                            {"GetFailedTask": "getFailedTask"}, "failure_id", "$response.body#/results/0/id"
                        ),
                    )
                },
                errors=(400,),
                parameters=page,
            ),
            "post": seed_op(
                "requeueFailedTasks",
                "Requeue every failed task: each is delivered once more and removed",
                {
                    "201": json_response(
                        "Requeued.", obj({"requeued_failed_tasks": BOOLEAN}, ("requeued_failed_tasks",))
                    )
                },
                errors=(503,),
            ),
        },
        "/api/v1/failed-tasks/{failure_id}/": {
            "get": seed_op(
                "getFailedTask",
                "One failed task",
                {"200": json_response(ok, ref("FailedTask"))},
                errors=(400, 404),
                parameters=[path_param("failure_id", pk, "The failed task's id.")],
            )
        },
        "/api/v1/webhook/": {
            "get": seed_op(
                "listWebhooks",
                "Your webhooks",
                {"200": json_response(ok, ref("WebhookPage"), links=first_of(hook_links))},
                errors=(400,),
                parameters=page,
            ),
            "post": seed_op(
                "createWebhook",
                "Subscribe a URL to an event",
                {"201": json_response("Created.", ref("Webhook"), links=hook_links)},
                errors=(503,),
                request_body=body(ref("WebhookWrite")),
            ),
        },
        "/api/v1/webhook/{hook_id}/": {
            "get": seed_op(
                "getWebhook",
                "One webhook",
                {"200": json_response(ok, ref("Webhook"))},
                errors=(400, 404),
                parameters=[hook_id],
            ),
            "put": seed_op(
                "replaceWebhook",
                "Replace a webhook (event and target required)",
                {"200": json_response("Updated.", ref("Webhook"))},
                errors=(404, 503),
                parameters=[hook_id],
                request_body=body(ref("WebhookWrite")),
            ),
            "patch": seed_op(
                "updateWebhook",
                "Change a webhook",
                {"200": json_response("Updated.", ref("Webhook"))},
                errors=(404, 503),
                parameters=[hook_id],
                request_body=body(ref("WebhookPatch")),
            ),
            "delete": seed_op(
                "deleteWebhook",
                "Delete a webhook",
                {"204": {"description": "Deleted."}},
                errors=(400, 404, 503),
                parameters=[hook_id],
            ),
        },
        "/metrics": {
            "get": operation(
                "prometheusMetrics",
                "Metrics in the Prometheus text format",
                OPS,
                {"200": {"description": "The text exposition.", "content": {"text/plain": {"schema": STRING}}}},
                auth=False,
            )
        },
    }


def docs_paths() -> dict[str, Any]:
    return {
        "/openapi.json": {
            "get": operation(
                "openapi",
                "This document (OpenAPI 3.1)",
                DOCS,
                {"200": json_response("The OpenAPI document.", {"type": "object"})},
                auth=False,
            )
        },
        "/docs": {
            "get": operation(
                "docs",
                "This document as a page to read",
                DOCS,
                {"200": {"description": "A self-contained HTML page.", "content": {"text/html": {"schema": STRING}}}},
                auth=False,
            )
        },
    }


DESCRIPTION = """\
Veggiecron schedules HTTP jobs: an HTTP request fired on a schedule written for humans.

It answers two APIs over the same jobs, users and tokens:

- the native API (/register, /login, /logout, /tokens, /job, /health): every answer is an
  envelope {"id": "success" | "error", "description": "...", "data": {...}}, and errors name the
  field at fault in data.field. Bodies may be JSON or forms. Send the token from POST /login in
  X-Auth-Token (or Authorization: Token <t>, or Authorization: Bearer <t>).
- the Seed Scheduler API (/api/...): answers and errors follow Django REST Framework
  ({"detail": "..."} or {"field": ["message"]}); authenticate with Authorization: Token <t> or
  HTTP Basic. A trailing slash is optional. Lists take limit and offset and answer count, next,
  previous and results.
"""


def document(config: Config | None = None) -> dict[str, Any]:
    """The OpenAPI 3.1 document of both APIs, for this server's configuration (defaults when None)."""
    config = config or Config()
    schemas = component_schemas(config)
    return {
        "openapi": "3.1.0",
        "info": {"title": "Veggiecron", "version": __version__, "description": DESCRIPTION},
        "tags": [
            {"name": NATIVE, "description": "The native veggiecron API."},
            {"name": SEED, "description": "The Seed Scheduler API (Django REST Framework shapes)."},
            {"name": OPS, "description": "Health and metrics."},
            {"name": DOCS, "description": "This documentation."},
        ],
        "paths": {**native_paths(config), **seed_paths(config), **docs_paths()},
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                X_AUTH_TOKEN: {
                    "type": "apiKey",
                    "in": "header",
                    "name": "X-Auth-Token",
                    "description": "X-Auth-Token: <token> (a token from POST /login or the Seed API)",
                },
                TOKEN_AUTH: {
                    "type": "apiKey",
                    "in": "header",
                    "name": "Authorization",
                    "description": "Authorization: Token <token>",
                },
                BEARER_AUTH: {"type": "http", "scheme": "bearer", "description": "Authorization: Bearer <token>"},
                BASIC_AUTH: {
                    "type": "http",
                    "scheme": "basic",
                    "description": "HTTP Basic: username and password (Seed API only; failures are throttled)",
                },
            },
        },
    }


# ---------------------------------------------------------------------------------------------
# The docs page: plain HTML rendered from the document, no scripts, fonts or other origins
# ---------------------------------------------------------------------------------------------

METHODS = ("get", "post", "put", "patch", "delete")
STYLE = """
body{font:15px/1.5 system-ui,sans-serif;margin:0 auto;max-width:72rem;padding:1rem 2rem;color:#222}
h1{margin-bottom:0}h2{border-bottom:2px solid #ccc;margin-top:2.5rem}
section.op{border:1px solid #ddd;border-radius:6px;margin:1.2rem 0;padding:.2rem 1rem 1rem}
h3{font-family:ui-monospace,monospace;font-size:1.05rem}
.m{display:inline-block;min-width:4.5rem;padding:0 .4rem;border-radius:4px;color:#fff;text-align:center}
.get{background:#2f6f9f}.post{background:#3a873a}.put{background:#8a6d1d}.patch{background:#8a5a1d}
.delete{background:#a33}
table{border-collapse:collapse;width:100%;margin:.4rem 0}
td,th{border:1px solid #ddd;padding:.25rem .5rem;text-align:left;vertical-align:top}
th{background:#f4f4f4}code{font-family:ui-monospace,monospace}pre{white-space:pre-wrap}
nav li{font-family:ui-monospace,monospace}.muted{color:#666}
"""


def _resolve(doc: dict[str, Any], schema: Schema) -> Schema:
    while "$ref" in schema:
        schema = doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def describe_type(doc: dict[str, Any], schema: Schema) -> str:
    """A short human description of a schema's type and limits."""
    if "$ref" in schema:
        return schema["$ref"].rsplit("/", 1)[1]
    if "const" in schema:
        return f"always {orjson.dumps(schema['const']).decode()}"
    if "enum" in schema:
        return "one of " + ", ".join("null" if v is None else str(v) for v in schema["enum"])
    if "anyOf" in schema:
        return " or ".join(describe_type(doc, s) for s in schema["anyOf"])
    if "allOf" in schema:
        return " and ".join(describe_type(doc, s) for s in schema["allOf"])
    kinds = schema.get("type")
    if kinds is None:
        return "any JSON"
    text = " or ".join(kinds) if isinstance(kinds, list) else kinds
    if text.startswith("array") and "items" in schema:
        text = f"array of {describe_type(doc, schema['items'])}"
    limits = []
    for key, word in (
        ("minimum", "≥"),
        ("exclusiveMinimum", ">"),
        ("maximum", "≤"),
        ("minLength", "length ≥"),
        ("maxLength", "length ≤"),
        ("minItems", "items ≥"),
        ("maxItems", "items ≤"),
    ):
        if key in schema:
            value = schema[key]
            limits.append(f"{word} {int(value) if isinstance(value, float) and value.is_integer() else value}")
    if "format" in schema:
        limits.append(schema["format"])
    if "default" in schema:
        limits.append(f"default {orjson.dumps(schema['default']).decode()}")
    return f"{text} ({', '.join(limits)})" if limits else text


def _fields(doc: dict[str, Any], schema: Schema, prefix: str = "") -> list[tuple[str, Schema, bool]]:
    """(name, schema, required) of an object's fields, nested objects flattened as a.b."""
    schema = _resolve(doc, schema)
    if "anyOf" in schema:  # e.g. data: an object or the same as a JSON string
        objects = [_resolve(doc, s) for s in schema["anyOf"] if _resolve(doc, s).get("type") == "object"]
        schema = objects[0] if objects else schema
    required = set(schema.get("required", ()))
    rows = []
    for name, sub in schema.get("properties", {}).items():
        rows.append((prefix + name, sub, name in required))
        target = _resolve(doc, sub)
        if "anyOf" in target:
            inner = [_resolve(doc, s) for s in target["anyOf"] if _resolve(doc, s).get("properties")]
            target = inner[0] if inner else target
        if target.get("type") == "object" and target.get("properties"):
            rows.extend(_fields(doc, target, f"{prefix}{name}."))
    return rows


def _text(value: str) -> str:
    return html.escape(value, quote=True)


def _example_text(schema: Schema) -> str:
    examples = [e for e in schema.get("examples", ()) if isinstance(e, str) and "://" not in e]
    return (
        f" <span class='muted'>e.g. {', '.join(f'<code>{_text(e)}</code>' for e in examples)}</span>"
        if examples
        else ""
    )


def _field_table(doc: dict[str, Any], schema: Schema) -> str:
    rows = _fields(doc, schema)
    if not rows:
        return f"<p>{_text(describe_type(doc, schema))}</p>"
    out = ["<table><tr><th>Field</th><th>Type</th><th>Required</th><th>Meaning</th></tr>"]
    for name, sub, required in rows:
        resolved = _resolve(doc, sub)
        meaning = sub.get("description") or resolved.get("description", "")
        out.append(
            f"<tr><td><code>{_text(name)}</code></td><td>{_text(describe_type(doc, sub))}</td>"
            f"<td>{'yes' if required else ''}</td><td>{_text(meaning)}{_example_text(resolved)}</td></tr>"
        )
    out.append("</table>")
    return "".join(out)


def _anchor(method: str, path: str) -> str:
    return "op-" + method + re.sub(r"[^A-Za-z0-9]+", "-", path).strip("-")


def render_docs(doc: dict[str, Any]) -> str:
    """The document as one self-contained HTML page."""
    info = doc["info"]
    schemes = doc["components"]["securitySchemes"]
    toc: list[str] = []
    sections: list[str] = []
    for tag in doc["tags"]:
        ops = [
            (path, method, op)
            for path, item in doc["paths"].items()
            for method, op in item.items()
            if method in METHODS and tag["name"] in op.get("tags", ())
        ]
        if not ops:
            continue
        toc.append(f"<li>{_text(tag['description'])}<ul>")
        sections.append(f"<h2 id='tag-{_text(tag['name'])}'>{_text(tag['description'])}</h2>")
        for path, method, op in ops:
            anchor = _anchor(method, path)
            toc.append(
                f"<li><a href='#{anchor}'>{method.upper()} {_text(path)}</a> "
                f"<span class='muted'>{_text(op.get('summary', ''))}</span></li>"
            )
            parts = [
                f"<section class='op' id='{anchor}'>",
                f"<h3><span class='m {method}'>{method.upper()}</span> {_text(path)}</h3>",
                f"<p><strong>{_text(op.get('summary', ''))}</strong></p>",
            ]
            if op.get("description"):
                parts.append(f"<p>{_text(op['description'])}</p>")
            security = op.get("security", [])
            if security:
                names = [schemes[name].get("description", name) for req in security for name in req]
                parts.append(f"<p>Authentication, one of: {_text(' | '.join(names))}</p>")
            else:
                parts.append("<p>No authentication.</p>")
            if op.get("parameters"):
                parts.append(
                    "<h4>Parameters</h4><table><tr><th>Name</th><th>In</th><th>Type</th>"
                    "<th>Required</th><th>Meaning</th></tr>"
                )
                for param in op["parameters"]:
                    parts.append(
                        f"<tr><td><code>{_text(param['name'])}</code></td><td>{_text(param['in'])}</td>"
                        f"<td>{_text(describe_type(doc, param['schema']))}</td>"
                        f"<td>{'yes' if param.get('required') else ''}</td>"
                        f"<td>{_text(param.get('description', ''))}</td></tr>"
                    )
                parts.append("</table>")
            if op.get("requestBody"):
                content = op["requestBody"]["content"]
                parts.append(f"<h4>Request body</h4><p>As {_text(' or '.join(content))}.</p>")
                parts.append(
                    _field_table(
                        doc, content[JSON]["schema"] if JSON in content else next(iter(content.values()))["schema"]
                    )
                )
            parts.append("<h4>Responses</h4><table><tr><th>Status</th><th>Meaning</th><th>Body</th></tr>")
            for status, response in op["responses"].items():
                content = response.get("content", {})
                shape = "; ".join(
                    f"{kind}: {describe_type(doc, media.get('schema', {}))}" for kind, media in content.items()
                )
                parts.append(
                    f"<tr><td>{_text(status)}</td><td>{_text(response.get('description', ''))}</td>"
                    f"<td>{_text(shape) or 'empty'}</td></tr>"
                )
            parts.append("</table></section>")
            sections.append("".join(parts))
        toc.append("</ul></li>")
    names = sorted(doc["components"]["schemas"])
    models = []
    for name in names:
        schema = doc["components"]["schemas"][name]
        models.append(
            f"<section class='op' id='schema-{_text(name)}'><h3>{_text(name)}</h3>"
            f"<p>{_text(schema.get('description', ''))}</p>{_field_table(doc, schema)}</section>"
        )
    description = "".join(f"<p>{_text(par)}</p>" for par in info["description"].split("\n\n"))
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{_text(info['title'])} API</title><style>{STYLE}</style></head><body>"
        f"<h1>{_text(info['title'])} API</h1><p class='muted'>Version {_text(info['version'])}, "
        f"OpenAPI {_text(doc['openapi'])}: <a href='/openapi.json'>/openapi.json</a></p>{description}"
        f"<nav><h2>Endpoints</h2><ul>{''.join(toc)}</ul></nav>{''.join(sections)}"
        f"<h2>Schemas</h2>{''.join(models)}</body></html>"
    )


@lru_cache(maxsize=8)
def _rendered(config: Config) -> tuple[bytes, bytes]:
    doc = document(config)
    return orjson.dumps(doc), render_docs(doc).encode()


def rendered(config: Config) -> tuple[bytes, bytes]:
    """(the document as JSON, the docs page) for this configuration, built once."""
    try:
        return _rendered(config)
    except TypeError:  # a configuration that cannot be hashed: build it every time
        doc = document(config)
        return orjson.dumps(doc), render_docs(doc).encode()


class OpenApiHandler(BaseHandler):
    """GET /openapi.json: the OpenAPI 3.1 document of both APIs (no token needed)."""

    requires_auth = False

    async def get(self) -> None:
        self.set_header("Access-Control-Allow-Origin", "*")
        self.finish(rendered(self.ctx.config)[0])


class DocsHandler(BaseHandler):
    """GET /docs: the document as a readable page, self-contained (no scripts, fonts or CDNs)."""

    requires_auth = False

    async def get(self) -> None:
        self.set_header("Content-Type", "text/html; charset=UTF-8")
        self.set_header("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
        self.finish(rendered(self.ctx.config)[1])


def routes(args: dict[str, Any]) -> list[tuple[str, type[tornado.web.RequestHandler], dict[str, Any]]]:
    """GET /openapi.json and GET /docs."""
    return [(r"/openapi.json", OpenApiHandler, args), (r"/docs", DocsHandler, args)]
