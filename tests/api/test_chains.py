"""Jobs that run after other jobs, over the real API on one SQLite daemon: `after <job>`, `after
<job> fails`, `after <job> finishes`; each follower run carries its parent's run_id (in its run
record and as X-Veggiecron-Triggered-By), and the relation's rules answer 400 and 409 by name."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import aiohttp
import pytest

from tests.helpers import Api, Sink, assert_error, start_server, start_sink, test_config, wait_for
from veggiecron.app import Server
from veggiecron.config import Config, QuotasSection


@pytest.fixture
async def failing_sink() -> AsyncIterator[Sink]:
    sink, runner = await start_sink()
    sink.status = 500
    yield sink
    await runner.cleanup()


def triggered_by(sink: Sink, path: str) -> list[str]:
    return [h.headers["X-Veggiecron-Triggered-By"] for h in sink.paths(path)]


def run_ids(sink: Sink, path: str) -> list[str]:
    return [h.headers["Idempotency-Key"] for h in sink.paths(path)]


async def runs(api: Api, name: str) -> list[dict[str, Any]]:
    status, body = await api.call("GET", f"/job/{name}/runs")
    assert status == 200, body
    runs: list[dict[str, Any]] = body["data"]["runs"]
    return runs


async def test_a_follower_runs_after_each_successful_run_with_its_parents_run_id(user_api: Api, sink: Sink) -> None:
    await user_api.create_job("export", f"{sink.url}/export", "every 1 seconds")
    follower = await user_api.create_job("report", f"{sink.url}/report", "After export")
    assert follower["schedule"] == "after export"
    assert follower["next_run"] is None and follower["state"] == "scheduled"  # it waits for its parent
    await wait_for(lambda: len(sink.paths("/report")) >= 2, timeout=8)
    parents = run_ids(sink, "/export")
    # Each follower request names a parent run that reached the target, and no parent run twice.
    sent = triggered_by(sink, "/report")
    assert set(sent) <= set(parents) and len(set(sent)) == len(sent), (sent, parents)
    # The parent's request came before its follower's.
    first = sink.paths("/report")[0]
    parent_hit = next(h for h in sink.paths("/export") if h.headers["Idempotency-Key"] == sent[0])
    assert parent_hit.arrived_at <= first.arrived_at
    # The follower's run history records the same parent run_id.
    await wait_for(lambda: _has_triggered_runs(user_api, "report"), timeout=5)
    recorded = [r["triggered_by"] for r in await runs(user_api, "report")]
    assert set(recorded) <= set(parents) and all(recorded)


async def _has_triggered_runs(api: Api, name: str) -> bool:
    return any(r["triggered_by"] for r in await runs(api, name))


async def test_after_fails_and_after_finishes_follow_the_parents_outcome(
    user_api: Api, sink: Sink, failing_sink: Sink
) -> None:
    await user_api.create_job("good", f"{sink.url}/good", "every 1 seconds")
    await user_api.create_job("bad", f"{failing_sink.url}/bad", "every 1 seconds")
    await user_api.create_job("on-good-fail", f"{sink.url}/never", "after good fails")
    await user_api.create_job("on-bad-fail", f"{sink.url}/bad-failed", "after bad fails")
    await user_api.create_job("on-bad-ok", f"{sink.url}/never", "after bad")
    await user_api.create_job("on-good-any", f"{sink.url}/good-finished", "after good finishes")
    await user_api.create_job("on-bad-any", f"{sink.url}/bad-finished", "AFTER bad FINISHES")
    await wait_for(
        lambda: all(len(sink.paths(p)) >= 2 for p in ("/bad-failed", "/good-finished", "/bad-finished")), timeout=10
    )
    assert sink.paths("/never") == []
    bad_runs = set(run_ids(failing_sink, "/bad"))
    assert set(triggered_by(sink, "/bad-failed")) <= bad_runs
    assert set(triggered_by(sink, "/bad-finished")) <= bad_runs
    assert set(triggered_by(sink, "/good-finished")) <= set(run_ids(sink, "/good"))


async def test_a_chain_runs_hop_by_hop(user_api: Api, sink: Sink) -> None:
    await user_api.create_job("a", f"{sink.url}/a", "every 1 seconds")
    await user_api.create_job("b", f"{sink.url}/b", "after a")
    await user_api.create_job("c", f"{sink.url}/c", "after b")
    await wait_for(lambda: len(sink.paths("/c")) >= 1, timeout=8)
    c_parent = triggered_by(sink, "/c")[0]
    assert c_parent in run_ids(sink, "/b")  # c followed b's run, which followed a's
    b_hit = next(h for h in sink.paths("/b") if h.headers["Idempotency-Key"] == c_parent)
    assert b_hit.headers["X-Veggiecron-Triggered-By"] in run_ids(sink, "/a")


async def test_get_job_lists_the_parent_and_the_followers(user_api: Api, sink: Sink) -> None:
    await user_api.create_job("export", f"{sink.url}/x", "every 1 hours")
    await user_api.create_job("report", f"{sink.url}/x", "after export")
    await user_api.create_job("archive", f"{sink.url}/x", "after export finishes")
    status, body = await user_api.call("GET", "/job/export")
    assert status == 200, body
    assert body["data"]["parent"] is None and body["data"]["followers"] == ["archive", "report"]
    status, body = await user_api.call("GET", "/job/report")
    assert body["data"]["parent"] == "export" and body["data"]["followers"] == []
    status, body = await user_api.call("GET", "/job", params={"name": "archive"})
    assert body["data"]["parent"] == "export" and body["data"]["schedule"] == "after export finishes"


async def test_a_parent_that_does_not_exist_is_a_400_naming_it(user_api: Api, sink: Sink) -> None:
    status, body = await user_api.call(
        "POST", "/job", json={"name": "r", "type": "http", "data": {"url": sink.url}, "schedule": "after nothing"}
    )
    assert_error(status, body, 400, "schedule")
    assert body["data"]["parent"] == "nothing" and "'nothing'" in body["description"]
    status, _ = await user_api.call("GET", "/job/r")
    assert status == 404  # nothing was stored


async def test_another_users_job_is_no_parent(api: Api, session: aiohttp.ClientSession, sink: Sink) -> None:
    await api.register_and_login("bob", "s3cret-pass")
    await api.create_job("export", sink.url, "every 1 hours")
    alice = Api(api.base, session)
    await alice.register_and_login("alice", "s3cret-pass")
    status, body = await alice.call(
        "POST", "/job", json={"name": "r", "type": "http", "data": {"url": sink.url}, "schedule": "after export"}
    )
    assert_error(status, body, 400, "schedule")
    assert body["data"]["parent"] == "export"


async def test_a_seed_schedule_is_no_parent(user_api: Api, sink: Sink) -> None:
    status, body = await user_api.call(
        "POST",
        "/api/v1/schedule/",
        json={"endpoint": sink.url, "interval_definition": "1 hours"},
    )
    assert status in (200, 201), body
    status, body = await user_api.call("GET", "/job")
    seed_name = body["data"]["jobs"][0]["name"]
    status, body = await user_api.call(
        "POST", "/job", json={"name": "r", "type": "http", "data": {"url": sink.url}, "schedule": f"after {seed_name}"}
    )
    assert_error(status, body, 400, "schedule")
    assert "Seed" in body["description"]


async def test_a_cycle_is_a_400_naming_it(user_api: Api, sink: Sink) -> None:
    await user_api.create_job("a", sink.url, "every 1 hours")
    await user_api.create_job("b", sink.url, "after a")
    await user_api.create_job("c", sink.url, "after b")
    status, body = await user_api.call("PUT", "/job/a", json={"schedule": "after c"})
    assert_error(status, body, 400, "schedule")
    assert body["data"]["cycle"] == ["a", "c", "b", "a"]
    assert "a after c after b after a" in body["description"]
    status, body = await user_api.call("PUT", "/job/b", json={"schedule": "after b"})
    assert_error(status, body, 400, "schedule")
    assert body["data"]["cycle"] == ["b", "b"]
    status, body = await user_api.call("GET", "/job/a")
    assert body["data"]["schedule"] == "every hour"  # unchanged


async def test_deleting_a_followed_job_is_a_409_naming_the_followers(user_api: Api, sink: Sink) -> None:
    await user_api.create_job("export", sink.url, "every 1 hours")
    await user_api.create_job("report", sink.url, "after export")
    await user_api.create_job("archive", sink.url, "after export fails")
    status, body = await user_api.call("DELETE", "/job/export")
    assert status == 409, body
    assert body["data"]["followers"] == ["archive", "report"]
    assert "'archive'" in body["description"] and "'report'" in body["description"]
    status, body = await user_api.call("DELETE", "/job/export", params={"followers": "keep"})
    assert_error(status, body, 400, "followers")
    status, body = await user_api.call("GET", "/job/export")
    assert status == 200  # still there
    status, body = await user_api.call("DELETE", "/job/export", params={"followers": "disable"})
    assert status == 200, body
    for name in ("report", "archive"):
        status, body = await user_api.call("GET", f"/job/{name}")
        assert body["data"]["enabled"] is False and body["data"]["state"] == "disabled"
        assert body["data"]["parent"] is None
    # Enabling a follower whose parent is gone looks for the parent again by name: none now.
    status, body = await user_api.call("PUT", "/job/report", json={"enabled": True})
    assert_error(status, body, 400, "schedule")


async def test_changing_the_parent_never_touches_the_relation(user_api: Api, sink: Sink) -> None:
    """Dkron #279: a parent's update reset its dependent jobs."""
    await user_api.create_job("export", f"{sink.url}/export", "every 1 hours")
    await user_api.create_job("report", f"{sink.url}/report", "after export")
    changes: list[dict[str, Any]] = [
        {"schedule": "every 1 seconds"},
        {"data": {"url": f"{sink.url}/export2"}},
        {"enabled": False},
        {"enabled": True},
        {"tags": ["nightly"]},
    ]
    for change in changes:
        status, body = await user_api.call("PUT", "/job/export", json=change)
        assert status == 200, body
        status, body = await user_api.call("GET", "/job/export")
        assert body["data"]["followers"] == ["report"], change
    await wait_for(lambda: len(sink.paths("/report")) >= 1, timeout=8)
    assert set(triggered_by(sink, "/report")) <= set(run_ids(sink, "/export2"))


