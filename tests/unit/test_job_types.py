"""The job-type registry: what it loads, what it refuses, and that the built-in entry points are
the ones the package declares."""

from __future__ import annotations

import tomllib
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

from veggiecron.config import Config
from veggiecron.errors import Invalid
from veggiecron.jobtypes.base import TypeContext
from veggiecron.jobtypes.http.target import HttpTarget
from veggiecron.jobtypes.registry import BUILT_IN, GROUP, JobTypeError, JobTypes, discovered
from veggiecron.outbound import OutboundPolicy

ROOT = Path(__file__).resolve().parents[2]
CONTEXT = TypeContext(Config(), OutboundPolicy("test"))


def points(**values: str) -> dict[str, EntryPoint]:
    return {name: EntryPoint(name, value, GROUP) for name, value in values.items()}


def test_the_built_in_entry_points_are_the_ones_pyproject_declares() -> None:
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["entry-points"][GROUP]
    assert declared == BUILT_IN


def test_the_http_type_is_found_whether_or_not_the_package_is_installed() -> None:
    assert discovered()["http"].value == BUILT_IN["http"]
    types = JobTypes.load(CONTEXT)
    assert "http" in types.names
    target = types.parse("http", {"url": "http://127.0.0.1:9/", "retries": 1})
    assert isinstance(target, HttpTarget) and target.job_type == "http"
    assert target.lane is None  # a run with retries takes no lane slot for its whole length
    assert types.parse("http", {"url": "http://127.0.0.1:9/"}).lane == "http://127.0.0.1:9"


def test_an_unknown_type_is_a_clear_error_naming_the_field() -> None:
    types = JobTypes.load(CONTEXT)
    with pytest.raises(Invalid) as refused:
        types.get("ftp")
    assert refused.value.data["field"] == "type" and "http" in refused.value.description
    with pytest.raises(Invalid):
        types.get(["http"])


def test_a_type_that_cannot_be_loaded_stops_the_start_with_its_name() -> None:
    with pytest.raises(JobTypeError, match="'broken'.*no_such_module"):
        JobTypes.load(CONTEXT, points(http=BUILT_IN["http"], broken="no_such_module:Type"))


def test_a_type_must_call_itself_by_its_entry_points_name() -> None:
    with pytest.raises(JobTypeError, match="calls itself 'http'"):
        JobTypes.load(CONTEXT, points(http=BUILT_IN["http"], web=BUILT_IN["http"]))


def test_the_built_in_type_cannot_go_missing() -> None:
    with pytest.raises(JobTypeError, match="'http' is missing"):
        JobTypes.load(CONTEXT, {})
