"""`veggiecron rotate-keys`: a new OIDC signing key in the store, with its audit row."""

from __future__ import annotations

from .app import make_store
from .audit import SYSTEM_ACTOR
from .clock import SystemClock
from .config import Config
from .oidc import OidcIssuer
from .sealed import SecretBox


async def rotate_oidc_key(config: Config) -> str:
    """Add a signing key and retire the ones before it; answer its kid (WrongSecretsKey when this
    server's key cannot open the stored ones: the new key would be unreadable to the others)."""
    store = make_store(config)
    await store.open()
    try:
        clock = SystemClock()
        box = SecretBox.of(config.security.secrets_key, config.app.key)
        issuer = OidcIssuer(box, clock, config.app.public_url, config.security.jwks_overlap_hours * 3600)
        issuer.bind(store)
        await issuer.load()  # opens the current key: the same secrets key as the servers'
        return await issuer.rotate(SYSTEM_ACTOR)  # the audit row is written with the key
    finally:
        await store.close()
