"""The paths of the Seed Scheduler API: Django REST Framework answers and errors."""

from __future__ import annotations

from typing import Any

from ...config import Config
from .operations import (
    LOCATION,
    OPS,
    SEED,
    body,
    first_of,
    id_links,
    json_response,
    operation,
    page_params,
    path_param,
)
from .schemas import BOOLEAN, STRING, obj, ref


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
                description="Wrong credentials answer 400 with non_field_errors, as Django REST Framework does.",
                request_body=body(ref("SeedLogin"), ref("SeedLogin")),
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
                request_body=body(ref("SchedulePatch"), required=False),  # as in DRF: no body changes nothing
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
                request_body=body(ref("WebhookPatch"), required=False),
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