async def test_a_disabled_follower_records_its_triggers_as_skipped(user_api: Api, sink: Sink) -> None:
    await user_api.create_job("export", f"{sink.url}/export", "every 1 seconds")
    await user_api.create_job("report", f"{sink.url}/report", "after export", enabled=False)
    await wait_for(lambda: _skipped(user_api, "report"), timeout=8)
    skipped = [r for r in await runs(user_api, "report") if r["outcome"] == "skipped"]
    assert skipped[0]["triggered_by"] in run_ids(sink, "/export")
    assert "disabled" in skipped[0]["error"]
    assert sink.paths("/report") == []


async def test_a_follower_paused_by_its_failures_records_its_next_triggers_as_skipped(
    user_api: Api, sink: Sink, failing_sink: Sink
) -> None:
    """A pause after failures changes no version of the job: a copy of the follower compiled while
    it was enabled must not send its triggers once it is paused."""
    await user_api.create_job("export", f"{sink.url}/export", "every 1 seconds")
    await user_api.create_job("report", f"{failing_sink.url}/report", "after export", pause_after_failures=1)
    await wait_for(lambda: _skipped(user_api, "report"), timeout=10)
    status, body = await user_api.call("GET", "/job/report")
    assert status == 200 and body["data"]["enabled"] is False, body
    skipped = [r for r in await runs(user_api, "report") if r["outcome"] == "skipped"]
    assert "disabled" in skipped[0]["error"]
    assert len(failing_sink.paths("/report")) == 1  # the failure that paused it, and nothing after


