"""Secrets at rest: sealed with AES-256-GCM under a key derived (HKDF-SHA256) from
`security.secrets_key`, or from `app.key` when that is empty.

A sealed value is `v1:<base64 of nonce + ciphertext + tag>`; a random 96-bit nonce per value.
Opening with another key fails its tag: WrongSecretsKey, never a wrong plain text.
"""

from __future__ import annotations

import base64
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

VERSION = "v1:"
_INFO = b"veggiecron secrets at rest v1"  # a key of its own: never the one that stores tokens
_NONCE = 12

FIX = (
    "stored secrets cannot be decrypted with this key: set security.secrets_key "
    "(VEGGIECRON_SECURITY__SECRETS_KEY) to the key they were stored under (app.key before it was changed), "
    "or re-encrypt them under this one with `veggiecron rotate-secrets-key`"
)


class WrongSecretsKey(Exception):
    def __init__(self) -> None:
        super().__init__(FIX)


class SecretBox:
    def __init__(self, key_text: str) -> None:
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(key_text.encode())
        self._aead = AESGCM(key)

    @classmethod
    def of(cls, secrets_key: str, app_key: str) -> SecretBox:
        return cls(secrets_key or app_key)

    def seal(self, plain: str) -> str:
        nonce = os.urandom(_NONCE)
        return VERSION + base64.b64encode(nonce + self._aead.encrypt(nonce, plain.encode(), None)).decode()

    def open(self, sealed: str) -> str:
        if not sealed.startswith(VERSION):
            raise WrongSecretsKey
        try:
            raw = base64.b64decode(sealed[len(VERSION) :])
            return self._aead.decrypt(raw[:_NONCE], raw[_NONCE:], None).decode()
        except (InvalidTag, ValueError):
            raise WrongSecretsKey from None
