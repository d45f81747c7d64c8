"""The http type's `data` as JSON Schema, for the OpenAPI document: built from the validator's own
field list and limits (target.py, urls.py), with defaults from the server's configuration."""

from __future__ import annotations

from typing import Any

from ...config import HttpClientSection
from ...patterns import any_case, whole
from .expect import MAX_CHECKS, MAX_LIST_CHECKS, MAX_TEXT
from .target import FIELDS, MAX_RETRIES, MAX_TIMEOUT, VERBS
from .urls import MAX_URL_LENGTH, RULES, TARGET_URL_PATTERN

Schema = dict[str, Any]
ANY: Schema = {}  # any JSON value


def target_url(max_length: int, description: str, nullable: bool = False) -> Schema:
    """An outbound target (urls.check_url): format uri, and the pattern the server checks."""
    return {
        "type": ["string", "null"] if nullable else "string",
        "format": "uri",
        "minLength": 1,
        "maxLength": max_length,
        "pattern": whole(TARGET_URL_PATTERN),
        "description": f"{description} It must be {RULES}.",
    }


def http_field_schemas(client: HttpClientSection) -> dict[str, Schema]:
    """One schema per field of an http job's `data` (target.parse_http_data)."""
    header_value = {"type": "string", "maxLength": 8192, "pattern": whole("^[^\\r\\n\\x00]*$")}
    return {
        "url": {
            **target_url(MAX_URL_LENGTH, "Required. The URL to call."),
            "examples": ["https://service.example/health"],
        },
        "verb": {
            "type": "string",
            "pattern": whole("|".join(any_case(v) for v in VERBS)),
            "default": "GET",
            "description": f"HTTP method, any letter case: {', '.join(VERBS)}.",
        },
        "number_of_clones": {
            "type": "integer",
            "minimum": 1,
            "maximum": client.max_clones,
            "default": 1,
            "description": "Requests per run, sent in parallel; the run is ok when every clone succeeds.",
        },
        "oidc": {
            "type": "object",
            "additionalProperties": False,
            "properties": {"audience": {"type": "string", "minLength": 1, "maxLength": MAX_URL_LENGTH}},
            "description": "Each request carries Authorization: Bearer <OIDC ID token> signed by the server (ES256; "
            "verify it against /.well-known/jwks.json): iss is app.public_url, aud the audience given or the "
            "job's URL, sub the owner's username, exp 300 s after iat, jti <run_id>:<attempt>, veggiecron_job "
            "the job's name. Needs app.public_url; not with an Authorization header.",
        },
        "sign": {
            "type": "boolean",
            "default": True,
            "description": "true: each request carries Standard Webhooks signature headers when the owner has "
            "signing secrets (POST /signing-secrets); false: this job's requests are never signed.",
        },
        "enable_shadows": {
            "type": "boolean",
            "default": False,
            "description": "false: a run due while the previous one is in flight is skipped; true: it runs anyway.",
        },
        "headers": {
            "type": "object",
            "propertyNames": {"pattern": whole("^[!#$%&'*+\\-.^_`|~0-9A-Za-z]{1,256}$")},
            "additionalProperties": {
                "oneOf": [
                    header_value,
                    {
                        "type": "object",
                        "properties": {"secret": header_value},
                        "required": ["secret"],
                        "additionalProperties": False,
                        "description": 'A secret value, stored encrypted and answered as {"secret": "set"}; '
                        'sending {"secret": "set"} back keeps the one the header holds.',
                    },
                ]
            },
            "description": 'Header names to string values, or to {"secret": "value"} for a value kept secret.',
        },
        "body": {"type": "string", "description": "Request body, sent as is. Give body or json, not both."},
        "json": {
            **ANY,
            "description": "Request body, sent as JSON with Content-Type: application/json. "
            "Give body or json, not both.",
        },
        "timeout": {
            "type": "number",
            "exclusiveMinimum": 0,
            "maximum": MAX_TIMEOUT,
            "default": client.timeout_seconds,
            "description": "Seconds for each attempt.",
        },
        "retries": {
            "type": "integer",
            "minimum": 0,
            "maximum": MAX_RETRIES,
            "default": 0,
            "description": "Extra attempts after a failure, with exponential backoff and full jitter.",
        },
        "retry_backoff_seconds": {
            "type": "number",
            "minimum": 0,
            "maximum": 3600,
            "default": client.retry_backoff_seconds,
            "description": "Ceiling of the first retry delay; doubles per attempt.",
        },
        "retry_backoff_max_seconds": {
            "type": "number",
            "minimum": 0,
            "maximum": 86400,
            "default": client.retry_backoff_max_seconds,
            "description": "Longest retry delay (at least retry_backoff_seconds).",
        },
        "retry_on": {
            "type": "array",
            "maxItems": 100,
            "items": {"type": "integer", "minimum": 400, "maximum": 499},
            "default": [],
            "description": "4xx status codes retried anyway (5xx, 408 and 429 always are).",
        },
        "expect": expect_schema(),
        "success_codes": {
            **http_status_codes(),
            "default": ["2xx"],
            "description": 'Status codes that count as success: integers and classes such as "2xx".',
        },
    }


