"""What held http jobs share (memory per held job): a target holds only the part of its URL after
the origin, and jobs on one host share the origin with the rest of their options."""

from __future__ import annotations

from typing import Any

import pytest

from veggiecron.jobtypes.http.target import HttpTarget
from veggiecron.model import Job

from .conftest import CONFIG, T0, compiled


def stored(job_id: int, url: str = "http://127.0.0.1:9/a", **fields: Any) -> Job:
    values: dict[str, Any] = {
        "id": job_id,
        "user_id": 1,
        "name": f"job {job_id}",
        "type": "http",
        "data": {"url": url},
        "schedule": "every 10 seconds",
        "timezone": "UTC",
        "enabled": True,
        "next_run": T0 + 10,
        "anchor": T0,
        "version": 1,
        "date_created": T0,
        "date_updated": T0,
        **fields,
    }
    return Job(**values)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/j1",
        "HTTPS://user:secret@Example.com:8443/a/b;c?d=e&f=%20#g",
        "http://example.com",
        "http://example.com?only=query",
        "http://example.com#only-fragment",
        "http://[::1]:8080/six",
    ],
)
def test_an_http_target_sends_its_url_exactly_as_given(url: str) -> None:
    target = compiled(stored(1, url=url)).target
    assert isinstance(target, HttpTarget)
    assert target.url == url and url.startswith(target.options.origin) and target.url.endswith(target.path)
    assert target.oidc_audience == url  # no audience given: the URL


def test_http_jobs_on_one_host_share_its_options_and_hold_only_their_path() -> None:
    first = compiled(stored(1, url="http://127.0.0.1:9/first")).target
    second = compiled(stored(2, url="http://127.0.0.1:9/second?x=1")).target
    other_host = compiled(stored(3, url="http://127.0.0.2:9/first")).target
    assert isinstance(first, HttpTarget) and isinstance(second, HttpTarget) and isinstance(other_host, HttpTarget)
    assert first.options is second.options and first.options is not other_host.options
    assert (first.path, second.path, other_host.path) == ("/first", "/second?x=1", "/first")
    assert first.options.origin == "http://127.0.0.1:9" and CONFIG.http_client.timeout_seconds == first.timeout
