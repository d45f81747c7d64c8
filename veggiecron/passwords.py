"""Password hashes: bcrypt over an HMAC-SHA256 pre-hash, so every byte of a long password counts.

bcrypt reads at most 72 bytes of what it hashes (bcrypt 5 raises on more). New hashes are passlib's
`bcrypt_sha256` version 2, in its format, so other tools can verify them:

    $bcrypt-sha256$v=2,t=2b,r=<rounds>$<22-character bcrypt salt>$<31-character bcrypt digest>

bcrypt hashes base64(HMAC-SHA256(key = the salt's 22 characters, message = the password's UTF-8)):
44 bytes without NUL, whatever the password's length. Hashes written before it ("$2b$...",
plain bcrypt over the password's first 72 bytes) still verify, and are upgraded at their owner's
next successful login (Accounts.check_password).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import re
from concurrent.futures import ThreadPoolExecutor

import bcrypt

BCRYPT_BYTES = 72  # what plain bcrypt reads of a password: the legacy hashes cover no more
SCHEME_PREFIX = "$bcrypt-sha256$"
_PREHASHED = re.compile(r"^\$bcrypt-sha256\$v=2,t=2b,r=(\d{1,2})\$([./A-Za-z0-9]{22})\$([./A-Za-z0-9]{31})$")


def password_bytes(password: str) -> bytes:
    """A password's UTF-8 bytes, the one place a password becomes bytes, for every path that hashes
    or checks one (register, login, the Seed API's token-auth and HTTP Basic).

    surrogatepass: a lone surrogate (which no UTF-8 request can carry) still gives bytes, not an error.
    """
    return password.encode("utf-8", "surrogatepass")


def _prehash(secret: bytes, salt: bytes) -> bytes:
    """What bcrypt hashes: base64 of the HMAC-SHA256 of the password keyed by the salt's text (passlib's v2)."""
    return base64.b64encode(hmac.new(salt, secret, hashlib.sha256).digest())


def hash_password(password: str, rounds: int) -> str:
    """A new `$bcrypt-sha256$v=2` hash of the whole password (blocking: call it in an executor)."""
    setting = bcrypt.gensalt(rounds, prefix=b"2b")  # b"$2b$12$" + 22 salt characters
    salt = setting[7:]
    hashed = bcrypt.hashpw(_prehash(password_bytes(password), salt), setting).decode()
    return f"{SCHEME_PREFIX}v=2,t=2b,r={rounds}${salt.decode()}${hashed[29:]}"


def verify_password(password: str, hashed: str) -> bool:
    """True when `hashed` is a hash of `password`, in the new format or as plain bcrypt (blocking)."""
    secret = password_bytes(password)
    found = _PREHASHED.match(hashed)
    if found is not None:
        rounds, salt, digest = found.groups()
        return bcrypt.checkpw(_prehash(secret, salt.encode()), f"$2b${int(rounds):02d}${salt}{digest}".encode())
    if is_legacy(hashed):
        try:
            return bcrypt.checkpw(secret[:BCRYPT_BYTES], hashed.encode())
        except ValueError:  # not a well-formed bcrypt hash after all
            return False
    return False


def is_legacy(hashed: str | None) -> bool:
    """A plain bcrypt hash, written before the pre-hash: it covers only the password's first 72 bytes."""
    return hashed is not None and hashed.startswith("$2")


def is_usable(hashed: str | None) -> bool:
    """A hash some password can match (users made for tokens only store one that none can)."""
    return hashed is not None and (is_legacy(hashed) or _PREHASHED.match(hashed) is not None)


class Passwords:
    """Hashing and checking in an executor of their own, so a login never blocks other requests."""

    def __init__(self, rounds: int) -> None:
        self.rounds = rounds
        # bcrypt is CPU-bound: a pool of its own, so logins and DNS lookups never wait on each other.
        self._executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="veggiecron-bcrypt")
        # Checked when the user does not exist or cannot log in with a password, so every failure
        # costs the time of a real check.
        self._dummy_hash = hash_password("veggiecron-no-such-user", rounds)

    async def hash(self, password: str) -> str:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, hash_password, password, self.rounds)

    async def check(self, password: str, hashed: str | None) -> bool:
        """True when `hashed` is a hash of `password`; None and unusable hashes never match."""
        usable = is_usable(hashed)
        target = hashed if usable and hashed is not None else self._dummy_hash
        loop = asyncio.get_running_loop()
        ok = await loop.run_in_executor(self._executor, verify_password, password, target)
        return ok and usable
