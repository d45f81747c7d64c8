"""Validation of the Seed Scheduler API's fields, with Django REST Framework's error wording."""

from __future__ import annotations

import re
import uuid as uuid_module
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from fractions import Fraction
from typing import Any
from urllib.parse import urlsplit

from ..errors import Invalid
from ..jobs import parse_bool
from ..model import SeedFields, Webhook
from ..numbers import whole_number
from ..schedules import MAX_INTERVAL_SECONDS, Cron, parse_schedule

SCHEDULE_ADDED = "schedule.added"
WEBHOOK_EVENTS = (SCHEDULE_ADDED,)
INTERVAL_UNITS = {
    "days": Fraction(86400),
    "hours": Fraction(3600),
    "minutes": Fraction(60),
    "seconds": Fraction(1),
    "microseconds": Fraction(1, 1_000_000),
}
_INTERVAL = re.compile(r"^\s*(\d+)\s+(\S+)\s*$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
SCHEDULE_FIELDS = (
    "frequency",
    "cron_definition",
    "interval_definition",
    "endpoint",
    "payload",
    "auth_token",
    "enabled",
)


# Errors of the job underneath, named as the Seed field the client sent.
SEED_FIELD_OF = {
    "data.url": "endpoint",
    "data.headers": "auth_token",
    "data.json": "payload",
    "max_runs": "frequency",
}


def job_name(schedule_uuid: str) -> str:
    return f"seed-{schedule_uuid}"


@contextmanager
def seed_fields(seed: SeedFields) -> Iterator[None]:
    """Rename errors raised for the job underneath to the Seed fields they came from."""
    try:
        yield
    except Invalid as exc:
        if exc.field == "schedule":
            field = "cron_definition" if seed.cron_definition is not None else "interval_definition"
        else:
            field = SEED_FIELD_OF.get(exc.field, exc.field)
        if field == exc.field:
            raise
        raise Invalid(field, exc.description) from None


def validate_email(value: object) -> str:
    if value is None or value == "":
        raise Invalid("email", "This field is required.")
    if not isinstance(value, str) or len(value) > 254 or not _EMAIL.fullmatch(value):
        raise Invalid("email", "Enter a valid email address.")
    return value


def interval_seconds(text: str) -> int:
    """Seconds of an interval definition such as '1 minutes'; raise Invalid('interval_definition')."""
    match = _INTERVAL.match(text)
    if match is None:
        raise Invalid(
            "interval_definition",
            f"{text} is not a valid interval string: integer and period "
            "(from: days, hours, minutes, seconds, microseconds) e.g. 1 minutes",
        )
    count, unit = int(match.group(1)), match.group(2)
    if unit not in INTERVAL_UNITS:
        raise Invalid(
            "interval_definition",
            f"{text} is not a valid period. Accepted: days, hours, minutes, seconds, microseconds",
        )
    seconds = count * INTERVAL_UNITS[unit]
    if seconds < 1 or seconds.denominator != 1:
        raise Invalid("interval_definition", f"{text} must be a whole number of seconds, at least 1 second")
    if seconds > MAX_INTERVAL_SECONDS:
        raise Invalid("interval_definition", f"{text} is longer than {MAX_INTERVAL_SECONDS // 86400} days")
    return int(seconds)


def optional_text(fields: dict[str, Any], name: str, limit: int) -> str | None:
    value = fields.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise Invalid(name, "Not a valid string.")
    if len(value) > limit:
        raise Invalid(name, f"Ensure this field has no more than {limit} characters.")
    return value


def validate_frequency(value: object) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    number = whole_number(value)  # 10.0 is 10, as Django REST Framework's IntegerField reads it
    if number is None:
        raise Invalid("frequency", "A valid integer is required.")
    if not 1 <= number <= 2**31 - 1:
        raise Invalid("frequency", "Ensure this value is greater than or equal to 1.")
    return number


def enabled_value(value: object) -> bool:
    enabled = parse_bool(value)
    if enabled is None:
        raise Invalid("enabled", "Must be a valid boolean.")
    return enabled


def validate_endpoint(value: object) -> str:
    if value is None or value == "":
        raise Invalid("endpoint", "This field is required.")
    if not isinstance(value, str):
        raise Invalid("endpoint", "Not a valid string.")
    if len(value) > 500:
        raise Invalid("endpoint", "Ensure this field has no more than 500 characters.")
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number in range
    except ValueError:
        raise Invalid("endpoint", "Enter a valid URL.") from None
    if parts.scheme not in ("http", "https") or not parts.hostname or any(c in value for c in " \r\n\t\x00"):
        raise Invalid("endpoint", "Enter a valid URL.")
    return value


def schedule_text(cron: str | None, interval: str | None) -> str:
    if (cron is None) == (interval is None):
        raise Invalid("non_field_errors", "Give exactly one of cron_definition and interval_definition.")
    if cron is not None:
        try:
            parsed = parse_schedule(cron)
        except Invalid as exc:
            reason = exc.description.split(". A schedule is one of")[0]
            raise Invalid("cron_definition", f"{cron} is not a valid crontab string: {reason}") from None
        if not isinstance(parsed, Cron):
            raise Invalid("cron_definition", f"{cron} is not a valid crontab string: five fields are needed")
        return parsed.format()
    assert interval is not None
    return f"every {interval_seconds(interval)} seconds"


def validated(fields: dict[str, Any], current: SeedFields | None) -> tuple[SeedFields, int | None, bool]:
    """Merge the request's fields over the current schedule (None: a new one) and validate them."""
    present = {k: v for k, v in fields.items() if k in SCHEDULE_FIELDS}
    base = current or SeedFields(str(uuid_module.uuid4()), None, None, "", None, {}, None, None)
    endpoint = validate_endpoint(present.get("endpoint")) if "endpoint" in present or current is None else base.endpoint
    cron = optional_text(present, "cron_definition", 500) if "cron_definition" in present else base.cron_definition
    interval = (
        optional_text(present, "interval_definition", 100)
        if "interval_definition" in present
        else base.interval_definition
    )
    auth_token = optional_text(present, "auth_token", 500) if "auth_token" in present else base.auth_token
    if auth_token is not None and any(c in auth_token for c in "\r\n\x00"):
        raise Invalid("auth_token", "auth_token must not contain line breaks.")
    payload = present.get("payload", base.payload)
    seed = replace(
        base,
        endpoint=endpoint,
        cron_definition=cron,
        interval_definition=interval,
        auth_token=auth_token,
        payload=payload,
    )
    frequency = validate_frequency(present.get("frequency")) if "frequency" in present else None
    enabled = enabled_value(present["enabled"]) if "enabled" in present else True
    return seed, frequency, enabled


def hook_fields(fields: dict[str, Any], current: Webhook | None) -> tuple[str, str]:
    event = fields.get("event", current.event if current else None)
    target = fields.get("target", current.target if current else None)
    if event is None or event == "":
        raise Invalid("event", "This field is required.")
    if event not in WEBHOOK_EVENTS:
        raise Invalid("event", f'"{str(event)[:64]}" is not a valid choice. Events: {", ".join(WEBHOOK_EVENTS)}')
    if target is None or target == "":
        raise Invalid("target", "This field is required.")
    if not isinstance(target, str) or len(target) > 255:
        raise Invalid("target", "Enter a valid URL.")
    try:
        validate_endpoint(target)
    except Invalid:
        raise Invalid("target", "Enter a valid URL.") from None
    return event, target
