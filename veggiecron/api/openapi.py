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

from .. import __version__
from ..auth import MAX_PASSWORD_BYTES, USERNAME_PATTERN
from ..config import Config
from ..jobs import CREATE_FIELDS, JOB_TYPES, NAME_PATTERN, UPDATE_FIELDS
from ..model import JobState, RunOutcome
from ..policies import POLICY_FIELDS, CatchUp, Overlap
from ..runners.http import FIELDS as HTTP_FIELDS
from ..runners.http import MAX_RETRIES, MAX_TIMEOUT, MAX_URL_LENGTH, VERBS
from ..schedules import GRAMMAR, MAX_EPOCH
from ..seed import INTERVAL_UNITS, SCHEDULE_FIELDS, WEBHOOK_EVENTS
from .base import BaseHandler

Schema = dict[str, Any]

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
NATIVE, SEED, OPS, DOCS = "native", "seed", "operations", "documentation"

# Security schemes: native endpoints take a token; Seed endpoints take a token or HTTP Basic.
X_AUTH_TOKEN, TOKEN_AUTH, BEARER_AUTH, BASIC_AUTH = "xAuthToken", "tokenAuth", "bearerAuth", "basicAuth"
NATIVE_SECURITY: list[dict[str, list[str]]] = [{X_AUTH_TOKEN: []}, {TOKEN_AUTH: []}, {BEARER_AUTH: []}]
SEED_SECURITY: list[dict[str, list[str]]] = [{TOKEN_AUTH: []}, {BASIC_AUTH: []}, {X_AUTH_TOKEN: []}, {BEARER_AUTH: []}]

STRING: Schema = {"type": "string"}
NUMBER: Schema = {"type": "number"}
INTEGER: Schema = {"type": "integer"}
BOOLEAN: Schema = {"type": "boolean"}
ANY: Schema = {}  # any JSON value


def nullable(schema: Schema) -> Schema:
    """The schema, or null (OpenAPI 3.1 spells `nullable` as a type list)."""
    if "type" in schema and "enum" not in schema and "anyOf" not in schema:
        kinds = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        return {**schema, "type": [*kinds, "null"]}
    return {
        "anyOf": [schema, {"type": "null"}],
        **({"description": schema["description"]} if "description" in schema else {}),
    }


def obj(properties: dict[str, Schema], required: tuple[str, ...] | list[str] = (), **extra: Any) -> Schema:
    schema: Schema = {"type": "object", "properties": properties}
    if required:
        schema["required"] = list(required)
    schema.update(extra)
    return schema


def whole(pattern: str) -> str:
    """An anchored ^...$ pattern that also refuses a trailing newline.

    In JSON Schema (ECMA 262) `$` is the end of the text, but generators built on Python's `re`
    (hypothesis, hence schemathesis) let `$` match before a final newline and produce "name\\n";
    the negative lookahead, redundant in ECMA 262, stops that.
    """
    return f"^(?:{pattern.removeprefix('^').removesuffix('$')})(?!\\n)$"


def any_case(word: str) -> str:
    """A regex for `word` in any letter case (JSON Schema patterns have no inline flags)."""
    return "".join(f"[{c.upper()}{c.lower()}]" if c.isalpha() else re.escape(c) for c in word)


# ---------------------------------------------------------------------------------------------
# Request schemas, built from the validators' constants
# ---------------------------------------------------------------------------------------------

HTTP_URL_PATTERN = "^[Hh][Tt][Tt][Pp][Ss]?://[^\\s/?#]+"


