"""The native API's signing secrets: GET/POST /signing-secrets and DELETE /signing-secrets/<id>."""

from __future__ import annotations

from typing import Any

from ..errors import NotFound
from ..json_numbers import digits
from ..signing import SigningSecret
from ..times import with_utc
from .base import BaseHandler


def secret_view(secret: SigningSecret) -> dict[str, Any]:
    """A secret as listed: its id and date, never the secret."""
    return with_utc({"id": secret.id, "date_created": secret.date_created}, "date_created")


class SigningSecretsHandler(BaseHandler):
    """GET lists the caller's secrets (an admin: a user's, with ?user=); POST creates one and
    answers it, the only time it is ever shown."""

    async def get(self) -> None:
        secrets = await self.ctx.signing.visible(self.current_user_required, self.get_query_argument("user", None))
        self.answer(
            f"{len(secrets)} signing secrets",
            {"count": len(secrets), "signing_secrets": [secret_view(s) for s in secrets]},
        )

    async def post(self) -> None:
        secret = await self.ctx.signing.create(self.current_user_required)
        self.answer(
            f"Created signing secret {secret.id}; it is shown this once",
            {**secret_view(secret), "secret": secret.secret},
            status=201,
        )


class SigningSecretHandler(BaseHandler):
    """DELETE /signing-secrets/<id> ends one of the caller's secrets."""

    async def delete(self, secret_id: str) -> None:
        if not digits(secret_id) or len(secret_id) > 18:
            raise NotFound(f"no signing secret {secret_id[:32]!r}", {"id": secret_id[:32]})
        await self.ctx.signing.delete(self.current_user_required, int(secret_id))
        self.answer(f"Ended signing secret {secret_id}", {"id": int(secret_id)})
