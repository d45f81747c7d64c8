"""AccountStore: users, their tokens (hashes only) and groups."""

from __future__ import annotations

import pytest

from tests.contract.conftest import T0
from veggiecron.errors import Conflict
from veggiecron.model import User
from veggiecron.store import Store

DAY = 86_400.0


async def test_create_user_answers_what_get_user_reads_back(store: Store) -> None:
    plain = await store.create_user("carol", "carol-hash", T0)
    assert plain.id > 0
    assert (plain.username, plain.is_admin, plain.email) == ("carol", False, "")
    assert (plain.date_created, plain.date_updated) == (T0, T0)
    admin = await store.create_user("dave", "dave-hash", T0 + 1, is_admin=True, email="dave@example.org")
    assert admin.id != plain.id
    assert (admin.is_admin, admin.email, admin.date_created) == (True, "dave@example.org", T0 + 1)
    assert await store.get_user(plain.id) == plain
    assert await store.get_user(admin.id) == admin
    assert await store.get_user(admin.id + plain.id + 1000) is None


async def test_create_user_conflicts_on_a_taken_username(store: Store, alice: User) -> None:
    with pytest.raises(Conflict) as raised:
        await store.create_user("alice", "another-hash", T0 + 5, is_admin=True)
    assert raised.value.data["field"] == "username"
    # The refused user changed nothing: alice keeps her password and rights.
    assert await store.user_credentials("alice") == (alice, "alice-hash")
    assert (await store.list_users(None, 10, 0))[1] == 1


async def test_user_credentials_answers_the_user_and_password_hash(store: Store, alice: User, bob: User) -> None:
    assert await store.user_credentials("alice") == (alice, "alice-hash")
    assert await store.user_credentials("bob") == (bob, "bob-hash")
    assert await store.user_credentials("mallory") is None


async def test_replace_password_hash_swaps_only_the_hash_still_stored(store: Store, alice: User, bob: User) -> None:
    """A login's rehash replaces the hash it checked, and nothing else; a hash changed meanwhile wins."""
    assert not await store.replace_password_hash(alice.id, "not-alice-hash", "lost-hash")
    assert await store.user_credentials("alice") == (alice, "alice-hash")
    assert await store.replace_password_hash(alice.id, "alice-hash", "$bcrypt-sha256$new")
    # The same user, date_updated included: a rehash of the same password is no change to the user.
    assert await store.user_credentials("alice") == (alice, "$bcrypt-sha256$new")
    assert not await store.replace_password_hash(alice.id, "alice-hash", "older-rehash")
    assert await store.user_credentials("alice") == (alice, "$bcrypt-sha256$new")
    assert await store.user_credentials("bob") == (bob, "bob-hash")
    assert not await store.replace_password_hash(alice.id + bob.id + 1000, "bob-hash", "x")


async def test_set_admin_grants_and_revokes(store: Store, alice: User, bob: User) -> None:
    await store.set_admin(alice.id, True, T0 + 10)
    granted = await store.get_user(alice.id)
    assert granted is not None
    assert (granted.is_admin, granted.date_updated, granted.date_created) == (True, T0 + 10, T0)
    assert await store.get_user(bob.id) == bob
    await store.set_admin(alice.id, False, T0 + 20)
    revoked = await store.get_user(alice.id)
    assert revoked is not None
    assert (revoked.is_admin, revoked.date_updated) == (False, T0 + 20)


async def test_list_users_pages_newest_first_and_can_show_only_one(store: Store) -> None:
    users = [await store.create_user(f"user{i}", "hash", T0 + i) for i in range(5)]
    newest_first = list(reversed(users))
    pages = [await store.list_users(None, 2, offset) for offset in (0, 2, 4)]
    assert [page for page, _ in pages] == [newest_first[0:2], newest_first[2:4], newest_first[4:]]
    assert [count for _, count in pages] == [5, 5, 5]
    assert await store.list_users(users[2].id, 10, 0) == ([users[2]], 1)
    assert await store.list_users(users[-1].id + 1000, 10, 0) == ([], 0)


async def test_user_for_token_honours_expiry(store: Store, alice: User, bob: User) -> None:
    await store.create_token(alice.id, "alice-token", T0, T0 + DAY)
    await store.create_token(bob.id, "bob-token", T0, T0 + 2 * DAY)
    assert await store.user_for_token("alice-token", T0 + 1) == (alice, T0 + DAY)
    assert await store.user_for_token("bob-token", T0 + 1) == (bob, T0 + 2 * DAY)
    assert await store.user_for_token("alice-token", T0 + DAY + 1) is None
    assert await store.user_for_token("bob-token", T0 + DAY + 1) == (bob, T0 + 2 * DAY)
    assert await store.user_for_token("no-such-token", T0 + 1) is None


