"""SigningSecretStore: a user's secrets are stored, listed by owner, and ended one by one."""

from __future__ import annotations

import pytest

from tests.contract.conftest import T0
from veggiecron.errors import NotFound
from veggiecron.model import User
from veggiecron.signing import new_secret
from veggiecron.store import Store


async def test_secrets_are_stored_listed_by_owner_and_deleted(store: Store, alice: User, bob: User) -> None:
    a1 = await store.create_signing_secret(alice.id, new_secret(), T0)
    a2 = await store.create_signing_secret(alice.id, new_secret(), T0 + 1)
    b1 = await store.create_signing_secret(bob.id, new_secret(), T0 + 2)
    assert a1.id != a2.id and a1.secret != a2.secret
    assert await store.list_signing_secrets(alice.id) == [a1, a2]
    assert await store.list_signing_secrets(bob.id) == [b1]
    assert await store.all_signing_secrets() == [a1, a2, b1]
    with pytest.raises(NotFound):
        await store.delete_signing_secret(bob.id, a1.id)  # not bob's
    await store.delete_signing_secret(alice.id, a1.id)
    assert await store.list_signing_secrets(alice.id) == [a2]
    with pytest.raises(NotFound):
        await store.delete_signing_secret(alice.id, a1.id)
