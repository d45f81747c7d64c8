"""GET /.well-known/openid-configuration and /.well-known/jwks.json: what a target needs to verify
the OIDC tokens of jobs with data.oidc, served without a token (a target has none)."""

from __future__ import annotations

import orjson

from ..errors import NotFound
from .base import BaseHandler


class OidcHandler(BaseHandler):
    requires_auth = False

    def prepare_oidc(self) -> None:
        if not self.ctx.oidc.issuer:
            raise NotFound("this server issues no OIDC tokens: app.public_url is not set")
        self.set_header("Content-Type", "application/json")
        # Targets cache these; a rotation keeps the old key listed for the overlap (hours).
        self.set_header("Cache-Control", "public, max-age=300")


class DiscoveryHandler(OidcHandler):
    async def get(self) -> None:
        self.prepare_oidc()
        self.finish(orjson.dumps(self.ctx.oidc.discovery()))


class JwksHandler(OidcHandler):
    async def get(self) -> None:
        self.prepare_oidc()
        self.finish(orjson.dumps(self.ctx.oidc.jwks()))
