"""Accounts: passwords (hashed by veggiecron.passwords, off the event loop) and tokens (stored as keyed hashes)."""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
from collections import OrderedDict
from dataclasses import replace

from .audit import SYSTEM_ACTOR, Actor, AuditEntry, entry
from .clock import Clock
from .errors import Conflict, Invalid, NotFound, TooManyRequests, Unauthorized
from .model import Group, TokenInfo, User
from .passwords import Passwords, is_legacy
from .store import AccountStore
from .throttle import LoginThrottle

logger = logging.getLogger(__name__)

USERNAME_PATTERN = re.compile(r"^[A-Za-z0-9]{1,64}$")
MAX_USERNAME_LENGTH = 254  # registered names are shorter; users made from emails may be this long
NO_PASSWORD = "!"  # the stored hash of users who log in only with tokens: matches no password
# A registered password is 1 to 1,024 characters, so every password of up to 1,024 bytes is taken.
# The limit is in characters, the unit the OpenAPI document can state; every byte of it counts
# (veggiecron.passwords pre-hashes it), so two passwords that differ anywhere are different.
MAX_PASSWORD_LENGTH = 1024
TOKEN_BYTES = 32  # 256 bits of randomness
# A checked token is trusted for this long without asking the store again. Changes made through
# Accounts drop their entries at once; this bounds how long a change made by another process
# (`start.py create-admin`, a hand-edited database) can take to be seen.
TOKEN_CACHE_SECONDS = 5.0
TOKEN_CACHE_ENTRIES = 10_000


def validate_credentials(username: object, password: object) -> tuple[str, str]:
    """Check the shape of a username and password; raise Invalid naming the field."""
    if not isinstance(username, str) or not USERNAME_PATTERN.fullmatch(username):
        raise Invalid("username", "username must be 1 to 64 letters or digits")
    if not isinstance(password, str) or not password:
        raise Invalid("password", "password must not be empty")
    if "\x00" in password or len(password) > MAX_PASSWORD_LENGTH:
        raise Invalid("password", f"password must be at most {MAX_PASSWORD_LENGTH} characters and contain no NUL")
    return username, password


class Tokens:
    """Issue random tokens and derive the keyed hash under which they are stored."""

    def __init__(self, key: str) -> None:
        self._key = key.encode()

    @staticmethod
    def new() -> str:
        return secrets.token_urlsafe(TOKEN_BYTES)

    def digest(self, token: str) -> str:
        return hmac.new(self._key, token.encode(), hashlib.sha256).hexdigest()


def token_from_headers(x_auth_token: str | None, authorization: str | None) -> str | None:
    """The token from `X-Auth-Token`, `Authorization: Token <t>` or `Authorization: Bearer <t>`."""
    if x_auth_token:
        return x_auth_token.strip()
    if authorization:
        scheme, _, value = authorization.strip().partition(" ")
        if scheme.lower() in ("token", "bearer") and value.strip():
            return value.strip()
    return None


