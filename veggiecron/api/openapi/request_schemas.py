"""Request schemas, built from the validators' constants.

Field lists and limits are the validators' own (each job type's data_schema, seed.validation.SCHEDULE_FIELDS,
auth.USERNAME_PATTERN, ...), defaults come from the server's configuration (clone limit, client
timeouts), so the document says what this server accepts.
"""

from __future__ import annotations

from ...auth import MAX_PASSWORD_LENGTH, USERNAME_PATTERN
from ...config import Config
from ...grammar import (
    INSTANT,
    cron_pattern,
    interval_pattern,
    never_cron_pattern,
    never_schedule_pattern,
    schedule_pattern,
    zone_names,
)
from ...job_fields import MAX_TAGS, NAME_PATTERN, TAG_PATTERN
from ...jobtypes.http.schema import target_url
from ...jobtypes.http.urls import MAX_URL_LENGTH
from ...jobtypes.registry import DEFAULT_TYPE, JobTypes
from ...policies import CatchUp, Overlap
from ...schedules import GRAMMAR, MAX_EPOCH, MAX_SCHEDULE_LENGTH
from ...seed.validation import FREQUENCY_TEXT, INTERVAL_UNITS, SCHEDULE_FIELDS, WEBHOOK_EVENTS
from .calendars import SKIP_CALENDARS, SKIP_CALENDARS_TEXT
from .schemas import ANY, Schema, obj, ref, whole

TAG_SCHEMA: Schema = {"type": "string", "pattern": whole(TAG_PATTERN.pattern)}


def policy_field_schemas() -> dict[str, Schema]:
    """One schema per job policy field (policies.parse_policy); null restores the default."""
    instant = {
        "anyOf": [
            {"type": "number", "minimum": 0, "maximum": MAX_EPOCH},
            {"type": "string", "format": "date-time", "pattern": f"^{INSTANT}$"},
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
        "notify_url": target_url(
            MAX_URL_LENGTH, "Receives POST notifications when the job starts failing, recovers or pauses.", True
        ),
        "skip_calendars": SKIP_CALENDARS,
    }


def never(schema: Schema, pattern: str | None = None) -> Schema:
    """A schedule or cron schema without the ones that name no real day (never_cron_pattern, or the
    `pattern` given: never_schedule_pattern also takes out days of the month the months lack)."""
    # "type" inside "not": a null is no cron expression, and a bare pattern would match it (and refuse it).
    return {**schema, "not": {"type": "string", "pattern": pattern or never_cron_pattern()}}


def optional_text(pattern: str) -> str:
    """`pattern` (anchored) or the empty string, which the Seed API reads as absent."""
    return f"^(?:{pattern[1:-1]})?$"


ENABLED: Schema = {
    "anyOf": [
        {"type": "boolean"},
        {"type": "string", "pattern": "^(?:[Tt][Rr][Uu][Ee]|[Ff][Aa][Ll][Ss][Ee]|1|0)$"},
    ],
    "default": True,
    "description": "true or false (also as the text true, false, 1 or 0, as forms send it).",
}


SCHEDULE_EXAMPLES = [
    "every 10 seconds",
    "every day @ 13:00",
    "every weekday @ 09:30",
    "every mon,wed,fri @ 17:30",
    "every weekend day @ 10:00",
    "every business day @ 09:00",
    "every 2 weeks on monday @ 09:00",
    "1st,15th of month @ 12:00",
    "last day of month @ 23:00",
    "first monday of jan,apr,jul,oct @ 08:00",
    "2nd,4th tuesday of month @ 18:00",
    "every 5 minutes from 09:00 to 17:00",
    "every hour from 08:00 to 18:00 on weekdays",
    "*/5 * * * *",
    "once @ 2030-01-01T12:00:00Z",
]

JOB_FIELD_DESCRIPTIONS = {
    "name": "1 to 128 characters: letters, digits, '_', '.', ':' or '-'; unique per user.",
    "type": "The job type.",
    "schedule": f"When the job fires, in the job's time zone. One of: {GRAMMAR}. Names of days and months "
    "may be written in full or by their first three letters, in any case. A window (`from HH:MM to HH:MM`) "
    "includes both ends and starts its grid at its start each day; an end before its start runs past "
    "midnight. A schedule that does not parse answers 400 whose data.position is where the first word "
    "it could not read starts (0 is the first character).",
    "timezone": "IANA time zone of wall-clock schedules.",
    "enabled": "Whether the job fires.",
    "tags": f"Labels to find the job by (GET /job?tag=): at most {MAX_TAGS}, each 1 to 32 letters, digits, "
    "'_', '.', ':' or '-'.",
}


def data_schema_name(job_type: str) -> str:
    """The component that describes the `data` of a job type (HttpJobData for http)."""
    return f"{job_type.capitalize()}JobData"


def job_body_schema(config: Config, job_types: JobTypes, fields: tuple[str, ...], required: tuple[str, ...]) -> Schema:
    """The JSON body of POST /job (fields = CREATE_FIELDS) or PUT/PATCH /job/{name} (UPDATE_FIELDS)."""
    policies = policy_field_schemas()
    names = job_types.names
    data_refs = [ref(data_schema_name(name)) for name in names]
    known: dict[str, Schema] = {
        "name": {"type": "string", "pattern": whole(NAME_PATTERN.pattern), "examples": ["ping"]},
        "type": {"type": "string", "enum": list(names), "default": DEFAULT_TYPE},
        "data": {
            **(data_refs[0] if len(data_refs) == 1 else {"oneOf": data_refs}),
            "description": "What each run does, by the job's type. In a form post: this object as JSON text "
            "(see the encoding), or as bracketed fields, data[url]=...&data[success_codes][0]=200 (each value's "
            "text read as the type's schema types it; a value in data[json] stays text).",
        },
        "schedule": never(
            {
                "type": "string",
                "minLength": 1,
                "maxLength": MAX_SCHEDULE_LENGTH,
                "pattern": schedule_pattern(config.quotas.min_interval_seconds),
                "examples": SCHEDULE_EXAMPLES,
            },
            never_schedule_pattern(),
        ),
        "timezone": {
            "type": "string",
            "enum": sorted(zone_names()),
            "default": "UTC",
            "examples": ["Europe/London"],
        },
        "enabled": ENABLED,
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


def job_form_schema(config: Config, job_types: JobTypes, fields: tuple[str, ...], required: tuple[str, ...]) -> Schema:
    """The same body as a form: `data` is its JSON text (the media type's encoding says so), other
    values their text; a form cannot say null, so no field takes it."""
    body = job_body_schema(config, job_types, fields, required)
    for name, schema in body["properties"].items():
        body["properties"][name] = _without_null(schema)
    if "tags" in body["properties"]:
        tag = TAG_PATTERN.pattern.strip("^$")
        body["properties"]["tags"] = {
            "type": "string",
            "pattern": f"^[ ,]*({tag}([ ,]+{tag}){{0,{MAX_TAGS - 1}}})?[ ,]*$",
            "description": f"The tags as text, separated by spaces or commas (at most {MAX_TAGS}).",
        }
    if "skip_calendars" in body["properties"]:
        body["properties"]["skip_calendars"] = SKIP_CALENDARS_TEXT
    return body


def _without_null(schema: Schema) -> Schema:
    schema = dict(schema)
    if isinstance(schema.get("type"), list):
        schema["type"] = [t for t in schema["type"] if t != "null"]
    if "enum" in schema:
        schema["enum"] = [v for v in schema["enum"] if v is not None]
    if "anyOf" in schema:
        schema["anyOf"] = [s for s in schema["anyOf"] if s != {"type": "null"}]
    return schema


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
            "maxLength": MAX_PASSWORD_LENGTH,
            "pattern": whole("^[^\\x00]*$"),
            "description": f"1 to {MAX_PASSWORD_LENGTH:,} characters (so any password of up to {MAX_PASSWORD_LENGTH:,} "
            "bytes), no NUL. Every character counts: two passwords that differ anywhere are different.",
        },
    },
    ("username", "password"),
)
LOGIN: Schema = obj(
    {"username": {"type": "string"}, "password": {"type": "string"}},
    ("username", "password"),
)
# The Seed API's token-auth refuses an empty username or password as missing ("This field is required.").
SEED_LOGIN: Schema = obj(
    {"username": {"type": "string", "minLength": 1}, "password": {"type": "string", "minLength": 1}},
    ("username", "password"),
)


