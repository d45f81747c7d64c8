"""AuditLog: rows written in the transaction of the change they describe, read newest first, trimmed by age."""

from __future__ import annotations

import time
from dataclasses import replace

import pytest

from tests.contract.conftest import T0, make_job, new_job
from veggiecron.audit import SYSTEM_ACTOR, Actor, AuditEntry, entry
from veggiecron.errors import NotFound
from veggiecron.model import Pause, Progress, User
from veggiecron.store import Store


def row(user: User, action: str, target: str, at: float = T0, **changes: object) -> AuditEntry:
    return entry(Actor.of(user, "192.0.2.7", 12), action, target, at, user.id, dict(changes) or None)


# The database refuses this row (its action breaks the table's CHECK), after the change's own
# statements ran: what the change wrote must be rolled back with it.
REFUSED = AuditEntry(at=T0, actor="alice", action="", target="job:x")


async def test_a_job_change_and_its_row_commit_together(store: Store, alice: User) -> None:
    created = await store.create_job(new_job(alice.id, "x"), None, (row(alice, "job.created", "job:x"),))
    changed = await store.update_job(
        replace(created, schedule="every 20 seconds"), None, (row(alice, "job.changed", "job:x"),)
    )
    await store.delete_job(changed.id, (row(alice, "job.deleted", "job:x"),))
    entries, count = await store.list_audit(alice.id, 10, 0)
    assert count == 3 and [e.action for e in entries] == ["job.deleted", "job.changed", "job.created"]
    first = entries[-1]
    assert (first.actor, first.actor_id, first.owner_id, first.address, first.token_id) == (
        "alice",
        alice.id,
        alice.id,
        "192.0.2.7",
        12,
    )
    assert first.id > 0 and first.at == T0


async def test_a_refused_row_rolls_back_its_change(store: Store, alice: User) -> None:
    with pytest.raises(Exception):  # noqa: B017, PT011 - each store names the refusal its own way
        await store.create_job(new_job(alice.id, "x"), None, (REFUSED,))
    with pytest.raises(NotFound):
        await store.get_job(alice.id, "x")

    job = await make_job(store, alice.id, "y")
    with pytest.raises(Exception):  # noqa: B017, PT011
        await store.update_job(replace(job, schedule="every 20 seconds"), None, (REFUSED,))
    assert await store.get_job(alice.id, "y") == job
    with pytest.raises(Exception):  # noqa: B017, PT011
        await store.delete_job(job.id, (REFUSED,))
    assert await store.get_job(alice.id, "y") == job
    assert (await store.list_audit(None, 10, 0))[1] == 0  # and no row without its change


async def test_each_user_sees_their_rows_and_system_rows_on_their_jobs(store: Store, alice: User, bob: User) -> None:
    await store.record_audit([row(alice, "login", "user:alice"), row(bob, "login", "user:bob")])
    await store.record_audit([entry(SYSTEM_ACTOR, "job.paused", "job:x", T0 + 1, alice.id, {"reason": "3 failures"})])
    await store.record_audit([AuditEntry(at=T0 + 2, actor="mallory", action="login.failed", target="user:mallory")])
    alices, count = await store.list_audit(alice.id, 10, 0)
    assert count == 2 and [(e.actor, e.action) for e in alices] == [("system", "job.paused"), ("alice", "login")]
    assert alices[0].changes == {"reason": "3 failures"} and alices[0].actor_id is None
    assert [e.actor for e in (await store.list_audit(bob.id, 10, 0))[0]] == ["bob"]
    everyone, count = await store.list_audit(None, 2, 1)
    assert count == 4 and [e.action for e in everyone] == ["job.paused", "login"]
    assert (await store.list_audit(None, 10, 0, action="login"))[1] == 2
    assert (await store.list_audit(None, 10, 0, target="user:bob"))[1] == 1
    assert (await store.list_audit(alice.id, 10, 0, action="login", target="user:bob"))[1] == 0


async def test_trim_removes_old_rows_in_bounded_batches(store: Store, alice: User) -> None:
    await store.record_audit([row(alice, "login", "user:alice", T0 + i) for i in range(5)])
    assert await store.trim_audit(T0 + 3, 2) == 1  # rows at T0 and T0+1 went; T0+2 is left
    assert await store.trim_audit(T0 + 3, 2) == 0
    entries, count = await store.list_audit(alice.id, 10, 0)
    assert count == 2 and [e.at for e in entries] == [T0 + 4, T0 + 3]


