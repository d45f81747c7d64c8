"""Readable logs: UTC times in text lines, one JSON object per line with the same fields, ISO helpers."""

from __future__ import annotations

import io
import json
import logging
import sys
from dataclasses import replace
from importlib.util import find_spec

import pytest

from veggiecron.config import LoggingSection, load_config
from veggiecron.logs import JsonFormatter, StartupError, UtcFormatter, configure_logging, start_error_reporting
from veggiecron.times import iso_utc_millis, with_utc

T = 1_800_000_000.25  # 2027-01-15T08:00:00.250Z


def record(message: str = "job %s: run failed", *args: object, **extra: object) -> logging.LogRecord:
    made = logging.makeLogRecord({"name": "veggiecron.scheduler", "levelno": logging.WARNING, "levelname": "WARNING"})
    made.msg, made.args, made.created = message, args or ("sync",), T
    made.__dict__.update(extra)
    return made


def test_iso_utc_is_readable_and_exact_to_the_millisecond() -> None:
    assert iso_utc_millis(T) == "2027-01-15T08:00:00.250Z"
    assert iso_utc_millis(0) == "1970-01-01T00:00:00.000Z"
    assert iso_utc_millis(None) is None
    assert with_utc({"due_at": T, "next_run": None}, "due_at", "next_run") == {
        "due_at": T,
        "due_at_utc": "2027-01-15T08:00:00.250Z",
        "next_run": None,
        "next_run_utc": None,
    }


def test_text_lines_carry_utc_times() -> None:
    line = UtcFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s").format(record())
    assert line == "2027-01-15T08:00:00.250Z WARNING veggiecron.scheduler: job sync: run failed"


def test_json_lines_are_one_object_with_the_same_fields_and_extras() -> None:
    line = JsonFormatter().format(record(job="sync", job_id=4, due_at=T))
    assert "\n" not in line
    assert json.loads(line) == {
        "time": "2027-01-15T08:00:00.250Z",
        "level": "WARNING",
        "logger": "veggiecron.scheduler",
        "message": "job sync: run failed",
        "job": "sync",
        "job_id": 4,
        "due_at": T,
    }


def test_json_lines_hold_the_exception_in_one_line() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        failed = logging.makeLogRecord({"msg": "failed", "exc_info": sys.exc_info()})
    entry = json.loads(JsonFormatter().format(failed))
    assert entry["message"] == "failed" and "ValueError: boom" in entry["exception"]


def test_logging_format_json_configures_the_root_logger(monkeypatch: pytest.MonkeyPatch) -> None:
    stream = io.StringIO()
    monkeypatch.setattr("sys.stderr", stream)
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    try:
        configure_logging(replace(load_config(None), logging=LoggingSection(format="json")))
        logging.getLogger("veggiecron.test").info("hello %s", "there", extra={"job": "sync"})
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
    entry = json.loads(stream.getvalue().strip())
    assert (entry["message"], entry["logger"], entry["level"], entry["job"]) == (
        "hello there",
        "veggiecron.test",
        "INFO",
        "sync",
    )


@pytest.mark.skipif(find_spec("sentry_sdk") is not None, reason="sentry-sdk is installed: it cannot be missing")
def test_a_sentry_dsn_without_sentry_sdk_is_one_clear_error() -> None:
    # requirements-dev.txt leaves the sentry extra out; tests/e2e/test_install.py installs it and sends an event.
    config = replace(load_config(None), logging=LoggingSection(sentry_dsn="https://key@sentry.example.org/1"))
    with pytest.raises(StartupError, match=r"pip install 'veggiecron\[sentry\]'"):
        start_error_reporting(config)


def test_a_scheduler_line_about_a_job_names_it_as_json_fields(caplog: pytest.LogCaptureFixture) -> None:
    """logging.format json: a run's failure carries job_id and job_name as fields, besides the text."""
    from veggiecron.logs import job_fields
    from veggiecron.scheduler.executor import logger as executor_logger

    with caplog.at_level(logging.INFO, logger=executor_logger.name):
        executor_logger.info("job %d (%s): run due at %s failed", 4, "nightly", "2027-01-15T08:00:00+00:00",
                             extra=job_fields(4, "nightly"))  # fmt: skip
    line = json.loads(JsonFormatter().format(caplog.records[-1]))
    assert line["job_id"] == 4 and line["job_name"] == "nightly"
    assert line["message"] == "job 4 (nightly): run due at 2027-01-15T08:00:00+00:00 failed"


def test_iso_utc_past_the_calendar_is_none_not_an_error() -> None:
    assert iso_utc_millis(253402300800.0) is None  # 10000-01-01: datetime has no such year
    assert iso_utc_millis(1e300) is None
