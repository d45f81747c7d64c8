"""A job's fields as the APIs and the dashboard send them: names, tags, list filters, booleans as
forms write them, which fields a request may carry, and the policy fields a change leaves.

Pure checks, raising Invalid naming the field; the jobs service applies them.
"""

from __future__ import annotations

import re
from typing import Any

from .errors import Invalid
from .grammar import check_new_instant
from .jobtypes.http.urls import check_url
from .model import JobFilter, JobState
from .policies import POLICY_FIELDS, parse_policy

NAME_PATTERN = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.:-]{0,127}$")
TAG_PATTERN = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.:-]{0,31}$")
MAX_TAGS = 16
TAG_SEPARATORS = re.compile(r"[ ,]+")  # in a form's text: spaces and commas, nothing else
MAX_SEARCH_LENGTH = 200
CREATE_FIELDS = ("name", "type", "data", "schedule", "timezone", "enabled", "tags", *POLICY_FIELDS)
UPDATE_FIELDS = ("data", "schedule", "timezone", "enabled", "tags", *POLICY_FIELDS)


def validate_name(name: object) -> str:
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        raise Invalid("name", "name must be 1 to 128 characters: letters, digits, '_', '.', ':' or '-'")
    return name


def parse_bool(value: object) -> bool | None:
    """A JSON boolean, or its text as form posts carry it ("true", "false", "1", "0"); else None."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false", "1", "0"):
        return value.lower() in ("true", "1")
    return None


def validate_enabled(value: object) -> bool:
    enabled = parse_bool(value)
    if enabled is None:
        raise Invalid("enabled", "enabled must be true or false")
    return enabled


def tags_from_text(text: str) -> list[str]:
    """A form's tags: text separated by spaces or commas."""
    return [tag for tag in TAG_SEPARATORS.split(text) if tag]


def validate_tags(value: object) -> tuple[str, ...]:
    """A list of tags (a form's text is split by tags_from_text first); repeats dropped."""
    if not isinstance(value, list | tuple) or not all(isinstance(tag, str) for tag in value):
        raise Invalid("tags", "tags must be a list of strings (in a form: text separated by spaces or commas)")
    # Counted before repeats are dropped, as the published schema counts them (maxItems).
    if len(value) > MAX_TAGS:
        raise Invalid("tags", f"a job has at most {MAX_TAGS} tags")
    tags = tuple(dict.fromkeys(value))
    for tag in tags:
        if not TAG_PATTERN.fullmatch(tag):
            raise Invalid("tags", f"tag {tag[:40]!r}: tags are 1 to 32 letters, digits, '_', '.', ':' or '-'")
    return tags


def job_filter(
    tags: list[str] | tuple[str, ...] = (),
    text: str | None = None,
    state: str | None = None,
    failing: str | None = None,
) -> JobFilter:
    """The filter of a job list from its query parameters (tag, q, state, failing); Invalid names the one at fault."""
    if len(tags) > MAX_TAGS:  # a job carries no more, so asking for more could match nothing
        raise Invalid("tag", f"at most {MAX_TAGS} tag parameters")
    for tag in tags:
        if not TAG_PATTERN.fullmatch(tag):
            raise Invalid("tag", "tag must be 1 to 32 letters, digits, '_', '.', ':' or '-'")
    text = (text or "").strip()
    if len(text) > MAX_SEARCH_LENGTH:
        raise Invalid("q", f"q must be at most {MAX_SEARCH_LENGTH} characters")
    chosen: JobState | None = None
    if state:
        try:
            chosen = JobState(state)
        except ValueError:
            raise Invalid("state", f"state must be one of: {', '.join(s.value for s in JobState)}") from None
    only_failing = False
    if failing:
        parsed = parse_bool(failing)
        if parsed is None:
            raise Invalid("failing", "failing must be true or false")
        only_failing = parsed
    return JobFilter(tags=tuple(dict.fromkeys(tags)), text=text, state=chosen, failing=only_failing)


def check_fields(fields: dict[str, Any], allowed: tuple[str, ...]) -> None:
    for key in fields:
        if key not in allowed:
            raise Invalid(key, f"unknown or unchangeable field {key!r}; allowed: {', '.join(allowed)}")


def data_object(data: object) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise Invalid("data", "data must be a JSON object")
    return data


def policy_fields(fields: dict[str, Any], current: dict[str, Any]) -> dict[str, Any]:
    """The job's policy after this request: given fields replace current ones; null removes one."""
    merged = dict(current)
    for key in POLICY_FIELDS:
        if key in fields:
            if fields[key] is None:
                merged.pop(key, None)
            else:
                merged[key] = fields[key]
    parse_policy(merged)
    for name in ("start_at", "end_at"):
        check_new_instant(fields, name)
    if fields.get("notify_url") is not None:
        check_url(fields["notify_url"], "notify_url")  # a new one meets the rules every target a client sends does
    return merged
