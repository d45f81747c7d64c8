"""Request schemas, built from the validators' constants.

Field lists and limits are the validators' own (targets.FIELDS and VERBS, seed.validation.SCHEDULE_FIELDS,
auth.USERNAME_PATTERN, ...), defaults come from the server's configuration (clone limit, client
timeouts), so the document says what this server accepts.
"""

from __future__ import annotations

from ...auth import MAX_PASSWORD_BYTES, USERNAME_PATTERN
from ...config import Config
from ...jobs import JOB_TYPES, MAX_TAGS, NAME_PATTERN, TAG_PATTERN
from ...policies import CatchUp, Overlap
from ...schedules import GRAMMAR, MAX_EPOCH
from ...seed.validation import INTERVAL_UNITS, SCHEDULE_FIELDS, WEBHOOK_EVENTS
from ...targets import FIELDS as HTTP_FIELDS
from ...targets import MAX_RETRIES, MAX_TIMEOUT, MAX_URL_LENGTH, VERBS
from .schemas import ANY, JSON, Schema, any_case, obj, ref, whole

HTTP_URL_PATTERN = "^[Hh][Tt][Tt][Pp][Ss]?://[^\\s/?#]+"
TAG_SCHEMA: Schema = {"type": "string", "pattern": whole(TAG_PATTERN.pattern)}


def http_field_schemas(config: Config) -> dict[str, Schema]:
    """One schema per field of an http job's `data` (targets.parse_http_data)."""
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
    "tags": f"Labels to find the job by (GET /job?tag=): at most {MAX_TAGS}, each 1 to 32 letters, digits, "
    "'_', '.', ':' or '-'.",
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
        "tags": {"type": "array", "items": TAG_SCHEMA, "maxItems": MAX_TAGS, "examples": [["billing", "nightly"]]},
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
        elif name == "tags":
            description = "The tags separated by commas or spaces."
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