class TokenCache:
    """Recently checked tokens: keyed hash -> (user, token's expires_at, cached_until).

    Bounded (the oldest entry is evicted first) and short-lived. Only hits are kept, so a stream
    of wrong tokens cannot push the good ones out. Every forget_* bumps a generation number: a
    lookup that was in flight across an invalidation does not put what it read into the cache.
    """

    def __init__(self, ttl: float = TOKEN_CACHE_SECONDS, max_entries: int = TOKEN_CACHE_ENTRIES) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self.generation = 0
        self._entries: OrderedDict[str, tuple[User, float, float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, digest: str, now: float) -> User | None:
        entry = self._entries.get(digest)
        if entry is None:
            return None
        user, expires_at, cached_until = entry
        # An expired token is refused even while cached; cached_until beyond now + ttl means the
        # clock went backwards, and the entry must not outlive its intended few seconds.
        if now < expires_at and now < cached_until <= now + self.ttl:
            return user
        del self._entries[digest]
        return None

    def put(self, digest: str, user: User, expires_at: float, now: float, generation: int) -> None:
        """Remember a lookup made when self.generation was `generation`, unless something was forgotten since."""
        if self.ttl <= 0 or generation != self.generation:
            return
        self._entries.pop(digest, None)  # re-inserted at the young end
        self._entries[digest] = (user, expires_at, now + self.ttl)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def forget_token(self, digest: str) -> None:
        self.generation += 1
        self._entries.pop(digest, None)

    def forget_user(self, user_id: int) -> None:
        # A scan: users change and tokens are revoked rarely, and a per-user index would cost
        # bookkeeping on every request instead.
        self.generation += 1
        for digest in [d for d, (user, _, _) in self._entries.items() if user.id == user_id]:
            del self._entries[digest]


class Accounts:
    """Registration, login, logout and token checks over the store."""

    def __init__(
        self,
        store: AccountStore,
        passwords: Passwords,
        tokens: Tokens,
        token_lifetime: float,
        clock: Clock,
        throttle: LoginThrottle | None = None,
        token_cache: TokenCache | None = None,
    ) -> None:
        self.throttle = throttle
        self.store = store
        self.passwords = passwords
        self.tokens = tokens
        self.token_lifetime = token_lifetime
        self.clock = clock
        self.token_cache = token_cache if token_cache is not None else TokenCache()

    # Every change below writes its audit row in its own transaction (no change without its row):
    # `by` is who asked for it, when not the user themselves; `address` where the request came from.

    async def register(
        self,
        username: object,
        password: object,
        is_admin: bool = False,
        *,
        by: Actor | None = None,
        address: str | None = None,
    ) -> User:
        """A new user; the row's actor is `by` (an admin registering someone) or the new user."""
        name, secret = validate_credentials(username, password)
        hashed = await self.passwords.hash(secret)
        now = self.clock.now()

        def rows(user_id: int) -> list[AuditEntry]:
            actor = by if by is not None else Actor(name, user_id, address)
            changes = {"is_admin": True} if is_admin else None
            return [entry(actor, "user.registered", f"user:{name}", now, user_id, changes)]

        return await self.store.create_user(name, hashed, now, is_admin=is_admin, audit=rows)

    async def login(self, username: object, password: object, address: str = "") -> tuple[User, str, float]:
        """Answer (user, token, expires_at); unknown users and wrong passwords fail alike."""
        user = await self.check_password(username, password, address)
        if user is None:
            raise Unauthorized("wrong username or password")
        token, expires_at = await self.issue_token(user, address=address or None)
        return user, token, expires_at

    async def check_password(self, username: object, password: object, address: str = "") -> User | None:
        """The user whose password this is, or None; costs one bcrypt check either way.

        Raises TooManyRequests while the client address (or it with this username) has failed too
        often; failures from other addresses never hold a user back.
        """
        if not isinstance(username, str) or not isinstance(password, str) or not password:
            return None
        now = self.clock.now()
        if self.throttle is not None:
            wait = self.throttle.retry_after(username, address, now)
            if wait is not None:
                raise TooManyRequests(f"too many failed logins; try again in {wait} seconds", wait)
        # No stored name is longer or holds a NUL (which PostgreSQL text cannot even be asked about).
        plausible = len(username) <= MAX_USERNAME_LENGTH and "\x00" not in username
        found = await self.store.user_credentials(username) if plausible else None
        ok = await self.passwords.check(password, found[1] if found else None)
        user = found[0] if ok and found is not None else None
        if self.throttle is not None:
            if user is None:
                self.throttle.failed(username, address, now)
            else:
                self.throttle.succeeded(username, address, now)
        if user is not None and found is not None and is_legacy(found[1]):
            await self._upgrade_hash(user, found[1], password)
        return user

    async def _upgrade_hash(self, user: User, old_hash: str, password: str) -> None:
        """Rehash a plain bcrypt hash (its first 72 bytes only) over the whole password just checked.

        The plain hash cannot tell which bytes past the 72nd were registered: from now on the ones
        of this login count. The store swaps the hash only if it is still the one checked.
        """
        new_hash = await self.passwords.hash(password)
        if await self.store.replace_password_hash(user.id, old_hash, new_hash):
            logger.info("user_id=%d: password hash upgraded to bcrypt-sha256", user.id)

    async def issue_token(
        self, user: User, lifetime: float | None = None, *, by: Actor | None = None, address: str | None = None
    ) -> tuple[str, float]:
        """A new random token for the user, stored only as its keyed hash.

        Its row: "login" by the user with the new token, or "token.created" by `by` (an admin, the system).
        """
        token = self.tokens.new()
        now = self.clock.now()
        expires_at = now + (lifetime if lifetime is not None else self.token_lifetime)
        target = f"user:{user.username}"

        def rows(token_id: int) -> list[AuditEntry]:
            if by is None:
                return [entry(Actor.of(user, address, token_id), "login", target, now, user.id)]
            return [entry(by, "token.created", target, now, user.id, {"token_id": token_id})]

        await self.store.create_token(user.id, self.tokens.digest(token), now, expires_at, audit=rows)
        return token, expires_at

    async def user_for_email(self, email: str, by: Actor = SYSTEM_ACTOR) -> User:
        """The user named by this email address, created (with no password) when missing."""
        found = await self.store.user_credentials(email)
        if found is not None:
            return found[0]
        now = self.clock.now()

        def rows(user_id: int) -> list[AuditEntry]:
            return [entry(by, "user.registered", f"user:{email}", now, user_id)]

        try:
            return await self.store.create_user(email, NO_PASSWORD, now, email=email, audit=rows)
        except Conflict:  # created meanwhile by a concurrent request
            again = await self.store.user_credentials(email)
            assert again is not None
            return again[0]

    async def ensure_admin(self, username: str, by: Actor = SYSTEM_ACTOR) -> User:
        """Create the admin user, or promote an existing user to admin."""
        found = await self.store.user_credentials(username)
        if found is None:
            now = self.clock.now()

            def rows(user_id: int) -> list[AuditEntry]:
                return [entry(by, "user.registered", f"user:{username}", now, user_id, {"is_admin": True})]

            return await self.store.create_user(username, NO_PASSWORD, now, is_admin=True, audit=rows)
        await self.set_admin(found[0].id, True, by=by)
        return replace(found[0], is_admin=True)

    async def set_admin(self, user_id: int, is_admin: bool, *, by: Actor = SYSTEM_ACTOR) -> None:
        """Grant or withdraw admin rights; the user's next request already sees the change."""
        user = await self.store.get_user(user_id)
        if user is None:
            raise NotFound("Not found.")
        now = self.clock.now()
        action = "user.promoted" if is_admin else "user.demoted"
        changes = {"is_admin": {"old": user.is_admin, "new": is_admin}}
        row = entry(by, action, f"user:{user.username}", now, user.id, changes)
        await self.store.set_admin(user_id, is_admin, now, audit=(row,))
        self.forget_user(user_id)

    def forget_user(self, user_id: int) -> None:
        """Drop the user's cached token checks: call after any change to the user or their tokens."""
        self.token_cache.forget_user(user_id)

    async def tokens_of(self, user: User, current: str, limit: int, offset: int) -> tuple[list[TokenInfo], int]:
        return await self.store.list_tokens(user.id, self.tokens.digest(current), self.clock.now(), limit, offset)

    async def revoke(self, user: User, token_id: int, *, by: Actor | None = None) -> None:
        """Revoke one of the user's tokens (`by`: the request's actor, with its address)."""
        actor = by if by is not None else Actor.of(user)
        row = entry(actor, "token.revoked", f"token:{token_id}", self.clock.now(), user.id)
        if not await self.store.delete_user_token(user.id, token_id, audit=(row,)):
            raise NotFound(f"you have no token {token_id}")
        # Only the id is known here, not the hash the cache is keyed by.
        self.forget_user(user.id)

    async def revoke_all(self, actor: User, user_id: int, *, by: Actor | None = None) -> None:
        """Revoke every token of a user: an admin may for anyone, others only for themselves."""
        if user_id != actor.id and not actor.is_admin:
            raise NotFound("Not found.")
        target = await self.store.get_user(user_id)
        if target is None:
            raise NotFound("Not found.")
        who = by if by is not None else Actor.of(actor)
        row = entry(who, "tokens.revoked", f"user:{target.username}", self.clock.now(), target.id)
        await self.store.delete_user_tokens(user_id, audit=(row,))
        self.forget_user(user_id)

    async def token_count(self, actor: User, user_id: int) -> int:
        """How many unexpired tokens a user holds (admins may ask about anyone)."""
        if user_id != actor.id and not actor.is_admin:
            raise NotFound("Not found.")
        _tokens, count = await self.store.list_tokens(user_id, "", self.clock.now(), 1, 0)
        return count

    async def logout(self, token: str, by: Actor | None = None) -> None:
        """End this token; `by` (the request's actor, naming the token) is the row's actor."""
        digest = self.tokens.digest(token)
        rows = () if by is None else (entry(by, "logout", f"user:{by.name}", self.clock.now(), by.user_id),)
        await self.store.delete_token(digest, audit=rows)
        self.token_cache.forget_token(digest)

    async def authenticate(self, token: str | None) -> User | None:
        """The token's user, or None; answered from the cache for a few seconds after a store lookup."""
        if not token or len(token) > 256:
            return None
        digest = self.tokens.digest(token)
        now = self.clock.now()
        user = self.token_cache.get(digest, now)
        if user is not None:
            return user
        generation = self.token_cache.generation
        found = await self.store.user_for_token(digest, now)
        if found is None:
            return None
        user, expires_at = found
        self.token_cache.put(digest, user, expires_at, now, generation)
        return user

    async def visible_users(self, user: User, limit: int, offset: int) -> tuple[list[tuple[User, list[int]]], int]:
        """The users this user may see (admins see all, others themselves), each with their group ids."""
        users, count = await self.store.list_users(None if user.is_admin else user.id, limit, offset)
        return [(u, await self.store.user_group_ids(u.id)) for u in users], count

    async def visible_user(self, user: User, user_id: int) -> tuple[User, list[int]]:
        """One user this user may see, with their group ids; NotFound for anyone else."""
        found = await self.store.get_user(user_id) if user_id == user.id or user.is_admin else None
        if found is None:
            raise NotFound("Not found.")
        return found, await self.store.user_group_ids(found.id)

    async def groups(self, limit: int, offset: int) -> tuple[list[Group], int]:
        return await self.store.list_groups(limit, offset)

    async def group(self, group_id: int) -> Group:
        found = await self.store.get_group(group_id)
        if found is None:
            raise NotFound("Not found.")
        return found