def http_field_schemas(config: Config) -> dict[str, Schema]:
    """One schema per field of an http job's `data` (runners.http.parse_http_data)."""
    client = config.http_client
    return {
        "url": {
            "type": "string",
            "format": "uri",
            "minLength": 1,
            "maxLength": MAX_URL_LENGTH,
            "pattern": HTTP_URL_PATTERN,
            "description": "Required. The http:// or https:// URL to call (no spaces).",
            "examples": ["https://service.example/health"],
        },
        "verb": {
            "type": "string",
            "pattern": whole("|".join(any_case(v) for v in VERBS)),
            "default": "GET",
            "description": f"HTTP method, any letter case: {', '.join(VERBS)}.",
        },
        "number_of_clones": {
            "type": "integer",
            "minimum": 1,
            "maximum": client.max_clones,
            "default": 1,
            "description": "Requests per run, sent in parallel; the run is ok when every clone succeeds.",
        },
        "enable_shadows": {
            "type": "boolean",
            "default": False,
            "description": "false: a run due while the previous one is in flight is skipped; true: it runs anyway.",
        },
        "headers": {
            "type": "object",
            "propertyNames": {"pattern": whole("^[!#$%&'*+\\-.^_`|~0-9A-Za-z]{1,256}$")},
            "additionalProperties": {"type": "string", "maxLength": 8192, "pattern": whole("^[^\\r\\n\\x00]*$")},
            "description": "Header names to string values.",
        },
        "body": {"type": "string", "description": "Request body, sent as is. Give body or json, not both."},
        "json": {
            **ANY,
            "description": "Request body, sent as JSON with Content-Type: application/json. "
            "Give body or json, not both.",
        },
        "timeout": {
            "type": "number",
            "exclusiveMinimum": 0,
            "maximum": MAX_TIMEOUT,
            "default": client.timeout_seconds,
            "description": "Seconds for each attempt.",
        },
        "retries": {
            "type": "integer",
            "minimum": 0,
            "maximum": MAX_RETRIES,
            "default": 0,
            "description": "Extra attempts after a failure, with exponential backoff and full jitter.",
        },
        "retry_backoff_seconds": {
            "type": "number",
            "minimum": 0,
            "maximum": 3600,
            "default": client.retry_backoff_seconds,
            "description": "Ceiling of the first retry delay; doubles per attempt.",
        },
        "retry_backoff_max_seconds": {
            "type": "number",
            "minimum": 0,
            "maximum": 86400,
            "default": client.retry_backoff_max_seconds,
            "description": "Longest retry delay (at least retry_backoff_seconds).",
        },
        "retry_on": {
            "type": "array",
            "maxItems": 100,
            "items": {"type": "integer", "minimum": 400, "maximum": 499},
            "default": [],
            "description": "4xx status codes retried anyway (5xx, 408 and 429 always are).",
        },
        "success_codes": {
            "type": "array",
            "minItems": 1,
            "maxItems": 500,
            "items": {
                "anyOf": [
                    {"type": "integer", "minimum": 100, "maximum": 599},
                    {"type": "string", "pattern": whole("^[1-5]xx$")},
                ]
            },
            "default": ["2xx"],
            "description": 'Status codes that count as success: integers and classes such as "2xx".',
        },
    }


def http_data_schema(config: Config) -> Schema:
    """The `data` of an http job, as a request body field."""
    fields = http_field_schemas(config)
    return {
        "type": "object",
        "description": "What each run sends (the http job type).",
        "properties": {name: fields.get(name, ANY) for name in HTTP_FIELDS},
        "required": ["url"],
        "additionalProperties": False,
        "not": {"required": ["body", "json"]},
    }


def policy_field_schemas() -> dict[str, Schema]:
    """One schema per job policy field (policies.parse_policy); null restores the default."""
    instant = {
        "anyOf": [
            {"type": "number", "minimum": 0, "maximum": MAX_EPOCH},
            {"type": "string", "format": "date-time"},
        ]
    }
    return {
        "overlap": {
            "type": ["string", "null"],
            "enum": [*(m.value for m in Overlap), None],
            "description": "A slot due while the previous run is in flight: skip it, allow it, buffer_one, "
            "or replace the run in flight. Default: skip (allow when data.enable_shadows is true).",
        },
        "catch_up": {
            "type": ["string", "null"],
            "enum": [*(m.value for m in CatchUp), None],
            "description": "Missed slots: latest runs once, all runs each (up to max_catch_up), none runs none.",
        },
        "max_catch_up": {
            "type": ["integer", "null"],
            "minimum": 1,
            "maximum": 1000,
            "description": "Most missed slots run under catch_up: all (default 100).",
        },
        "grace_seconds": {
            "type": ["number", "null"],
            "minimum": 0,
            "maximum": 366 * 86400,
            "description": "A slot more than this late is recorded as missed, not run.",
        },
        "jitter_seconds": {
            "type": ["number", "null"],
            "minimum": 0,
            "maximum": 86400,
            "description": "Shift every run by a stable offset in [0, jitter).",
        },
        "start_at": {
            "anyOf": [*instant["anyOf"], {"type": "null"}],
            "description": "The job fires only after this (epoch seconds or ISO 8601 with an offset).",
        },
        "end_at": {
            "anyOf": [*instant["anyOf"], {"type": "null"}],
            "description": "The job fires only before this (after start_at); then it is done.",
        },
        "pause_after_failures": {
            "type": ["integer", "null"],
            "minimum": 1,
            "maximum": 10000,
            "description": "After this many consecutive failed runs the job disables itself.",
        },
        "notify_url": {
            "type": ["string", "null"],
            "format": "uri",
            "maxLength": 2048,
            "pattern": HTTP_URL_PATTERN,
            "description": "Receives POST notifications when the job starts failing, recovers or pauses.",
        },
    }


