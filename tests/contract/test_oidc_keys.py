"""OidcKeyStore on both stores: one first key whoever asks, rotation retires the keys before it."""

from __future__ import annotations

import asyncio

from tests.contract.conftest import T0
from veggiecron.audit import SYSTEM_ACTOR, entry
from veggiecron.store import Store


async def test_the_first_key_is_stored_once_and_a_rotation_retires_the_rest(store: Store) -> None:
    # Two servers starting at once each ask for a first key: one is stored.
    await asyncio.gather(
        store.add_oidc_key("a", "v1:sealed-a", '{"kid": "a"}', T0, retire_others=False),
        store.add_oidc_key("b", "v1:sealed-b", '{"kid": "b"}', T0, retire_others=False),
    )
    (first,) = await store.all_oidc_keys()
    assert first.retired_at is None and first.kid in ("a", "b")
    row = entry(SYSTEM_ACTOR, "keys.rotated", "oidc", T0 + 5, None, {"kid": "c"})
    await store.add_oidc_key("c", "v1:sealed-c", '{"kid": "c"}', T0 + 5, retire_others=True, audit=[row])
    old, new = await store.all_oidc_keys()
    assert (old.kid, old.retired_at) == (first.kid, T0 + 5)
    assert (new.kid, new.retired_at, new.private_key) == ("c", None, "v1:sealed-c")
    entries, count = await store.list_audit(None, 10, 0, action="keys.rotated")
    assert count == 1 and entries[0].changes == {"kid": "c"}
