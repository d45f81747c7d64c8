"""The OIDC discovery document and JWKS in the OpenAPI document (data.oidc's tokens verify against them)."""

from __future__ import annotations

from typing import Any

from .operations import OPS, json_response, operation
from .schemas import STRING, obj

_JWK = obj(
    {
        "kty": {"const": "EC"},
        "crv": {"const": "P-256"},
        "x": STRING,
        "y": STRING,
        "kid": STRING,
        "alg": STRING,
        "use": STRING,
    },
    ("kty", "crv", "x", "y", "kid", "alg"),
)
_DISCOVERY = obj(
    {
        "issuer": STRING,
        "jwks_uri": STRING,
        "id_token_signing_alg_values_supported": {"type": "array", "items": STRING},
        "response_types_supported": {"type": "array", "items": STRING},
        "subject_types_supported": {"type": "array", "items": STRING},
        "claims_supported": {"type": "array", "items": STRING},
    },
    ("issuer", "jwks_uri", "id_token_signing_alg_values_supported"),
)
_WHEN_OFF = "404 when app.public_url is not set: the server then issues no tokens."


def oidc_paths() -> dict[str, Any]:
    return {
        "/.well-known/openid-configuration": {
            "get": operation(
                "openidConfiguration",
                "OIDC discovery: the issuer of data.oidc's tokens and where its keys are",
                OPS,
                {"200": json_response("The discovery document.", _DISCOVERY)},
                errors=(404,),
                description=_WHEN_OFF,
                auth=False,
            )
        },
        "/.well-known/jwks.json": {
            "get": operation(
                "jwks",
                "The public keys data.oidc's tokens are signed with (ES256)",
                OPS,
                {
                    "200": json_response(
                        "The JWKS: the signing key, and retired ones for the overlap.",
                        obj({"keys": {"type": "array", "items": _JWK}}, ("keys",)),
                    )
                },
                errors=(404,),
                description=_WHEN_OFF + " After `veggiecron rotate-keys` the old key stays listed for "
                "security.jwks_overlap_hours.",
                auth=False,
            )
        },
    }