def seed_schedule_schema(config: Config, required: tuple[str, ...], create: bool) -> Schema:
    """A Seed schedule as written (seed.validation.validated); unknown fields are ignored, as in DRF.

    create: a new schedule gives exactly one definition; a change gives one (which replaces the
    other) or neither (and keeps the schedule's). null and "" count as not given.
    """
    units = ", ".join(INTERVAL_UNITS)
    min_interval = config.quotas.min_interval_seconds
    known: dict[str, Schema] = {
        "frequency": {
            "anyOf": [
                {"type": "integer", "minimum": 1, "maximum": 2**31 - 1},
                {"type": "string", "pattern": optional_text(FREQUENCY_TEXT)},
                {"type": "null"},
            ],
            "description": "Total number of runs; after that many the schedule disables itself.",
        },
        "cron_definition": never(
            {
                "type": ["string", "null"],
                "maxLength": 200,
                "pattern": optional_text(cron_pattern()),
                "description": "A 5-field cron expression, in UTC. Give exactly one of cron_definition and "
                "interval_definition.",
                "examples": ["0 8 * * 1-5"],
            }
        ),
        "interval_definition": {
            "type": ["string", "null"],
            "maxLength": 100,
            "pattern": optional_text(interval_pattern(min_interval)),
            "description": f'"<int> <unit>" with unit one of {units}: a whole number of seconds, at least '
            f"{min_interval}, at most 366 days.",
            "examples": ["1 minutes"],
        },
        "endpoint": {
            **target_url(500, "The URL the payload is POSTed to."),
            "examples": ["https://service.example/hook"],
        },
        "payload": {**ANY, "description": "Sent as the JSON body of each POST."},
        "auth_token": {
            "type": ["string", "null"],
            "maxLength": 500,
            "pattern": whole("^[^\\r\\n\\x00]*$"),
            "description": "Sent as Authorization: Token <auth_token>; stored encrypted and answered as "
            '"********", which, sent back, keeps the schedule\'s token (a new schedule has none to keep).',
        },
        "enabled": ENABLED,
    }
    schema = obj({name: known.get(name, ANY) for name in SCHEDULE_FIELDS}, required)
    definitions = ("cron_definition", "interval_definition")
    given = {"type": "string", "minLength": 1}
    absent = {"enum": [None, ""]}
    one_of = [
        {"required": [name], "properties": {name: given, other: absent}}
        for name, other in (definitions, definitions[::-1])
    ]
    neither = {"not": {"anyOf": [{"required": [name]} for name in definitions]}}
    schema["anyOf"] = one_of if create else [*one_of, neither]
    return schema


def webhook_schema(required: tuple[str, ...]) -> Schema:
    return obj(
        {
            "event": {"type": "string", "enum": list(WEBHOOK_EVENTS)},
            "target": {
                **target_url(255, "The URL that receives the event."),
                "examples": ["https://service.example/schedules"],
            },
        },
        required,
    )
