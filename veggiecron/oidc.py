"""OIDC ID tokens like Cloud Scheduler's: signed by the server, verified by targets against the
JWKS the server publishes at /.well-known/jwks.json.

The issuer holds the keys open in memory (loaded from the store, refreshed on every node of a
cluster), so a token costs one ES256 signature and no database read.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any, Protocol

import jwt
from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePrivateKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from .audit import SYSTEM_ACTOR, Actor, entry
from .clock import Clock
from .model import User
from .oidc_keys import ALGORITHM, OidcKey, new_key_pair, published, signing_key
from .sealed import SecretBox
from .store.contract import OidcKeyStore

logger = logging.getLogger(__name__)

TOKEN_SECONDS = 300  # a token's life: exp = iat + 300 s, as Cloud Scheduler's


class OidcStore(OidcKeyStore, Protocol):
    async def get_user(self, user_id: int) -> User | None: ...


class OidcIssuer:
    """Built before the store (the job types it signs for are); bind() gives it the store."""

    def __init__(self, box: SecretBox, clock: Clock, issuer: str, overlap_seconds: float) -> None:
        self._store: OidcStore | None = None
        self.box = box
        self.clock = clock
        self.issuer = issuer  # app.public_url exactly as configured ("" : OIDC is off)
        self.overlap_seconds = overlap_seconds
        self._keys: list[OidcKey] = []
        self._signer: tuple[str, EllipticCurvePrivateKey] | None = None
        self._usernames: dict[int, str] = {}  # names never change; an owner's tokens name them

    def bind(self, store: OidcStore) -> None:
        self._store = store

    @property
    def store(self) -> OidcStore:
        if self._store is None:
            raise RuntimeError("the OIDC issuer has no store yet")
        return self._store

    async def load(self) -> None:
        """Read the keys (WrongSecretsKey when this secrets key cannot open them)."""
        keys = await self.store.all_oidc_keys()
        current = signing_key(keys)
        signer = None
        if current is not None:
            if self._signer is not None and self._signer[0] == current.kid:
                signer = self._signer
            else:
                opened = load_pem_private_key(self.box.open(current.private_key).encode(), password=None)
                assert isinstance(opened, EllipticCurvePrivateKey)
                signer = (current.kid, opened)
        self._keys = [replace(k, private_key="") for k in keys]  # only the signer is held open
        self._signer = signer

    async def ensure_key(self) -> None:
        """Create the first key when the store holds none (the store keeps one first key when
        nodes starting at once each ask for one)."""
        await self.load()
        if self._signer is None:
            await self._add(retire_others=False)

    async def rotate(self, actor: Actor = SYSTEM_ACTOR) -> str:
        """A new signing key; the ones before it stay in the JWKS for the overlap. Answers its kid."""
        return await self._add(retire_others=True, actor=actor)

    async def _add(self, retire_others: bool, actor: Actor | None = None) -> str:
        kid, pem, public_jwk = new_key_pair()
        now = self.clock.now()
        rows = [] if actor is None else [entry(actor, "keys.rotated", "oidc", now, None, {"kid": kid})]
        await self.store.add_oidc_key(kid, self.box.seal(pem), public_jwk, now, retire_others, rows)
        await self.load()
        return kid

    def jwks(self) -> dict[str, Any]:
        return {"keys": published(self._keys, self.clock.now(), self.overlap_seconds)}

    def discovery(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer,
            "jwks_uri": self.issuer.rstrip("/") + "/.well-known/jwks.json",
            "id_token_signing_alg_values_supported": [ALGORITHM],
            "response_types_supported": ["id_token"],
            "subject_types_supported": ["public"],
            "claims_supported": ["iss", "sub", "aud", "iat", "exp", "jti", "veggiecron_job"],
        }

    async def token(self, audience: str, user_id: int, job_name: str, jti: str) -> str:
        """An ID token for one request of a job (raises RuntimeError when there is no key yet)."""
        if self._signer is None:
            raise RuntimeError("no OIDC signing key is loaded")
        kid, key = self._signer
        now = int(self.clock.now())
        claims = {
            "iss": self.issuer,
            "aud": audience,
            "sub": await self._username(user_id),
            "iat": now,
            "exp": now + TOKEN_SECONDS,
            "jti": jti,
            "veggiecron_job": job_name,
        }
        return jwt.encode(claims, key, algorithm=ALGORITHM, headers={"kid": kid})

    async def _username(self, user_id: int) -> str:
        name = self._usernames.get(user_id)
        if name is None:
            user = await self.store.get_user(user_id)
            name = user.username if user is not None else str(user_id)
            self._usernames[user_id] = name
        return name
