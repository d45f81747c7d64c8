"""The audit log as users read it, and the rows of actions that are not a job write of their own
(logins, tokens, accounts, runs by hand, imports, key rotation); trimmed by age."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, Protocol

from .audit import Actor, AuditEntry, entry
from .clock import Clock
from .errors import Forbidden, NotFound, StoreUnavailable
from .model import User
from .store.contract import AccountStore, AuditLog

logger = logging.getLogger(__name__)


class AuditStore(AuditLog, AccountStore, Protocol): ...


class AuditTrail:
    """Rows of actions that are not a job write of their own (logins, tokens, accounts, runs by hand,
    settings-level commands such as imports and key rotation), and the log as each user may see it."""

    def __init__(self, log: AuditStore, clock: Clock, digest: Callable[[str], str] | None = None) -> None:
        self.log = log  # the store: its AuditLog, and user_credentials to find a user by name
        self.clock = clock
        self.digest = digest  # a token's stored hash (auth.Tokens.digest): rows name tokens by id

    async def actor(self, user: User, address: str | None, token: str | None) -> Actor:
        """The caller of a request: the user, the address it came from and the id of its token."""
        token_id = None
        if token and self.digest is not None:
            token_id = await self.log.token_id_of(self.digest(token))
        return Actor.of(user, address, token_id)

    async def record(
        self,
        actor: Actor,
        action: str,
        target: str,
        owner_id: int | None = None,
        changes: dict[str, Any] | None = None,
    ) -> None:
        await self.log.record_audit((entry(actor, action, target, self.clock.now(), owner_id, changes),))

    async def entries(
        self, viewer: User, about: str | None, limit: int, offset: int, action: str | None, target: str | None
    ) -> tuple[list[AuditEntry], int]:
        """A user sees the rows about their account and jobs (and their own actions); an admin
        sees everyone's, or one user's (by name) with `about`."""
        about_id: int | None = viewer.id
        if about is not None and about != viewer.username:
            if not viewer.is_admin:
                raise Forbidden("only admins may read other users' audit rows", {"field": "user"})
            found = await self.log.user_credentials(about)
            if found is None:
                raise NotFound(f"no user named {about[:64]!r}", {"field": "user"})
            about_id = found[0].id
        elif about is None and viewer.is_admin:
            about_id = None
        entries: tuple[list[AuditEntry], int] = await self.log.list_audit(about_id, limit, offset, action, target)
        return entries


TRIM_BATCH = 1000  # rows deleted per transaction: a write never holds the database for long
TRIM_BATCHES = 20  # per pass; what is left waits for the next pass


async def trim_audit_log(log: AuditLog, now: float, max_age_days: float) -> None:
    """Delete rows older than max_age_days, in bounded batches."""
    before = now - max_age_days * 86400.0
    try:
        for _ in range(TRIM_BATCHES):
            if not await log.trim_audit(before, TRIM_BATCH):
                return
            await asyncio.sleep(0)  # let the loop serve others between batches
    except StoreUnavailable as exc:
        logger.warning("trimming the audit log failed, will retry: %s", exc.description)
