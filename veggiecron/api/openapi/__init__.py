"""The OpenAPI 3.1 document of both APIs (GET /openapi.json) and a docs page rendered from it (GET /docs).

The schemas come from the constants the validators use and from the server's configuration (page
sizes, clone limit), so the document says what this server accepts.

One concept per module, imported one way only (handlers -> docs -> document -> native, seed ->
operations -> schemas; document -> components -> request_schemas -> schemas):

- schemas: media types, basic types and helpers (nullable, obj, ref, envelope, ...);
- request_schemas: request bodies built from the validators' constants and the configuration;
- components: the component schemas, requests and answers;
- operations: tags, security, parameters, error answers and links shared by both APIs;
- native, seed: the paths of the native API and of the Seed Scheduler API;
- document: the whole document for a configuration, with the paths of the docs themselves;
- docs: the HTML page rendered from the document, and both built once per configuration;
- handlers: the two handlers and their routes.

tests/api/test_openapi.py keeps the document in step with the routes of make_app.
"""

from __future__ import annotations

from .components import component_schemas
from .docs import render_docs, rendered
from .document import docs_paths, document
from .handlers import DocsHandler, OpenApiHandler, routes
from .native import native_paths
from .request_schemas import policy_field_schemas
from .seed import seed_paths

__all__ = [
    "DocsHandler",
    "OpenApiHandler",
    "component_schemas",
    "docs_paths",
    "document",
    "native_paths",
    "policy_field_schemas",
    "render_docs",
    "rendered",
    "routes",
    "seed_paths",
]
