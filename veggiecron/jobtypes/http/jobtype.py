"""The http job type: an HTTP request to a URL on every run (the `veggiecron.job_types` entry point)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ...errors import Invalid
from ...sealed import SecretBox
from ..base import FormField, Schema, TypeContext
from .runner import HttpRunner
from .schema import http_data_schema
from .secrets import map_secrets, seal_headers, stored, without_unknown
from .target import VERBS, HttpTarget, parse_http_data


class HttpJobType:
    name = "http"
    description = "What each run sends (the http job type)."
    form_fields = (
        FormField("url", "URL", required=True, kind="url"),
        FormField("verb", "Method", choices=VERBS, default="GET"),
    )

    def __init__(self, context: TypeContext) -> None:
        self.context = context
        self.settings = context.config.http_client
        security = context.config.security
        self.box = SecretBox.of(security.secrets_key, context.config.app.key)  # seals and opens secret headers

    def parse(self, data: object, *, strict: bool = True) -> HttpTarget:
        target = parse_http_data(data, self.settings, strict=strict, box=self.box)
        if strict and target.oidc and not self.context.config.app.public_url:
            raise Invalid(
                "data.oidc",
                "OIDC tokens need the server's app.public_url (VEGGIECRON_APP__PUBLIC_URL), their issuer, "
                "which this server's configuration does not set",
            )
        return target

    def seal(self, data: dict[str, Any], previous: dict[str, Any] | None) -> dict[str, Any]:
        """A request's data as stored: its secret headers sealed (see secrets.py)."""
        return seal_headers(data, previous, self.box)

    def map_secrets(self, data: dict[str, Any], change: Callable[[str], Any]) -> dict[str, Any]:
        """The stored data with each secret header's value replaced by change(its sealed text)."""
        return map_secrets(data, change)

    def reseal_secrets(self, data: dict[str, Any], reseal: Callable[[str], str]) -> dict[str, Any]:
        """The stored data with each secret header sealed again by reseal(its sealed text)."""
        return map_secrets(data, lambda sealed: stored(reseal(sealed)))

    def without_unknown_secrets(self, data: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
        """An imported job's data without the secrets its file holds no value for, and where they were."""
        kept, names = without_unknown(data)
        return kept, [f"data.headers[{name!r}]" for name in names]

    def data_schema(self) -> Schema:
        return http_data_schema(self.settings, oidc=bool(self.context.config.app.public_url))

    def runner(self) -> HttpRunner:
        context = self.context
        return HttpRunner(
            self.settings, context.outbound, node=context.node, signing=context.signing, oidc=context.oidc
        )
