"""The server's OIDC signing keys: ES256 key pairs shared by every node through the store.

The newest unretired key signs; every key not retired longer than the overlap is in the JWKS, so
a target that cached the JWKS before a rotation still verifies tokens signed before it, and one
that fetches it after verifies the new ones. Private halves are stored sealed (sealed.py).
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

ALGORITHM = "ES256"


@dataclass(frozen=True)
class OidcKey:
    """One key as stored: private_key is the sealed PEM text in the store, the PEM once opened."""

    id: int
    kid: str
    private_key: str
    public_jwk: str  # JSON of the public JWK, with kid, alg and use
    created_at: float
    retired_at: float | None = None


def new_key_pair() -> tuple[str, str, str]:
    """(kid, private PEM, public JWK JSON) of a fresh P-256 key."""
    private = ec.generate_private_key(ec.SECP256R1())
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    kid = secrets.token_urlsafe(12)
    jwk: dict[str, Any] = json.loads(ECAlgorithm.to_jwk(private.public_key()))
    jwk.update({"kid": kid, "alg": ALGORITHM, "use": "sig"})
    return kid, pem, json.dumps(jwk, sort_keys=True)


def signing_key(keys: list[OidcKey]) -> OidcKey | None:
    """The key that signs: the newest one not retired."""
    active = [k for k in keys if k.retired_at is None]
    return max(active, key=lambda k: (k.created_at, k.id)) if active else None


def published(keys: list[OidcKey], now: float, overlap_seconds: float) -> list[dict[str, Any]]:
    """The public JWKs a JWKS answers: the active keys, and those retired less than the overlap ago."""
    shown = [k for k in keys if k.retired_at is None or now - k.retired_at < overlap_seconds]
    return [json.loads(k.public_jwk) for k in sorted(shown, key=lambda k: k.id)]
