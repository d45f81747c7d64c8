"""What held jobs share (memory per held job): the rules of jobs alike are one object, and an http
target holds only the part of its URL after the origin, which jobs on one host share."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from veggiecron.job_rules import shared_rules
from veggiecron.jobtypes.http.target import HttpTarget
from veggiecron.model import Job
from veggiecron.policies import Jittered

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


def test_jobs_alike_share_one_rules_object_and_jobs_unlike_do_not() -> None:
    first, second = compiled(stored(1)), compiled(stored(2, policy={"catch_up": "all"}))
    alike = compiled(stored(3, url="http://example.com/other", policy={"catch_up": "all"}))
    assert second.rules is alike.rules and first.rules is not second.rules
    assert (second.policy.catch_up.catch_up, first.policy.catch_up.catch_up) == ("all", "latest")
    capped = compiled(stored(4, max_runs=3, consecutive_failures=2))
    assert capped.rules is not first.rules
    assert (capped.max_runs, capped.consecutive_failures, first.max_runs, first.consecutive_failures) == (3, 2, None, 0)
    disabled = compiled(stored(5, enabled=False))
    assert disabled.enabled is False and first.enabled is True
    # A follower that paused itself is held again with its rules switched off (chains.py): the same object.
    assert shared_rules(replace(first.rules, enabled=False)) is disabled.rules


def test_a_jittered_job_keeps_its_own_timing() -> None:
    one, two = (compiled(stored(n, policy={"jitter_seconds": 5})) for n in (1, 2))
    assert isinstance(one.timing, Jittered) and isinstance(two.timing, Jittered)
    assert one.timing.offset != two.timing.offset  # drawn from each job's own name
    assert one.rules is not two.rules
    assert one.timing.next_after(T0, T0) == T0 + 10 + one.timing.offset


def test_a_copy_with_other_progress_keeps_the_shared_rules() -> None:
    job = compiled(stored(1))
    moved = replace(job, next_run=T0 + 20, run_count=4)
    assert moved.rules is job.rules and (moved.next_run, moved.run_count) == (T0 + 20, 4)


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
