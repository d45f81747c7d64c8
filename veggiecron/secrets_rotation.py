"""`veggiecron rotate-secrets-key`: every stored secret re-encrypted from one key to another, in
one transaction (a key that cannot open one of them changes nothing).

The secrets are the columns of SEALED_COLUMNS and the secrets each job type keeps in its jobs'
data. Run it with every server on the database stopped, then start them with
security.secrets_key set to the new key.
"""

from __future__ import annotations

from typing import Any

from .app import make_store
from .config import Config
from .jobtypes.base import TypeContext
from .jobtypes.registry import JobTypes
from .outbound import OutboundPolicy
from .sealed import SecretBox
from .sealed_columns import SEALED_COLUMNS, resealer


async def rotate_secrets_key(config: Config, old_key: str, new_key: str) -> int:
    """Re-encrypt every stored secret from old_key to new_key; answer how many values changed.

    WrongSecretsKey (nothing changed) when old_key cannot open one of them."""
    types = JobTypes.load(TypeContext(config, OutboundPolicy(config.app.env, config.http_client.allow_networks)))
    reseal = resealer(SecretBox(old_key), SecretBox(new_key))

    def job_data(job_type: str, data: dict[str, Any]) -> dict[str, Any]:
        return types.reseal(job_type, data, reseal)

    store = make_store(config)
    await store.open()
    try:
        return await store.reseal(SEALED_COLUMNS, reseal, job_data)
    finally:
        await store.close()
