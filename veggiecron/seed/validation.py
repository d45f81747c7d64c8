"""Validation of the Seed Scheduler API's fields, with Django REST Framework's error wording."""

from __future__ import annotations

import re
import uuid as uuid_module
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from fractions import Fraction
from typing import Any

from ..errors import Invalid
from ..grammar import is_cron, is_interval
from ..job_fields import parse_bool
from ..jobtypes.http.urls import check_url
from ..json_numbers import whole_number
from ..model import SeedFields, Webhook
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
FREQUENCY_TEXT = "^0*[1-9][0-9]{0,8}$"  # ASCII digits only: str.isdigit takes '²', which int() refuses
_FREQUENCY_TEXT = re.compile(FREQUENCY_TEXT)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
DEFINITIONS = (("cron_definition", 200), ("interval_definition", 100))  # a schedule is 200 characters at most
SCHEDULE_FIELDS = (
    "frequency",
    "cron_definition",
    "interval_definition",
    "endpoint",
    "payload",
    "auth_token",
    "enabled",
)


# What the Seed API answers for a schedule's auth_token (stored sealed; Seed clients expect a string).
HIDDEN_TOKEN = "********"

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
    # As Django REST Framework does: digits as text (a form's), and 2.0 (an integer to JSON Schema).
    if isinstance(value, str) and _FREQUENCY_TEXT.fullmatch(value):
        value = int(value)
    if isinstance(value, float) and value.is_integer():
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


def validate_endpoint(value: object, field: str = "endpoint", max_length: int = 500) -> str:
    """A Seed URL field (endpoint, a webhook's target), in Django REST Framework's wording."""
    if value is None or value == "":
        raise Invalid(field, "This field is required.")
    if not isinstance(value, str):
        raise Invalid(field, "Not a valid string.")
    if len(value) > max_length:
        raise Invalid(field, f"Ensure this field has no more than {max_length} characters.")
    try:
        check_url(value, field, max_length)
    except Invalid as exc:
        raise Invalid(field, f"Enter a valid URL: {exc.description}.") from None
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
        if not isinstance(parsed, Cron) or not is_cron(cron):
            raise Invalid("cron_definition", f"{cron} is not a valid crontab string: five fields are needed")
        return parsed.format()
    assert interval is not None
    seconds = interval_seconds(interval)
    if not is_interval(interval):
        raise Invalid("interval_definition", f"{interval} is not a valid interval string, e.g. 1 minutes")
    return f"every {seconds} seconds"


def validated(fields: dict[str, Any], current: SeedFields | None) -> tuple[SeedFields, int | None, bool]:
    """Merge the request's fields over the current schedule (None: a new one) and validate them."""
    present = {k: v for k, v in fields.items() if k in SCHEDULE_FIELDS}
    base = current or SeedFields(str(uuid_module.uuid4()), None, None, "", None, {}, None, None)
    endpoint = validate_endpoint(present.get("endpoint")) if "endpoint" in present or current is None else base.endpoint
    cron, interval = definitions(present, base)
    if present.get("auth_token") == HIDDEN_TOKEN:  # answered for a token held: sent back, it keeps it
        if current is None:
            raise Invalid("auth_token", f'"{HIDDEN_TOKEN}" keeps a schedule\'s token; a new schedule has none to keep.')
        present.pop("auth_token")
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


def definitions(present: dict[str, Any], base: SeedFields) -> tuple[str | None, str | None]:
    """The schedule's cron and interval definitions after a write: exactly one of them.

    A write gives one of them (the other absent, null or ""), which replaces the other, or gives
    neither and keeps the schedule's own (a change of other fields). Anything else is refused
    whatever the schedule holds, so that the OpenAPI document can state the rule.
    """
    given = {name: optional_text(present, name, limit) for name, limit in DEFINITIONS if name in present}
    chosen = [name for name, value in given.items() if value is not None]
    if len(chosen) > 1 or (given and not chosen):
        raise Invalid("non_field_errors", "Give exactly one of cron_definition and interval_definition.")
    if not chosen:
        return base.cron_definition, base.interval_definition
    return given.get("cron_definition"), given.get("interval_definition")


def hook_fields(fields: dict[str, Any], current: Webhook | None) -> tuple[str, str]:
    event = fields.get("event", current.event if current else None)
    target = fields.get("target", current.target if current else None)
    if event is None or event == "":
        raise Invalid("event", "This field is required.")
    if event not in WEBHOOK_EVENTS:
        raise Invalid("event", f'"{str(event)[:64]}" is not a valid choice. Events: {", ".join(WEBHOOK_EVENTS)}')
    if current is not None and target == current.target:
        return event, target  # kept as stored (see urls.check_url)
    return event, validate_endpoint(target, "target", 255)
