"""Logging: readable UTC lines or one JSON object per line, and unexpected errors to Sentry."""

from __future__ import annotations

import logging
import sys
from typing import Any

import orjson

from . import __version__
from .config import Config, log_level_number
from .times import iso_utc_millis

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# Attributes every LogRecord has; anything else on a record came from `extra=` and is a field.
_RECORD_ATTRIBUTES = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName"}


class StartupError(Exception):
    """The server cannot start as configured; the message is one line for a person."""


class UtcFormatter(logging.Formatter):
    """Times as ISO 8601 UTC (2026-11-30T05:39:08.805Z), whatever the machine's zone."""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802 - logging's name
        return iso_utc_millis(record.created) or ""


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the record's extra fields, the exception."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": iso_utc_millis(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _RECORD_ATTRIBUTES and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return orjson.dumps(entry, default=str).decode()


def job_fields(job_id: int, name: str) -> dict[str, Any]:
    """A job's log fields: `extra=` of every line about one job, so JSON lines can be filtered by job."""
    return {"job_id": job_id, "job_name": name}


def configure_logging(config: Config) -> None:
    """Log to stderr at log_level, as text or JSON lines (logging.format)."""
    handler = logging.StreamHandler(sys.stderr)
    formatter = JsonFormatter() if config.logging.format == "json" else UtcFormatter(TEXT_FORMAT)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(log_level_number(config))
    # One line per request at INFO would drown the job events.
    logging.getLogger("tornado.access").setLevel(max(logging.WARNING, log_level_number(config)))


def start_error_reporting(config: Config) -> bool:
    """Send unexpected errors (ERROR log records and unhandled exceptions) to Sentry when a DSN is set."""
    dsn = config.logging.sentry_dsn
    if not dsn:
        return False
    try:
        import sentry_sdk
    except ImportError:
        raise StartupError(
            "logging.sentry_dsn (SCHEDULER_SENTRY_DSN) is set but sentry-sdk is not installed: "
            "pip install 'veggiecron[sentry]'"
        ) from None
    try:
        sentry_sdk.init(
            dsn=dsn,
            environment=config.app.env,
            release=f"veggiecron@{__version__}",
            send_default_pii=False,  # request bodies and headers carry passwords and tokens
        )
    except Exception as exc:  # sentry-sdk refuses a malformed DSN with its own exception type
        raise StartupError(f"logging.sentry_dsn is not a valid Sentry DSN: {exc}") from None
    logging.getLogger(__name__).info("unexpected errors are reported to Sentry")
    return True
