"""The http job type: an HTTP request to a URL on every run (the `veggiecron.job_types` entry point)."""

from __future__ import annotations

from ..base import FormField, Schema, TypeContext
from .runner import HttpRunner
from .schema import http_data_schema
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

    def parse(self, data: object, *, strict: bool = True) -> HttpTarget:
        return parse_http_data(data, self.settings, strict=strict)

    def data_schema(self) -> Schema:
        return http_data_schema(self.settings)

    def runner(self) -> HttpRunner:
        return HttpRunner(self.settings, self.context.outbound, node=self.context.node, signing=self.context.signing)