async def _skipped(api: Api, name: str) -> bool:
    return any(r["outcome"] == "skipped" for r in await runs(api, name))


async def test_a_follower_keeps_its_own_overlap_policy(user_api: Api, sink: Sink) -> None:
    """The follower's slow runs overlap its parent's next triggers: overlap skip records them skipped."""
    sink.slow_delay = 2.5
    await user_api.create_job("export", f"{sink.url}/export", "every 1 seconds")
    await user_api.create_job("report", f"{sink.url}/slow/report", "after export", overlap="skip")
    await wait_for(lambda: _skipped(user_api, "report"), timeout=8)
    skipped = [r for r in await runs(user_api, "report") if r["outcome"] == "skipped"]
    assert skipped[0]["triggered_by"] in run_ids(sink, "/export")
    assert "in flight" in skipped[0]["error"]


async def test_a_follower_retries_by_its_own_policy(user_api: Api, sink: Sink, failing_sink: Sink) -> None:
    """Dkron #285: a retried child stopped. The follower's retries run, then its next trigger runs."""
    failing_sink.fail_first = 0
    await user_api.create_job("export", f"{sink.url}/export", "every 1 seconds")
    data = {"url": f"{failing_sink.url}/report", "retries": 2}
    await user_api.create_job("report", "", "after export", data=data)
    await wait_for(lambda: len(failing_sink.paths("/report")) >= 6, timeout=10)  # 2 triggers x 3 attempts
    await wait_for(lambda: _failed_runs(user_api, "report", 2), timeout=5)
    failed = [r for r in await runs(user_api, "report") if r["outcome"] == "failed"]
    assert all(r["attempts"] == 3 for r in failed[:2])
    assert len({r["triggered_by"] for r in failed}) == len(failed)  # each trigger ran once, with its retries


