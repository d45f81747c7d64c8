"""The whole OpenAPI 3.1 document: info, tags, the paths of both APIs and of the docs, components."""

from __future__ import annotations

from typing import Any

from ... import __version__
from ...config import Config
from ...jobtypes.base import TypeContext
from ...jobtypes.registry import JobTypes
from ...outbound import OutboundPolicy
from .calendars import calendar_paths
from .components import component_schemas
from .native import native_paths
from .oidc import oidc_paths
from .operations import (
    BASIC_AUTH,
    BEARER_AUTH,
    DOCS,
    NATIVE,
    OPS,
    SEED,
    TOKEN_AUTH,
    X_AUTH_TOKEN,
    json_response,
    operation,
)
from .schemas import STRING
from .seed import seed_paths
from .signing import signing_paths


def docs_paths() -> dict[str, Any]:
    return {
        "/openapi.json": {
            "get": operation(
                "openapi",
                "This document (OpenAPI 3.1)",
                DOCS,
                {"200": json_response("The OpenAPI document.", {"type": "object"})},
                auth=False,
            )
        },
        "/docs": {
            "get": operation(
                "docs",
                "This document as a page to read",
                DOCS,
                {"200": {"description": "A self-contained HTML page.", "content": {"text/html": {"schema": STRING}}}},
                auth=False,
            )
        },
    }


DESCRIPTION = """\
Veggiecron schedules HTTP jobs: an HTTP request fired on a schedule written for humans.

It answers two APIs over the same jobs, users and tokens:

- the native API (/register, /login, /logout, /tokens, /job, /health): every answer is an
  envelope {"id": "success" | "error", "description": "...", "data": {...}}, and errors name the
  field at fault in data.field. Bodies may be JSON or forms. Send the token from POST /login in
  X-Auth-Token (or Authorization: Token <t>, or Authorization: Bearer <t>).
- the Seed Scheduler API (/api/...): answers and errors follow Django REST Framework
  ({"detail": "..."} or {"field": ["message"]}); authenticate with Authorization: Token <t> or
  HTTP Basic. A trailing slash is optional. Lists take limit and offset and answer count, next,
  previous and results.
"""


def document(config: Config | None = None, job_types: JobTypes | None = None) -> dict[str, Any]:
    """The OpenAPI 3.1 document of both APIs, for this server's configuration and job types
    (defaults when None: the types installed)."""
    config = config or Config()
    if job_types is None:
        job_types = JobTypes.load(TypeContext(config, OutboundPolicy(config.app.env)))
    schemas = component_schemas(config, job_types)
    return {
        "openapi": "3.1.0",
        "info": {"title": "Veggiecron", "version": __version__, "description": DESCRIPTION},
        "tags": [
            {"name": NATIVE, "description": "The native veggiecron API."},
            {"name": SEED, "description": "The Seed Scheduler API (Django REST Framework shapes)."},
            {"name": OPS, "description": "Health and metrics."},
            {"name": DOCS, "description": "This documentation."},
        ],
        "paths": {
            **native_paths(config),
            **calendar_paths(),
            **signing_paths(),
            **oidc_paths(),
            **seed_paths(config),
            **docs_paths(),
        },
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                X_AUTH_TOKEN: {
                    "type": "apiKey",
                    "in": "header",
                    "name": "X-Auth-Token",
                    "description": "X-Auth-Token: <token> (a token from POST /login or the Seed API)",
                },
                TOKEN_AUTH: {
                    "type": "apiKey",
                    "in": "header",
                    "name": "Authorization",
                    "description": "Authorization: Token <token>",
                },
                BEARER_AUTH: {"type": "http", "scheme": "bearer", "description": "Authorization: Bearer <token>"},
                BASIC_AUTH: {
                    "type": "http",
                    "scheme": "basic",
                    "description": "HTTP Basic: username and password (Seed API only; failures are throttled)",
                },
            },
        },
    }
