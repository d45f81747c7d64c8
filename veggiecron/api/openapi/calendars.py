"""The calendars' paths and schemas in the OpenAPI document, and the job's skip_calendars field."""

from __future__ import annotations

from typing import Any

from ...calendars import MAX_DATE_ENTRIES, MAX_DAYS_LISTED, MAX_SKIP_CALENDARS, SHARED_PREFIX
from .operations import NATIVE, body, json_response, operation, path_param
from .schemas import BOOLEAN, NUMBER, STRING, Schema, envelope, obj, ref

_NAME = "[A-Za-z0-9_.:-]{1,64}"
_REF = f"(?:{SHARED_PREFIX})?{_NAME}"
CALENDAR_NAME: Schema = {
    "type": "string",
    "pattern": f"^{_NAME}$",
    "not": {"type": "string", "pattern": f"^(?i:{SHARED_PREFIX})"},
    "description": "1 to 64 letters, digits, '_', '.', ':' or '-', unique among your calendars "
    f"(not starting with {SHARED_PREFIX!r}).",
    "examples": ["shutdown"],
}
CALENDAR_REF: Schema = {
    "type": "string",
    "pattern": f"^(?:{SHARED_PREFIX})?{_NAME}$",
    "description": f"A calendar's name: one of yours, or {SHARED_PREFIX}<name> for one an admin shared.",
    "examples": ["us-ca", "shared:nyse"],
}
SKIP_CALENDARS: Schema = {
    "type": ["array", "null"],
    "items": CALENDAR_REF,
    "maxItems": MAX_SKIP_CALENDARS,
    "examples": [["us-ca", "shutdown"]],
    "description": "Calendars whose days have no slots: a slot whose local date (in the job's time zone) is in "
    "any of them is not run, not counted as missed and not previewed. 409 when one does not exist. "
    "`every business day @ HH:MM` is the weekdays none of them holds.",
}
SKIP_CALENDARS_TEXT: Schema = {
    "type": "string",
    "pattern": f"^[ ,]*({_REF}([ ,]+{_REF}){{0,{MAX_SKIP_CALENDARS - 1}}})?[ ,]*$",
    "description": "The calendars' names as text, separated by spaces or commas.",
}
_DAY = "^(?!0000)[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$"  # a day a month lacks: 400
DATE: Schema = {"type": "string", "pattern": _DAY, "examples": ["2026-12-24"]}
DATES: Schema = {
    "type": "array",
    "minItems": 1,
    "maxItems": MAX_DATE_ENTRIES,
    "items": {"anyOf": [DATE, obj({"from": DATE, "to": DATE}, ("from", "to"), additionalProperties=False)]},
    "description": f"Dates (YYYY-MM-DD) and ranges (both ends included), at most {MAX_DAYS_LISTED} days in all.",
}


def holidays_schema() -> Schema:
    import holidays  # only when the document is built: the server starts without it

    return {
        "oneOf": [
            obj(
                {
                    "country": {"type": "string", "enum": sorted(holidays.list_supported_countries())},
                    "subdivision": {"type": "string", "description": "A subdivision of the country (US: CA, NY ...)."},
                },
                ("country",),
                additionalProperties=False,
            ),
            obj(
                {"market": {"type": "string", "enum": sorted(holidays.list_supported_financial())}},
                ("market",),
                additionalProperties=False,
            ),
        ],
        "description": "Public holidays of a country (and subdivision), or the days a financial market is closed, "
        "from the holidays library.",
    }


def calendar_schemas() -> dict[str, Schema]:
    epoch = {"type": "number", "description": "Epoch seconds."}
    spec = {"dates": DATES, "holidays": holidays_schema()}
    write = {
        "name": CALENDAR_NAME,
        "shared": {**BOOLEAN, "description": "Admins only: every user names it shared:<name>.", "default": False},
    }
    return {
        "Calendar": obj(
            {
                "name": {**STRING, "description": "How jobs name it (shared:<name> when shared)."},
                "shared": BOOLEAN,
                **spec,
                "date_created": epoch,
                "date_updated": epoch,
                "date_created_utc": STRING,
                "date_updated_utc": STRING,
            },
            ("name", "shared"),
        ),
        "CalendarWrite": {
            **obj({**write, **spec}, ("name",), additionalProperties=False),
            "oneOf": [{"required": ["dates"]}, {"required": ["holidays"]}],
        },
        "CalendarChange": {
            **obj({"name": CALENDAR_REF, "shared": BOOLEAN, **spec}, additionalProperties=False),
            "oneOf": [{"required": ["dates"]}, {"required": ["holidays"]}],
        },
    }


def calendar_paths() -> dict[str, Any]:
    name = path_param("name", CALENDAR_REF, "The calendar's name (shared:<name> for a shared one).")
    one = envelope(ref("Calendar"))
    links = {
        op: {"operationId": op_id, "parameters": {"name": "$response.body#/data/name"}}
        for op, op_id in (("GetCalendar", "getCalendar"), ("ChangeCalendar", "replaceCalendar"))
    }
    faults = (
        "400 names the field at fault (a date that does not exist, 'to' before 'from', a subdivision the country lacks)"
    )
    return {
        "/calendars": {
            "get": operation(
                "listCalendars",
                "Your calendars and the shared ones",
                NATIVE,
                {
                    "200": json_response(
                        "The calendars.",
                        envelope(obj({"count": NUMBER, "calendars": {"type": "array", "items": ref("Calendar")}})),
                    )
                },
            ),
            "post": operation(
                "createCalendar",
                "Create a calendar: dates, or a country's or market's holidays",
                NATIVE,
                {"201": json_response("Created.", one, links=links)},
                errors=(403, 409, 503),
                description=f"{faults}; 403 when a user who is not an admin asks for shared; "
                "409 when the name is taken.",
                request_body=body(ref("CalendarWrite")),
            ),
        },
        "/calendars/{name}": {
            "get": operation(
                "getCalendar",
                "One calendar",
                NATIVE,
                {"200": json_response("The calendar.", one)},
                errors=(400, 404),
                parameters=[name],
            ),
            "put": operation(
                "replaceCalendar",
                "Replace a calendar's dates or holidays",
                NATIVE,
                {"200": json_response("Updated.", one)},
                errors=(403, 404, 503),
                description=f"Every job that skips it is rescheduled at once, on every node. {faults}; "
                "the name and whether it is shared cannot change; 403 for a shared one unless you are an admin.",
                parameters=[name],
                request_body=body(ref("CalendarChange")),
            ),
            "delete": operation(
                "deleteCalendar",
                "Delete a calendar no job skips",
                NATIVE,
                {"200": json_response("Deleted.", envelope(obj({"name": STRING}, ("name",))))},
                errors=(400, 403, 404, 409, 503),
                description="409, naming the jobs in data.jobs, while a job's skip_calendars names it.",
                parameters=[name],
            ),
        },
    }