async def _failed_runs(api: Api, name: str, count: int) -> bool:
    return len([r for r in await runs(api, name) if r["outcome"] == "failed"]) >= count


def quota_config(db_file: str, runs_per_minute: int) -> Config:
    """The test server's settings with quotas of 100 jobs and `runs_per_minute` requests a minute."""
    return replace(
        test_config(db_file), quotas=QuotasSection(max_jobs_per_user=100, max_runs_per_minute=runs_per_minute)
    )


async def registered(server: Server, session: aiohttp.ClientSession) -> Api:
    """A new user of `server`, logged in."""
    api = Api(f"http://127.0.0.1:{server.port}", session)
    await api.register_and_login()
    return api


async def test_a_follower_counts_towards_quotas_at_its_parents_rate(
    db_file: str, session: aiohttp.ClientSession
) -> None:
    server = await start_server(quota_config(db_file, runs_per_minute=100))
    try:
        api = await registered(server, session)
        await api.create_job("export", "http://127.0.0.1:9/x", "every 1 seconds")  # 60 a minute
        status, body = await api.call(
            "POST",
            "/job",
            json={"name": "r", "type": "http", "data": {"url": "http://127.0.0.1:9/x"}, "schedule": "after export"},
        )
        assert status == 403, body  # 120 a minute
        assert body["data"]["quota"] == "max_runs_per_minute"
        await api.create_job("slow", "http://127.0.0.1:9/x", "every 1 hours")
        await api.create_job("r", "http://127.0.0.1:9/x", "after slow")  # 1 an hour more: fine
    finally:
        await server.stop()


async def test_a_recount_finds_each_follower_at_the_rate_of_its_chains_head(
    db_file: str, session: aiohttp.ClientSession
) -> None:
    """After a restart the server has no remembered totals: the recount walks each stored follower
    up its chain (by the user's jobs read once, not a query per link) to its head's rate."""
    config = quota_config(db_file, runs_per_minute=200)
    server = await start_server(config)
    try:
        api = await registered(server, session)
        await api.create_job("head", "http://127.0.0.1:9/x", "every 1 seconds")  # 60 a minute
        await api.create_job("mid", "http://127.0.0.1:9/x", "after head")  # 60 more
        await api.create_job("tail", "http://127.0.0.1:9/x", "after mid fails")  # 60 more: 180
        token = api.token
    finally:
        await server.stop()
    server = await start_server(config)
    try:
        api = Api(f"http://127.0.0.1:{server.port}", session)
        api.token = token
        job = {"name": "more", "type": "http", "data": {"url": "http://127.0.0.1:9/x"}}
        status, body = await api.call("POST", "/job", json={**job, "schedule": "every 2 seconds"})
        assert status == 403, body  # 180 + 30 a minute
        assert body["data"]["quota"] == "max_runs_per_minute"
        status, body = await api.call("POST", "/job", json={**job, "schedule": "every 4 seconds"})
        assert status == 201, body  # 180 + 15
    finally:
        await server.stop()