def expect_schema() -> Schema:
    """`data.expect` (expect.parse_expect): response assertions checked on every response."""
    texts: Schema = {
        "anyOf": [
            {"type": "string", "minLength": 1, "maxLength": MAX_TEXT},
            {
                "type": "array",
                "maxItems": MAX_LIST_CHECKS["body_contains"],
                "items": {"type": "string", "minLength": 1, "maxLength": MAX_TEXT},
            },
        ]
    }
    pointer: Schema = {
        "type": "string",
        "pattern": whole("^(/([^~/]|~[01])*)*$"),
        "description": "RFC 6901 JSON Pointer.",
    }
    header: Schema = {
        "type": "object",
        "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": 256},
            "matches": {
                "type": "string",
                "format": "regex",
                "maxLength": 1024,
                "description": "A regular expression searched in the value.",
            },
        },
        "required": ["name", "matches"],
        "additionalProperties": False,
    }
    return {
        "type": "object",
        "additionalProperties": False,
        "description": f"Response assertions, checked on every response; at most {MAX_CHECKS} checks in all "
        "(status, max_ms, and the lists' items, each list bounded). "
        'A run whose response fails one is failed with error_class "assertion", not retried unless retry is true.',
        "properties": {
            "status": {
                **http_status_codes(),
                "description": "Status codes that count as success (success_codes under another name: give one).",
            },
            "body_contains": {**texts, "description": "Texts the body (its first max_response_bytes) must contain."},
            "body_not_contains": {**texts, "description": "Texts the body must not contain."},
            "json": {
                "type": "array",
                "maxItems": MAX_LIST_CHECKS["json"],
                "items": {
                    "oneOf": [
                        {
                            "type": "object",
                            "properties": {"pointer": pointer, "equals": ANY},
                            "required": ["pointer", "equals"],
                            "additionalProperties": False,
                        },
                        {
                            "type": "object",
                            "properties": {"pointer": pointer, "exists": {"type": "boolean"}},
                            "required": ["pointer", "exists"],
                            "additionalProperties": False,
                        },
                    ]
                },
                "description": "Checks of the JSON body by pointer: equal to a value, or present / absent.",
            },
            "header": {"anyOf": [header, {"type": "array", "maxItems": MAX_LIST_CHECKS["header"], "items": header}]},
            "max_ms": {
                "type": "number",
                "exclusiveMinimum": 0,
                "maximum": 3_600_000,
                "description": "The response must be complete within this many milliseconds.",
            },
            "retry": {"type": "boolean", "default": False, "description": "Retry a run that fails an assertion."},
        },
    }


def http_status_codes() -> Schema:
    return {
        "type": "array",
        "minItems": 1,
        "maxItems": 500,
        "items": {
            "anyOf": [
                {"type": "integer", "minimum": 100, "maximum": 599},
                {"type": "string", "pattern": whole("^[1-5]xx$")},
            ]
        },
    }


def http_data_schema(client: HttpClientSection, oidc: bool = True) -> Schema:
    """The `data` of an http job, as a request body field; without `oidc` on a server that
    issues no OIDC tokens (app.public_url not set), where it would be refused."""
    fields = http_field_schemas(client)
    return {
        "type": "object",
        "description": "What each run sends (the http job type).",
        "properties": {name: fields.get(name, ANY) for name in FIELDS if oidc or name != "oidc"},
        "required": ["url"],
        "additionalProperties": False,
        "allOf": [
            {"not": {"required": ["body", "json"]}},
            {"not": {"required": ["success_codes", "expect"], "properties": {"expect": {"required": ["status"]}}}},
        ],
    }
