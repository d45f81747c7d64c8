"""Operations in the shape of each API: tags, security, parameters, bodies, answers and links."""

from __future__ import annotations

from typing import Any

from ...config import Config
from .schemas import FORM, INTEGER, JSON, STRING, Schema, ref

NATIVE, SEED, OPS, DOCS = "native", "seed", "operations", "documentation"

# Security schemes: native endpoints take a token; Seed endpoints take a token or HTTP Basic.
X_AUTH_TOKEN, TOKEN_AUTH, BEARER_AUTH, BASIC_AUTH = "xAuthToken", "tokenAuth", "bearerAuth", "basicAuth"
NATIVE_SECURITY: list[dict[str, list[str]]] = [{X_AUTH_TOKEN: []}, {TOKEN_AUTH: []}, {BEARER_AUTH: []}]
SEED_SECURITY: list[dict[str, list[str]]] = [{TOKEN_AUTH: []}, {BASIC_AUTH: []}, {X_AUTH_TOKEN: []}, {BEARER_AUTH: []}]

ERROR_TEXT = {
    400: "Bad input: a malformed body, an invalid field (named in data.field) or query parameter.",
    401: "No valid token (or credentials).",
    403: "Not allowed: a quota exceeded, or not an admin.",
    404: "No such resource (another user's resources are not found either).",
    409: "Conflict: the name is taken.",
    413: "The request body is larger than api.max_body_bytes.",
    429: "Too many failed logins; retry after Retry-After seconds.",
    503: "The database cannot take writes right now (or the server is unhealthy).",
}
RETRY_AFTER = {"Retry-After": {"description": "Seconds until a new attempt may succeed.", "schema": INTEGER}}
WWW_AUTHENTICATE = {"WWW-Authenticate": {"description": "The authentication scheme expected.", "schema": STRING}}
LOCATION = {"Location": {"description": "Where the created resource is.", "required": True, "schema": STRING}}


def error_response(status: int, schema_name: str) -> dict[str, Any]:
    response: dict[str, Any] = {"description": ERROR_TEXT[status], "content": {JSON: {"schema": ref(schema_name)}}}
    if status == 429:
        response["headers"] = RETRY_AFTER
    if status == 401:
        response["headers"] = WWW_AUTHENTICATE
    return response


def json_response(description: str, schema: Schema, **extra: Any) -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": schema}}, **extra}


def body(
    schema: Schema, form: Schema | None = None, required: bool = True, json_fields: tuple[str, ...] = ()
) -> dict[str, Any]:
    """A request body as JSON (and as a form, whose `json_fields` carry JSON text)."""
    content: dict[str, Any] = {JSON: {"schema": schema}}
    if form is not None:
        content[FORM] = {"schema": form}
        if json_fields:
            content[FORM]["encoding"] = {name: {"contentType": JSON} for name in json_fields}
    return {"required": required, "content": content}


def operation(
    op_id: str,
    summary: str,
    tag: str,
    responses: dict[str, Any],
    *,
    errors: tuple[int, ...] = (),
    description: str = "",
    parameters: list[dict[str, Any]] | None = None,
    request_body: dict[str, Any] | None = None,
    auth: bool = True,
) -> dict[str, Any]:
    """One operation; its error answers are added in the API's shape (native envelope or DRF)."""
    seed = tag == SEED
    op: dict[str, Any] = {"operationId": op_id, "summary": summary, "tags": [tag]}
    if description:
        op["description"] = description
    if parameters:
        op["parameters"] = parameters
    if request_body:
        op["requestBody"] = request_body
    op["security"] = (SEED_SECURITY if seed else NATIVE_SECURITY) if auth else []
    statuses = set(errors) | {413}  # any request may carry an oversized body
    if auth:
        statuses.add(401)
        if seed:
            statuses.add(429)  # HTTP Basic checks a password, which is throttled
    if request_body:
        statuses.add(400)
    op["responses"] = {
        **responses,
        **{str(s): error_response(s, "SeedError" if seed else "Error") for s in sorted(statuses)},
    }
    return op


def path_param(name: str, schema: Schema, description: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": schema, "description": description}


def query_param(name: str, schema: Schema, description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


def page_params(config: Config) -> list[dict[str, Any]]:
    api = config.api
    return [
        query_param(
            "limit",
            {"type": "integer", "minimum": 1, "maximum": api.max_page_size, "default": api.default_page_size},
            "Page size.",
        ),
        query_param("offset", {"type": "integer", "minimum": 0, "maximum": 2**31, "default": 0}, "Items to skip."),
    ]


def id_links(ops: dict[str, str], param: str, expression: str = "$response.body#/id") -> dict[str, Any]:
    """Links named by `ops` (link name -> operationId), passing `expression` as the parameter `param`."""
    return {name: {"operationId": op, "parameters": {param: expression}} for name, op in ops.items()}


def first_of(links: dict[str, Any]) -> dict[str, Any]:
    """The same links from a Seed list: to its first result."""
    return {
        name: {**link, "parameters": {k: "$response.body#/results/0/id" for k in link["parameters"]}}
        for name, link in links.items()
    }
