"""A user's signing secrets: created, listed and ended through the store, held in the SigningBook.

The runner signs from the book alone (no database read per run): this node's changes reach it at
once, and on a cluster every node reloads it every second (reloading.keep_reloading) for other nodes' changes.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Protocol

from .clock import Clock
from .errors import Conflict, Forbidden, NotFound
from .model import User
from .sealed import SecretBox
from .signing import SigningBook, SigningSecret, new_secret
from .store.contract import SigningSecretStore

logger = logging.getLogger(__name__)

# Every active secret adds a signature of about 50 bytes to each request's webhook-signature
# header; receivers refuse header lines past 8 KiB (aiohttp, nginx by default). Rotation needs
# two at a time; ten leave room for several receivers, each given its own.
MAX_SECRETS_PER_USER = 10


class UserLookup(Protocol):
    async def user_credentials(self, username: str) -> tuple[User, str] | None: ...


class SigningService:
    def __init__(
        self, store: SigningSecretStore, users: UserLookup, book: SigningBook, clock: Clock, box: SecretBox
    ) -> None:
        self.store = store
        self.box = box  # the store holds secrets sealed; only the book holds them open
        self.users = users
        self.book = book
        self.clock = clock

    async def load(self) -> None:
        """Raises WrongSecretsKey when this key cannot open the stored secrets (start refuses)."""
        stored = await self.store.all_signing_secrets()
        self.book.load([replace(s, secret=self.box.open(s.secret)) for s in stored])

    async def create(self, user: User) -> SigningSecret:
        held = await self.store.list_signing_secrets(user.id)
        if len(held) >= MAX_SECRETS_PER_USER:
            raise Conflict(
                f"you hold {len(held)} signing secrets, the most a user may; "
                "end one (DELETE /signing-secrets/{id}) before creating another",
                {"limit": MAX_SECRETS_PER_USER},
            )
        plain = new_secret()
        stored = await self.store.create_signing_secret(user.id, self.box.seal(plain), self.clock.now())
        secret = replace(stored, secret=plain)
        self.book.put(secret)
        return secret

    async def visible(self, viewer: User, about: str | None) -> list[SigningSecret]:
        """The viewer's secrets, or (an admin only) another user's by name."""
        user_id = viewer.id
        if about is not None and about != viewer.username:
            if not viewer.is_admin:
                raise Forbidden("only admins may list other users' signing secrets", {"field": "user"})
            found = await self.users.user_credentials(about)
            if found is None:
                raise NotFound(f"no user named {about[:64]!r}", {"field": "user"})
            user_id = found[0].id
        return await self.store.list_signing_secrets(user_id)

    async def delete(self, user: User, secret_id: int) -> None:
        await self.store.delete_signing_secret(user.id, secret_id)
        self.book.drop(secret_id)
