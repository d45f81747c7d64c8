"""The document's component schemas: the request schemas and what the views answer.

Response schemas (api/views.py, api/seed_views.py) are deliberately at least as wide as what the
handlers answer: a client (or schemathesis) validating answers against them never sees a
conforming answer refused.
"""

from __future__ import annotations

from ...config import Config
from ...job_fields import CREATE_FIELDS, UPDATE_FIELDS
from ...jobtypes.registry import JobTypes
from ...model import JobState, RunOutcome
from ...policies import POLICY_FIELDS
from .calendars import calendar_schemas
from .request_schemas import (
    CREDENTIALS,
    LOGIN,
    SEED_LOGIN,
    data_schema_name,
    job_body_schema,
    job_form_schema,
    seed_schedule_schema,
    webhook_schema,
)
from .schemas import ANY, BOOLEAN, INTEGER, NUMBER, STRING, Schema, array_of, nullable, obj


def policy_value_schemas() -> dict[str, Schema]:
    """Policy fields as answered: the values as given (a form post gives text), or null."""
    loose = {"type": ["number", "string", "null"]}
    return {
        name: ({"type": ["string", "null"]} if name in ("overlap", "catch_up", "notify_url") else loose)
        for name in POLICY_FIELDS
    } | {"skip_calendars": {"type": ["array", "null"], "items": STRING}}


def component_schemas(config: Config, job_types: JobTypes) -> dict[str, Schema]:
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
            "tags": {"type": "array", "items": STRING},
            "next_run": nullable(epoch),
            "date_created": epoch,
            "date_updated": epoch,
            **policy_value_schemas(),
            "consecutive_failures": INTEGER,
            "paused_reason": nullable(STRING),
            "parent": nullable(
                {
                    "type": "string",
                    "description": "The job this one runs after (schedule `after <job>`); null when it follows none "
                    "or its parent was deleted. In answers about one job (GET /job/{name}, POST, PUT, PATCH).",
                }
            ),
            "followers": {
                "type": "array",
                "items": STRING,
                "description": "The jobs whose schedule is `after` this one. In answers about one job.",
            },
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
            "run_id": {"type": "string", "description": "<job id>-<due time in microseconds>: the slot's key."},
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
            "pool_wait_ms": nullable(
                {
                    "type": "number",
                    "description": "Milliseconds from the slot handed to the HTTP client to its request handed to "
                    "a connection (name lookup and the wait for a free connection), already counted in lateness_ms. "
                    "null when no request reached a connection.",
                }
            ),
            "triggered_by": nullable(
                {
                    "type": "string",
                    "description": "A follower's run: the run_id of its parent's run that triggered it "
                    "(also sent as X-Veggiecron-Triggered-By).",
                }
            ),
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
            "auth_token": {
                "type": ["string", "null"],
                "enum": ["********", None],
                "description": '"********" when the schedule has a token (it is never answered), else null.',
            },
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
        **{
            data_schema_name(job_type.name): {**job_type.data_schema(), "description": job_type.description}
            for job_type in job_types
        },
        "JobCreate": job_body_schema(config, job_types, CREATE_FIELDS, ("name", "data", "schedule")),
        "JobCreateForm": job_form_schema(config, job_types, CREATE_FIELDS, ("name", "data", "schedule")),
        "JobUpdate": job_body_schema(config, job_types, UPDATE_FIELDS, ()),
        "JobUpdateForm": job_form_schema(config, job_types, UPDATE_FIELDS, ()),
        "Credentials": CREDENTIALS,
        "Login": LOGIN,
        "SeedLogin": SEED_LOGIN,
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
                    "items": obj(
                        {
                            "at": epoch,
                            "utc": iso,
                            "local": nullable(
                                {
                                    "type": "string",
                                    "description": "In the job's zone; null where that is past year 9999.",
                                }
                            ),
                        },
                        ("at", "utc", "local"),
                    ),
                },
                "skipped": {
                    "type": "array",
                    "description": "Slots up to the last run shown that the job's skip_calendars take away.",
                    "items": obj(
                        {"at": epoch, "utc": iso, "calendars": {"type": "array", "items": STRING}},
                        ("at", "utc", "calendars"),
                    ),
                },
            },
            ("name", "timezone", "runs"),
        ),
        **calendar_schemas(),
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
        "AuditPage": obj(
            {
                **page,
                "entries": {
                    "type": "array",
                    "items": obj(
                        {
                            "id": INTEGER,
                            "at": epoch,
                            "at_iso": iso,
                            "actor": STRING,
                            "address": nullable(STRING),
                            "token_id": nullable(INTEGER),
                            "action": STRING,
                            "target": STRING,
                            "changes": nullable({"type": "object"}),
                        },
                        ("id", "at", "at_iso", "actor", "address", "token_id", "action", "target", "changes"),
                    ),
                },
            },
            ("count", "limit", "offset", "entries"),
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
        "ScheduleCreate": seed_schedule_schema(config, ("endpoint",), create=True),
        "ScheduleWrite": seed_schedule_schema(config, ("endpoint",), create=False),
        "SchedulePatch": seed_schedule_schema(config, (), create=False),
        "WebhookWrite": webhook_schema(("event", "target")),
        "WebhookPatch": webhook_schema(()),
    }
