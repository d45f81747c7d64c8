"""The paths of the native API: an envelope around every answer, bodies as JSON or forms."""

from __future__ import annotations

from typing import Any

from ...config import Config
from ...job_fields import MAX_SEARCH_LENGTH, MAX_TAGS
from ...model import JobState
from .operations import (
    LOCATION,
    NATIVE,
    OPS,
    body,
    id_links,
    json_response,
    operation,
    page_params,
    path_param,
    query_param,
)
from .request_schemas import TAG_SCHEMA
from .schemas import BOOLEAN, INTEGER, NUMBER, STRING, envelope, obj, ref

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


def job_filter_params() -> list[dict[str, Any]]:
    """GET /job's filters: a job is listed when it passes every one given."""
    return [
        {
            **query_param("tag", {"type": "array", "items": TAG_SCHEMA, "maxItems": MAX_TAGS}, "Jobs with this tag."),
            "description": "Jobs carrying this tag; repeat the parameter for jobs carrying all of them.",
            "style": "form",
            "explode": True,
        },
        query_param(
            "q",
            {"type": "string", "maxLength": MAX_SEARCH_LENGTH},
            "Jobs whose name or data.url contains this text, in any letter case.",
        ),
        query_param(
            "state",
            {"type": "string", "enum": [*(s.value for s in JobState), ""]},
            "Jobs in this state (paused: switched off by pause_after_failures; disabled: by their owner); "
            "empty: any state.",
        ),
        query_param(
            "failing",
            {"type": "string", "pattern": "^(?:[Tt][Rr][Uu][Ee]|[Ff][Aa][Ll][Ss][Ee]|1|0)?$"},
            "true (in any letter case, or 1): only jobs whose latest run failed (consecutive_failures above 0); "
            "false, 0 or empty: every job.",
        ),
    ]


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
        "/audit": {
            "get": operation(
                "listAudit",
                "The audit log: changes to your account and jobs (an admin's: everyone's), newest first",
                NATIVE,
                {"200": json_response(ok, envelope(ref("AuditPage")))},
                errors=(400, 403, 404),
                parameters=[
                    *page_params(config),
                    query_param("action", {"type": "string", "minLength": 1, "maxLength": 300}, "Only this action."),
                    query_param("target", {"type": "string", "minLength": 1, "maxLength": 300}, "Only this target."),
                    query_param(
                        "user", {"type": "string", "minLength": 1}, "Admins: only the rows about this user's account."
                    ),
                ],
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
                    *job_filter_params(),
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
                description="403 when a quota is exceeded, 409 when you already have a job of that name "
                "or skip_calendars names a calendar that does not exist.",
                request_body=body(ref("JobCreate"), ref("JobCreateForm"), json_fields=("data",)),
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
                errors=(403, 404, 409, 503),
                parameters=[JOB_NAME_PARAM],
                request_body=body(ref("JobUpdate"), ref("JobUpdateForm"), json_fields=("data",)),
            ),
            "patch": operation(
                "updateJob",
                "Change a job's data, schedule, timezone, enabled or policies",
                NATIVE,
                {"200": json_response("Updated.", envelope(ref("Job")))},
                errors=(403, 404, 409, 503),
                description="Takes effect at once; null restores a policy's default. "
                "409 when skip_calendars names a calendar that does not exist.",
                parameters=[JOB_NAME_PARAM],
                request_body=body(ref("JobUpdate"), ref("JobUpdateForm"), json_fields=("data",)),
            ),
            "delete": operation(
                "deleteJob",
                "Delete a job: it never fires again",
                NATIVE,
                {"200": json_response("Deleted.", envelope(obj({"name": STRING}, ("name",))))},
                errors=(400, 404, 409, 503),
                description="409 naming the jobs that run after this one, unless followers=disable.",
                parameters=[
                    JOB_NAME_PARAM,
                    query_param(
                        "followers",
                        {"type": "string", "enum": ["disable"]},
                        "disable: delete the job even when others run after it, and disable them.",
                    ),
                ],
            ),
        },
        "/job/{name}/run": {
            "post": operation(
                "runJob",
                "Fire a job now, outside its schedule",
                NATIVE,
                description="A disabled or paused job runs too (a run by hand is deliberate) and stays disabled. "
                "run_id names the run in GET /job/{name}/runs once it is recorded.",
                responses={
                    "202": json_response(
                        "Started.",
                        envelope(
                            obj(
                                {
                                    "name": STRING,
                                    "run_id": {
                                        "type": "string",
                                        "description": "The run's id in GET /job/{name}/runs once it is recorded.",
                                    },
                                    "due_at": NUMBER,
                                    "due_at_utc": STRING,
                                    "enabled": BOOLEAN,
                                },
                                ("name", "run_id", "due_at"),
                            )
                        ),
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