async def test_list_tokens_marks_the_current_one_and_hides_expired_ones(store: Store, alice: User, bob: User) -> None:
    await store.create_token(alice.id, "old", T0, T0 + DAY)  # expired by the time of listing
    await store.create_token(alice.id, "laptop", T0 + 1, T0 + 10 * DAY)
    await store.create_token(alice.id, "phone", T0 + 2, T0 + 10 * DAY)
    await store.create_token(alice.id, "script", T0 + 3, T0 + 10 * DAY)
    await store.create_token(bob.id, "bobs", T0 + 4, T0 + 10 * DAY)
    now = T0 + 2 * DAY
    tokens, count = await store.list_tokens(alice.id, "phone", now, 10, 0)
    assert count == 3
    assert [(t.created_at, t.expires_at, t.current) for t in tokens] == [
        (T0 + 3, T0 + 10 * DAY, False),
        (T0 + 2, T0 + 10 * DAY, True),
        (T0 + 1, T0 + 10 * DAY, False),
    ]
    assert len({t.id for t in tokens}) == 3
    page, count = await store.list_tokens(alice.id, "phone", now, 1, 1)
    assert (page, count) == ([tokens[1]], 3)
    # Another user's hash is never "current" for alice, and her list never shows bob's token.
    others, _ = await store.list_tokens(alice.id, "bobs", now, 10, 0)
    assert [t.current for t in others] == [False, False, False]
    (bobs,), count = await store.list_tokens(bob.id, "bobs", now, 10, 0)
    assert (bobs.created_at, bobs.current, count) == (T0 + 4, True, 1)


async def test_delete_user_token_revokes_only_the_users_own_token(store: Store, alice: User, bob: User) -> None:
    await store.create_token(alice.id, "alice-token", T0, T0 + DAY)
    await store.create_token(bob.id, "bob-token", T0, T0 + DAY)
    ((alices,), _) = await store.list_tokens(alice.id, "", T0, 10, 0)
    ((bobs,), _) = await store.list_tokens(bob.id, "", T0, 10, 0)
    assert await store.delete_user_token(alice.id, bobs.id) is False
    assert await store.user_for_token("bob-token", T0) == (bob, T0 + DAY)
    assert await store.delete_user_token(alice.id, alices.id) is True
    assert await store.user_for_token("alice-token", T0) is None
    assert await store.delete_user_token(alice.id, alices.id) is False  # already gone


async def test_delete_token_forgets_that_token_only(store: Store, alice: User) -> None:
    await store.create_token(alice.id, "logged-out", T0, T0 + DAY)
    await store.create_token(alice.id, "still-in", T0, T0 + DAY)
    await store.delete_token("logged-out")
    assert await store.user_for_token("logged-out", T0) is None
    assert await store.user_for_token("still-in", T0) == (alice, T0 + DAY)
    await store.delete_token("never-existed")  # nothing to delete is not an error


async def test_delete_user_tokens_revokes_every_token_of_that_user_only(store: Store, alice: User, bob: User) -> None:
    await store.create_token(alice.id, "laptop", T0, T0 + DAY)
    await store.create_token(alice.id, "phone", T0, T0 + DAY)
    await store.create_token(bob.id, "bobs", T0, T0 + DAY)
    await store.delete_user_tokens(alice.id)
    assert await store.user_for_token("laptop", T0) is None
    assert await store.user_for_token("phone", T0) is None
    assert await store.list_tokens(alice.id, "", T0, 10, 0) == ([], 0)
    assert await store.user_for_token("bobs", T0) == (bob, T0 + DAY)
    await store.delete_user_tokens(alice.id)  # none left is not an error


async def test_prune_tokens_forgets_expired_tokens_only(store: Store, alice: User) -> None:
    await store.create_token(alice.id, "expired", T0, T0 + DAY)
    await store.create_token(alice.id, "valid", T0, T0 + 3 * DAY)
    await store.prune_tokens(T0 + 2 * DAY)
    # Asked as of a time when it was still valid, a pruned token is gone all the same.
    assert await store.user_for_token("expired", T0) is None
    assert await store.user_for_token("valid", T0) == (alice, T0 + 3 * DAY)


# The contract has no way to create a group (groups come from elsewhere), so only an empty
# store's answers can be checked here.
async def test_groups_of_an_empty_store(store: Store, alice: User) -> None:
    assert await store.list_groups(10, 0) == ([], 0)
    assert await store.get_group(1) is None
    assert await store.user_group_ids(alice.id) == []