CRON_FIELD = "[0-9A-Za-z*/,#?-]+"  # schedules._CRON_FIELD


def _schedule_pattern() -> str:
    """The shapes of schedules.GRAMMAR, in any case and spacing; parse_schedule decides the rest.

    (ranges such as the number of seconds or a cron field's values are checked by the server.)
    """
    word, ws, cron_field = any_case, "\\s+", CRON_FIELD
    every = f"{word('every')}(?:{ws}[0-9]+)?{ws}"
    forms = [
        f"{every}(?:{word('second')}|{word('minute')}|{word('hour')})[Ss]?",
        f"{every}{word('day')}[Ss]?\\s*@\\s*[0-9]{{1,2}}:[0-9]{{2}}",
        f"{word('once')}\\s*@\\s*\\S.*",
        f"{cron_field}(?:{ws}{cron_field}){{4}}",
    ]
    return f"^\\s*(?:{'|'.join(forms)})\\s*$"


SCHEDULE_PATTERN = _schedule_pattern()
CRON_PATTERN = f"^\\s*{CRON_FIELD}(?:\\s+{CRON_FIELD}){{4}}\\s*$"  # five fields; cronsim checks their values

JOB_FIELD_DESCRIPTIONS = {
    "name": "1 to 128 characters: letters, digits, '_', '.', ':' or '-'; unique per user.",
    "type": "The job type.",
    "schedule": f"When the job fires. One of: {GRAMMAR}.",
    "timezone": "IANA time zone of wall-clock schedules.",
    "enabled": "Whether the job fires.",
}


def job_body_schema(config: Config, fields: tuple[str, ...], required: tuple[str, ...]) -> Schema:
    """The JSON body of POST /job (fields = CREATE_FIELDS) or PUT/PATCH /job/{name} (UPDATE_FIELDS)."""
    policies = policy_field_schemas()
    known: dict[str, Schema] = {
        "name": {"type": "string", "pattern": whole(NAME_PATTERN.pattern), "examples": ["ping"]},
        "type": {"type": "string", "enum": list(JOB_TYPES), "default": JOB_TYPES[0]},
        "data": {
            **ref("HttpJobData"),
            "description": "What each run sends (in a form post: this object as JSON text).",
        },
        "schedule": {
            "type": "string",
            "minLength": 1,
            "maxLength": 200,
            "pattern": SCHEDULE_PATTERN,
            "examples": ["every 10 seconds", "every day @ 13:00", "*/5 * * * *", "once @ 2030-01-01T12:00:00Z"],
        },
        "timezone": {
            "type": "string",
            "minLength": 1,
            "maxLength": 64,
            "default": "UTC",
            "examples": ["Europe/London"],
        },
        "enabled": {"type": "boolean", "default": True},
        **policies,
    }
    properties = {}
    for name in fields:
        schema = dict(known.get(name, ANY))
        if name in JOB_FIELD_DESCRIPTIONS and "description" not in schema:
            schema["description"] = JOB_FIELD_DESCRIPTIONS[name]
        properties[name] = schema
    body = obj(properties, required, additionalProperties=False)
    if not required:
        body["minProperties"] = 1
    return body


def job_form_schema(fields: tuple[str, ...], required: tuple[str, ...]) -> Schema:
    """The same body as a form: every value is text, `data` is the JSON object as a string."""
    properties: dict[str, Schema] = {}
    for name in fields:
        description = JOB_FIELD_DESCRIPTIONS.get(name, f"As in the JSON body ({name}), as text.")
        schema: Schema = {"type": "string"}
        if name == "data":
            description = "The http job's data (HttpJobData) as JSON text."
            schema.update(contentMediaType=JSON, contentSchema=ref("HttpJobData"))
        elif name == "enabled":
            description = "true, false, 1 or 0."
        properties[name] = {**schema, "description": description}
    body = obj(properties, required, additionalProperties=False)
    if not required:
        body["minProperties"] = 1
    return body


