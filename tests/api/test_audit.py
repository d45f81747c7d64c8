"""The audit log over the real server: every change a row, in order, seen by whom it concerns."""

from __future__ import annotations

from typing import Any

import aiohttp

from tests.api.test_runs import run_now
from tests.helpers import Api, Sink
from veggiecron.app import Server
from veggiecron.audit import SYSTEM_ACTOR, entry


async def audit_of(api: Api, **params: Any) -> dict[str, Any]:
    status, body = await api.call("GET", "/audit", params=params or None)
    assert status == 200, body
    data: dict[str, Any] = body["data"]
    return data


async def test_create_change_run_and_delete_show_four_rows_newest_first(
    user_api: Api, sink: Sink, server: Server, session: aiohttp.ClientSession
) -> None:
    data = {"url": sink.url + "/a", "headers": {"Authorization": "Bearer hunter2"}}
    await user_api.create_job("nightly", "", schedule="every 1 hours", data=data, tags=["ops"])
    status, body = await user_api.call("PATCH", "/job/nightly", json={"schedule": "every 2 hours", "enabled": False})
    assert status == 200, body
    await run_now(user_api, "nightly")
    status, body = await user_api.call("DELETE", "/job/nightly")
    assert status == 200, body

    log = await audit_of(user_api, target="job:nightly")
    assert log["count"] == 4 and log["offset"] == 0 and log["limit"] >= 4
    actions = [e["action"] for e in log["entries"]]
    assert actions == ["job.deleted", "job.run", "job.changed", "job.created"]
    created, changed = log["entries"][3], log["entries"][2]
    assert created["changes"]["schedule"] == "every hour"  # the canonical form, as stored
    assert changed["changes"]["schedule"] == {"old": "every hour", "new": "every 2 hours"}
    assert changed["changes"]["enabled"] == {"old": True, "new": False}
    assert set(changed["changes"]) == {"schedule", "enabled"}
    status, body = await user_api.call("GET", "/tokens")
    (token,) = body["data"]["tokens"]
    for row in log["entries"]:
        assert row["actor"] == "alice" and row["address"] == "127.0.0.1", row
        assert row["token_id"] == token["id"], row  # the token's id, never the token
        assert row["at_iso"].endswith("Z") and row["at"] > 0
    times = [e["at"] for e in log["entries"]]
    assert times == sorted(times, reverse=True)
    assert user_api.token is not None and user_api.token not in str(log)  # never the token
    assert "hunter2" not in str(log) and created["changes"]["data"]["headers"] == {"Authorization": "set"}

    # Another user sees none of it, and may not ask for it.
    other = Api(user_api.base, session)
    await other.register_and_login("bob")
    assert not [e for e in (await audit_of(other))["entries"] if e["target"].startswith("job:")]
    status, body = await other.call("GET", "/audit", params={"user": "alice"})
    assert status == 403, body
    assert (await audit_of(other, target="job:nightly"))["count"] == 0

    # An admin sees everyone's, or one user's.
    bob = await server.store.user_credentials("bob")
    assert bob is not None
    await server.ctx.accounts.set_admin(bob[0].id, True)
    assert (await audit_of(other, user="alice", target="job:nightly"))["count"] == 4
    assert (await audit_of(other, action="job.created"))["count"] == 1


async def test_account_rows_and_filters(api: Api) -> None:
    await api.register_and_login("carol")
    status, _body = await api.call("POST", "/login", json={"username": "carol", "password": "wrong-one"})
    assert status == 401
    log = await audit_of(api)
    actions = [e["action"] for e in log["entries"]]
    assert actions == ["login", "user.registered"], actions
    status, body = await api.call("GET", "/tokens")
    assert log["entries"][0]["token_id"] == body["data"]["tokens"][0]["id"]  # the token the login created
    status, body = await api.call("DELETE", f"/tokens/{body['data']['tokens'][0]['id']}")
    assert status == 200
    # A failed login belongs to no account (the name is only a claim): only admins see it.
    api.token = await api.register_and_login("carol2")  # carol's only token is revoked: look as another
    status, body = await api.call("POST", "/login", json={"username": "carol", "password": "s3cret-pass"})
    api.token = body["data"]["token"]
    status, body = await api.call("GET", "/audit", params={"limit": 2, "offset": 1})
    assert status == 200 and [e["action"] for e in body["data"]["entries"]] == ["token.revoked", "login"]
    status, _body = await api.call("POST", "/logout")
    assert status == 200
    status, body = await api.call("POST", "/login", json={"username": "carol", "password": "s3cret-pass"})
    api.token = body["data"]["token"]
    (logout,) = (await audit_of(api, action="logout"))["entries"]
    assert logout["actor"] == "carol" and logout["token_id"]  # the token it ended
    status, body = await api.call("GET", "/audit", params={"limit": 0})
    assert status == 400 and body["data"]["field"] == "limit", body


async def test_the_api_never_changes_a_row(user_api: Api) -> None:
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        status, _body = await user_api.call(method, "/audit", json={})
        assert status == 405, method


async def test_maintenance_trims_rows_older_than_max_age(server: Server) -> None:
    now = server.clock.now()
    old = [entry(SYSTEM_ACTOR, "job.paused", f"job:{i}", now - 366 * 86400, None) for i in range(3)]
    await server.store.record_audit([*old, entry(SYSTEM_ACTOR, "job.paused", "job:new", now - 86400, None)])
    await server.maintenance.run_once()
    entries, count = await server.store.list_audit(None, 10, 0)
    assert count == 1 and entries[0].target == "job:new"


async def test_seed_schedules_write_rows_without_their_auth_token(user_api: Api, sink: Sink) -> None:
    schedule = {"endpoint": sink.url + "/seed", "interval_definition": "1 hours", "auth_token": "seed-secret-1"}
    status, body = await user_api.call("POST", "/api/v1/schedule/", json=schedule)
    assert status == 201, body
    status, _body = await user_api.call("DELETE", f"/api/v1/schedule/{body['id']}/")
    assert status == 204
    rows = (await audit_of(user_api, target=f"job:seed-{body['id']}"))["entries"]
    assert [r["action"] for r in rows] == ["job.deleted", "job.created"]
    assert all(r["address"] == "127.0.0.1" and r["token_id"] for r in rows)
    assert "seed-secret-1" not in str(rows) and rows[1]["changes"]["data"]["headers"] == {"Authorization": "set"}