async def test_an_auto_pause_writes_a_system_row_where_it_applies(store: Store, alice: User) -> None:
    paused = await make_job(store, alice.id, "paused")
    changed = await make_job(store, alice.id, "changed")
    await store.update_job(replace(changed, schedule="every minute"))
    await store.record_progress(Progress(pauses=[Pause(paused.id, 1, "failed 3 times"), Pause(changed.id, 1, "stale")]))
    entries, count = await store.list_audit(alice.id, 10, 0)
    assert count == 1, entries
    (pause,) = entries
    assert (pause.actor, pause.action, pause.target, pause.owner_id) == ("system", "job.paused", "job:paused", alice.id)
    assert pause.changes == {
        "enabled": {"old": True, "new": False},
        "paused_reason": {"old": None, "new": "failed 3 times"},
    }
    assert abs(pause.at - time.time()) < 60  # the database's clock


async def test_account_writes_and_their_rows_commit_together(store: Store, alice: User) -> None:
    def registered(user_id: int) -> list[AuditEntry]:
        return [entry(Actor("carol", user_id, "192.0.2.9"), "user.registered", "user:carol", T0, user_id)]

    carol = await store.create_user("carol", "hash", T0, audit=registered)

    def login(token_id: int) -> list[AuditEntry]:
        return [entry(Actor.of(carol, "192.0.2.9", token_id), "login", "user:carol", T0 + 1, carol.id)]

    token_id = await store.create_token(carol.id, "carol-token", T0 + 1, T0 + 99, audit=login)
    await store.set_admin(carol.id, True, T0 + 2, audit=(row(carol, "user.promoted", "user:carol", T0 + 2),))
    revoked = (row(carol, "token.revoked", f"token:{token_id}", T0 + 3),)
    assert await store.delete_user_token(carol.id, token_id, audit=revoked)
    # Nothing was revoked the second time: no row either.
    assert not await store.delete_user_token(carol.id, token_id, audit=revoked)
    await store.delete_token("no-such-token", audit=(row(carol, "logout", "user:carol", T0 + 4),))
    await store.delete_user_tokens(carol.id, audit=(row(carol, "tokens.revoked", "user:carol", T0 + 5),))
    entries, count = await store.list_audit(carol.id, 10, 0)
    assert [e.action for e in entries] == [
        "tokens.revoked",
        "token.revoked",
        "user.promoted",
        "login",
        "user.registered",
    ]
    assert count == 5
    assert (entries[-1].owner_id, entries[-1].actor_id) == (carol.id, carol.id)  # the id the insert gave
    assert entries[-2].token_id == token_id


async def test_a_refused_row_rolls_back_its_account_change(store: Store, alice: User) -> None:
    with pytest.raises(Exception):  # noqa: B017, PT011 - each store names the refusal its own way
        await store.create_user("dave", "hash", T0, audit=lambda _user_id: [REFUSED])
    assert await store.user_credentials("dave") is None
    with pytest.raises(Exception):  # noqa: B017, PT011
        await store.create_token(alice.id, "alice-token", T0, T0 + 99, audit=lambda _token_id: [REFUSED])
    assert await store.user_for_token("alice-token", T0) is None
    with pytest.raises(Exception):  # noqa: B017, PT011
        await store.set_admin(alice.id, True, T0, audit=(REFUSED,))
    assert not (await store.get_user(alice.id) or alice).is_admin
    token_id = await store.create_token(alice.id, "kept", T0, T0 + 99)
    with pytest.raises(Exception):  # noqa: B017, PT011
        await store.delete_user_token(alice.id, token_id, audit=(REFUSED,))
    with pytest.raises(Exception):  # noqa: B017, PT011
        await store.delete_token("kept", audit=(REFUSED,))
    with pytest.raises(Exception):  # noqa: B017, PT011
        await store.delete_user_tokens(alice.id, audit=(REFUSED,))
    assert await store.user_for_token("kept", T0) is not None
    assert (await store.list_audit(None, 10, 0))[1] == 0