CREDENTIALS: Schema = obj(
    {
        "username": {
            "type": "string",
            "pattern": whole(USERNAME_PATTERN.pattern),
            "description": "1 to 64 letters or digits.",
            "examples": ["test"],
        },
        "password": {
            "type": "string",
            "minLength": 1,
            "maxLength": MAX_PASSWORD_BYTES,
            "description": f"1 to {MAX_PASSWORD_BYTES} bytes (UTF-8), no NUL.",
        },
    },
    ("username", "password"),
)
LOGIN: Schema = obj(
    {"username": {"type": "string"}, "password": {"type": "string"}},
    ("username", "password"),
)


def seed_schedule_schema(required: tuple[str, ...]) -> Schema:
    """A Seed schedule as written (seed.SeedService._validated); unknown fields are ignored, as in DRF."""
    units = ", ".join(INTERVAL_UNITS)
    known: dict[str, Schema] = {
        "frequency": {
            "type": ["integer", "null"],
            "minimum": 1,
            "maximum": 2**31 - 1,
            "description": "Total number of runs; after that many the schedule disables itself.",
        },
        "cron_definition": {
            "type": ["string", "null"],
            "maxLength": 500,
            "pattern": CRON_PATTERN,
            "description": "A 5-field cron expression, in UTC. Give exactly one of cron_definition and "
            "interval_definition.",
            "examples": ["0 8 * * 1-5"],
        },
        "interval_definition": {
            "type": ["string", "null"],
            "maxLength": 100,
            "pattern": f"^\\s*[0-9]+\\s+(?:{'|'.join(INTERVAL_UNITS)})\\s*$",
            "description": f'"<int> <unit>" with unit one of {units}: a whole number of seconds, at least one.',
            "examples": ["1 minutes"],
        },
        "endpoint": {
            "type": "string",
            "format": "uri",
            "minLength": 1,
            "maxLength": 500,
            "pattern": HTTP_URL_PATTERN,
            "description": "The URL the payload is POSTed to.",
            "examples": ["https://service.example/hook"],
        },
        "payload": {**ANY, "description": "Sent as the JSON body of each POST."},
        "auth_token": {
            "type": ["string", "null"],
            "maxLength": 500,
            "pattern": whole("^[^\\r\\n\\x00]*$"),
            "description": "Sent as Authorization: Token <auth_token>.",
        },
        "enabled": {"type": "boolean", "default": True},
    }
    return obj({name: known.get(name, ANY) for name in SCHEDULE_FIELDS}, required)


def webhook_schema(required: tuple[str, ...]) -> Schema:
    return obj(
        {
            "event": {"type": "string", "enum": list(WEBHOOK_EVENTS)},
            "target": {
                "type": "string",
                "format": "uri",
                "maxLength": 255,
                "pattern": HTTP_URL_PATTERN,
                "description": "The URL that receives the event.",
                "examples": ["https://service.example/schedules"],
            },
        },
        required,
    )


# ---------------------------------------------------------------------------------------------
# Response schemas: what the views answer (api/views.py, api/seed_views.py)
# ---------------------------------------------------------------------------------------------


def policy_value_schemas() -> dict[str, Schema]:
    """Policy fields as answered: the values as given (a form post gives text), or null."""
    loose = {"type": ["number", "string", "null"]}
    return {
        name: ({"type": ["string", "null"]} if name in ("overlap", "catch_up", "notify_url") else loose)
        for name in POLICY_FIELDS
    }