async def test_a_run_by_hand_triggers_the_followers(user_api: Api, sink: Sink) -> None:
    """Dkron #675: a parent triggered by hand did not trigger its dependent job."""
    await user_api.create_job("export", f"{sink.url}/export", "every 1 hours")
    await user_api.create_job("report", f"{sink.url}/report", "after export")
    status, body = await user_api.call("POST", "/job/export/run")
    assert status == 202, body
    await wait_for(lambda: len(sink.paths("/report")) == 1, timeout=5)
    assert triggered_by(sink, "/report") == [body["data"]["run_id"]]


async def test_every_parent_run_triggers_its_follower_once(user_api: Api, sink: Sink) -> None:
    """Dkron #388: dependent jobs missed executions of a parent firing every minute. Here every
    parent run gives exactly one follower run, naming it, over several seconds of runs."""
    await user_api.create_job("parent1", f"{sink.url}/parent1", "every 1 seconds", overlap="allow")
    await user_api.create_job("chain1", f"{sink.url}/chain1", "after parent1", overlap="allow")
    await wait_for(lambda: len(sink.paths("/parent1")) >= 5, timeout=10)
    await user_api.call("PUT", "/job/parent1", json={"enabled": False})

    async def settled() -> bool:  # every parent run sent is recorded, and so is its follower's
        parents = len(sink.paths("/parent1"))
        return len(await runs(user_api, "parent1")) == parents == len(await runs(user_api, "chain1"))

    await wait_for(settled, timeout=8)
    parents = run_ids(sink, "/parent1")
    assert sorted(triggered_by(sink, "/chain1")) == sorted(parents)
    recorded = [r["triggered_by"] for r in await runs(user_api, "chain1")]
    assert sorted(recorded) == sorted(parents)


async def _recorded(api: Api, name: str, count: int) -> bool:
    return len(await runs(api, name)) >= count


async def test_a_deleted_follower_leaves_its_parent_and_the_other_followers_alone(user_api: Api, sink: Sink) -> None:
    """Dkron #499: a deleted child stayed in its parent's list, and the parent's next run failed
    (and its other children might not run)."""
    await user_api.create_job("a", f"{sink.url}/a", "every 1 hours")
    await user_api.create_job("b", f"{sink.url}/b", "after a")
    await user_api.create_job("c", f"{sink.url}/c", "after a")
    status, body = await user_api.call("DELETE", "/job/b")
    assert status == 200, body
    status, body = await user_api.call("GET", "/job/a")
    assert body["data"]["followers"] == ["c"]
    status, body = await user_api.call("POST", "/job/a/run")
    assert status == 202, body
    await wait_for(lambda: len(sink.paths("/c")) == 1, timeout=5)
    await wait_for(lambda: _recorded(user_api, "a", 1), timeout=5)
    assert [r["outcome"] for r in await runs(user_api, "a")] == ["ok"]
    assert sink.paths("/b") == []
    # A new job of the deleted follower's name is no follower unless it says so.
    await user_api.create_job("b", f"{sink.url}/b", "every 1 hours")
    status, body = await user_api.call("POST", "/job/a/run")
    await wait_for(lambda: len(sink.paths("/c")) == 2, timeout=5)
    assert sink.paths("/b") == []


async def test_a_follower_checks_its_own_response_assertions(user_api: Api, sink: Sink) -> None:
    """The follower's run is judged by its own data.expect: the sink's 200 fails its status check."""
    await user_api.create_job("export", f"{sink.url}/export", "every 1 hours")
    data = {"url": f"{sink.url}/report", "expect": {"status": [201]}}
    await user_api.create_job("report", "", "after export", data=data)
    status, body = await user_api.call("POST", "/job/export/run")
    assert status == 202, body
    await wait_for(lambda: _failed_runs(user_api, "report", 1), timeout=5)
    [run] = await runs(user_api, "report")
    assert run["triggered_by"] == body["data"]["run_id"] and run["error_class"] == "assertion"
