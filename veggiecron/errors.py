"""Typed domain errors; api/base.py maps each to an HTTP status and the error envelope."""

from __future__ import annotations

from typing import Any


class VeggiecronError(Exception):
    """Base of every error the domain raises on purpose."""

    status_code = 500

    def __init__(self, description: str, data: dict[str, Any] | None = None) -> None:
        super().__init__(description)
        self.description = description
        self.data: dict[str, Any] = data or {}


class Invalid(VeggiecronError):
    """Bad input; `field` names what was wrong."""

    status_code = 400

    def __init__(self, field: str, description: str, data: dict[str, Any] | None = None) -> None:
        super().__init__(description, {"field": field, **(data or {})})
        self.field = field


class Unauthorized(VeggiecronError):
    status_code = 401


class Forbidden(VeggiecronError):
    status_code = 403


class NotFound(VeggiecronError):
    status_code = 404


class Conflict(VeggiecronError):
    status_code = 409


class PayloadTooLarge(VeggiecronError):
    status_code = 413


class TooManyRequests(VeggiecronError):
    """Throttled; `retry_after` seconds until a new attempt may succeed."""

    status_code = 429

    def __init__(self, description: str, retry_after: int) -> None:
        super().__init__(description, {"retry_after": retry_after})
        self.retry_after = retry_after


class StoreUnavailable(VeggiecronError):
    """The database cannot take writes right now (locked, full disk, read-only)."""

    status_code = 503