def component_schemas(config: Config) -> dict[str, Schema]:
    epoch = {"type": "number", "description": "Epoch seconds."}
    iso = {"type": "string", "description": "ISO 8601, UTC."}
    job = obj(
        {
            "name": STRING,
            "type": STRING,
            "data": {"type": "object", "description": "The job's data as given (for http jobs: HttpJobData)."},
            "schedule": STRING,
            "timezone": STRING,
            "enabled": BOOLEAN,
            "state": {"type": "string", "enum": [s.value for s in JobState]},
            "next_run": nullable(epoch),
            "date_created": epoch,
            "date_updated": epoch,
            **policy_value_schemas(),
            "consecutive_failures": INTEGER,
            "paused_reason": nullable(STRING),
            "start_at_utc": nullable(iso),
            "end_at_utc": nullable(iso),
            "next_run_utc": nullable(iso),
            "date_created_utc": iso,
            "date_updated_utc": iso,
        },
        ("name", "type", "data", "schedule", "timezone", "enabled", "state", "next_run", "date_created"),
    )
    run = obj(
        {
            "id": nullable(INTEGER),
            "due_at": epoch,
            "started_at": epoch,
            "lateness_ms": NUMBER,
            "duration_ms": NUMBER,
            "outcome": {"type": "string", "enum": [o.value for o in RunOutcome]},
            "attempts": INTEGER,
            "status_code": nullable(INTEGER),
            "error": nullable(STRING),
            "response_excerpt": nullable(STRING),
            "error_class": nullable(STRING),
            "due_at_utc": iso,
            "started_at_utc": iso,
        },
        ("due_at", "started_at", "outcome"),
    )
    page = {"count": INTEGER, "limit": INTEGER, "offset": INTEGER}
    seed_page = {
        "count": INTEGER,
        "next": nullable({"type": "string", "description": "Absolute URL of the next page."}),
        "previous": nullable({"type": "string", "description": "Absolute URL of the previous page."}),
    }
    schedule = obj(
        {
            "url": STRING,
            "id": {"type": "string", "format": "uuid"},
            "frequency": nullable(INTEGER),
            "triggered": INTEGER,
            "cron_definition": nullable(STRING),
            "interval_definition": nullable(STRING),
            "endpoint": STRING,
            "payload": ANY,
            "auth_token": nullable(STRING),
            "next_send_at": nullable(iso),
            "enabled": BOOLEAN,
            "created_at": iso,
            "created_by": nullable(STRING),
            "updated_at": iso,
            "updated_by": nullable(STRING),
        },
        ("url", "id", "endpoint", "enabled"),
    )
    return {
        "HttpJobData": http_data_schema(config),
        "JobCreate": job_body_schema(config, CREATE_FIELDS, ("name", "data", "schedule")),
        "JobCreateForm": job_form_schema(CREATE_FIELDS, ("name", "data", "schedule")),
        "JobUpdate": job_body_schema(config, UPDATE_FIELDS, ()),
        "JobUpdateForm": job_form_schema(UPDATE_FIELDS, ()),
        "Credentials": CREDENTIALS,
        "Login": LOGIN,
        "Job": job,
        "Run": run,
        "JobWithRuns": {"allOf": [{"$ref": "#/components/schemas/Job"}, obj({"runs": array_of("Run")}, ("runs",))]},
        "JobPage": obj({**page, "jobs": array_of("Job")}, ("count", "limit", "offset", "jobs")),
        "RunPage": obj({**page, "runs": array_of("Run")}, ("count", "limit", "offset", "runs")),
        "NextRuns": obj(
            {
                "name": STRING,
                "timezone": STRING,
                "runs": {
                    "type": "array",
                    "items": obj({"at": epoch, "utc": iso, "local": STRING}, ("at", "utc", "local")),
                },
            },
            ("name", "timezone", "runs"),
        ),
        "User": obj(
            {
                "username": STRING,
                "date_created": epoch,
                "date_updated": epoch,
                "date_created_utc": iso,
                "date_updated_utc": iso,
            },
            ("username",),
        ),
        "LoginAnswer": obj(
            {"token": STRING, "expires_at": epoch, "expires_at_utc": iso, "username": STRING}, ("token", "expires_at")
        ),
        "TokenPage": obj(
            {
                **page,
                "tokens": {
                    "type": "array",
                    "items": obj(
                        {
                            "id": INTEGER,
                            "created_at": epoch,
                            "expires_at": epoch,
                            "created_at_utc": iso,
                            "expires_at_utc": iso,
                            "current": BOOLEAN,
                        },
                        ("id", "created_at", "expires_at", "current"),
                    ),
                },
            },
            ("count", "limit", "offset", "tokens"),
        ),
        "Health": obj(
            {
                "database": {"type": "string", "enum": ["ok", "unavailable"]},
                "scheduler": {"type": "string", "enum": ["ok", "stopped"]},
                "scheduled_jobs": {"type": ["integer", "null"], "description": "enabled jobs with a next run"},
                "jobs_in_window": {
                    "type": "integer",
                    "description": "jobs due within scheduler.window_seconds, held in memory",
                },
                "runs_in_flight": INTEGER,
            },
            ("database", "scheduler"),
        ),
        "ErrorData": {
            "type": "object",
            "properties": {"field": {"type": "string", "description": "The field at fault."}},
            "additionalProperties": True,
        },
        "Error": obj(
            {"id": {"const": "error"}, "description": STRING, "data": {"$ref": "#/components/schemas/ErrorData"}},
            ("id", "description", "data"),
        ),
        "SeedError": {
            "description": 'Django REST Framework errors: {"detail": "..."} or {"<field>": ["message", ...]}.',
            "anyOf": [
                obj({"detail": STRING}, ("detail",)),
                {"type": "object", "minProperties": 1, "additionalProperties": {"type": "array", "items": STRING}},
            ],
        },
        "SeedToken": obj({"token": STRING}, ("token",)),
        "SeedHealth": obj(
            {
                "up": BOOLEAN,
                "result": obj(
                    {
                        "database": {"type": "string", "enum": ["Accessible", "Inaccessible"]},
                        "scheduler": {"type": "string", "enum": ["Running", "Stopped"]},
                        "version": STRING,
                    },
                    ("database", "scheduler"),
                ),
            },
            ("up", "result"),
        ),
        "SeedUser": obj(
            {
                "url": nullable(STRING),
                "username": STRING,
                "email": STRING,
                "groups": {"type": "array", "items": STRING},
            },
            ("url", "username", "groups"),
        ),
        "SeedGroup": obj({"url": STRING, "name": STRING}, ("url", "name")),
        "Schedule": schedule,
        "FailedTask": obj(
            {
                "url": STRING,
                "id": INTEGER,
                "schedule": nullable(STRING),
                "task_id": STRING,
                "initiated_at": nullable(iso),
                "reason": STRING,
            },
            ("url", "id", "task_id"),
        ),
        "Webhook": obj(
            {
                "id": INTEGER,
                "created": nullable(iso),
                "updated": nullable(iso),
                "event": STRING,
                "target": STRING,
                "user": INTEGER,
            },
            ("id", "event", "target"),
        ),
        "SeedUserPage": obj({**seed_page, "results": array_of("SeedUser")}, ("count", "next", "previous", "results")),
        "SeedGroupPage": obj({**seed_page, "results": array_of("SeedGroup")}, ("count", "next", "previous", "results")),
        "SchedulePage": obj({**seed_page, "results": array_of("Schedule")}, ("count", "next", "previous", "results")),
        "FailedTaskPage": obj(
            {**seed_page, "results": array_of("FailedTask")}, ("count", "next", "previous", "results")
        ),
        "WebhookPage": obj({**seed_page, "results": array_of("Webhook")}, ("count", "next", "previous", "results")),
        "ScheduleCreate": {
            **seed_schedule_schema(("endpoint",)),
            # Exactly one of the two definitions is a non-empty string (null and "" count as absent).
            "oneOf": [
                {"required": [name], "properties": {name: {"type": "string", "minLength": 1}}}
                for name in ("cron_definition", "interval_definition")
            ],
        },
        "ScheduleWrite": seed_schedule_schema(("endpoint",)),
        "SchedulePatch": seed_schedule_schema(()),
        "WebhookWrite": webhook_schema(("event", "target")),
        "WebhookPatch": webhook_schema(()),
    }


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def array_of(name: str) -> Schema:
    return {"type": "array", "items": ref(name)}


def envelope(data: Schema) -> Schema:
    """The native API's success envelope around `data`."""
    return obj({"id": {"const": "success"}, "description": STRING, "data": data}, ("id", "description", "data"))


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
                errors=(401, 403, 409, 503),
                description=(
                    "security.registration decides who may register: anyone (open), a caller with an admin's "
                    "token (admin: 401 without one, 403 for a non-admin), or nobody (closed: 403)."
                ),
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
                        "Started.",
                        envelope(obj({"name": STRING, "due_at": NUMBER, "due_at_utc": STRING}, ("name", "due_at"))),
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
                    "201": json_response(
                        "Accepted, as Seed Scheduler answers.",
                        obj({"scheduled_metrics_initiated": BOOLEAN}, ("scheduled_metrics_initiated",)),
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
