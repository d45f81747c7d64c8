"""Signed requests (Standard Webhooks): a user's signing secrets and the headers they sign.

A receiver holding any one of the owner's active secrets verifies a request from
`webhook-id`, `webhook-timestamp` and `webhook-signature` (one `v1,<base64 HMAC-SHA256 of
"{id}.{timestamp}.{body}">` per active secret, space-separated, so a secret can be rotated with
no gap). The runner reads the owner's keys from a SigningBook held in memory: no database read
per run.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

PREFIX = "whsec_"
SECRET_BYTES = 32


@dataclass(frozen=True, slots=True)
class SigningSecret:
    """A stored signing secret; `secret` is the whole `whsec_...` string."""

    id: int
    user_id: int
    secret: str
    date_created: float

    @property
    def key(self) -> bytes:
        return key_of(self.secret)


def new_secret() -> str:
    return PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def key_of(secret: str) -> bytes:
    """The HMAC key: the base64-decoded part after `whsec_`."""
    return base64.b64decode(secret.removeprefix(PREFIX))


def signature(keys: Iterable[bytes], message_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` value: one `v1,<base64>` per key, space-separated."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    return " ".join("v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode() for key in keys)


def signed_headers(keys: tuple[bytes, ...], message_id: str, timestamp: float, body: bytes) -> dict[str, str]:
    seconds = int(timestamp)
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(seconds),
        "webhook-signature": signature(keys, message_id, seconds, body),
    }


class SigningBook:
    """Every user's active signing keys, in memory (loaded at start, kept by SigningService)."""

    def __init__(self) -> None:
        self._secrets: dict[int, SigningSecret] = {}
        self._keys: dict[int, tuple[bytes, ...]] = {}

    def load(self, stored: Iterable[SigningSecret]) -> None:
        self._secrets = {s.id: s for s in stored}
        self._rebuild()

    def put(self, secret: SigningSecret) -> None:
        self._secrets[secret.id] = secret
        self._rebuild()

    def drop(self, secret_id: int) -> None:
        self._secrets.pop(secret_id, None)
        self._rebuild()

    def keys(self, user_id: int) -> tuple[bytes, ...]:
        """The user's active keys, oldest first (none: the user's requests go unsigned)."""
        return self._keys.get(user_id, ())

    def _rebuild(self) -> None:
        keys: dict[int, list[bytes]] = {}
        for secret in sorted(self._secrets.values(), key=lambda s: s.id):
            keys.setdefault(secret.user_id, []).append(secret.key)
        self._keys = {user_id: tuple(k) for user_id, k in keys.items()}
