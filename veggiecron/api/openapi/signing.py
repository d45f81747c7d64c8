"""The signing secrets' paths in the OpenAPI document (Standard Webhooks)."""

from __future__ import annotations

from typing import Any

from .operations import NATIVE, json_response, operation, path_param, query_param
from .schemas import INTEGER, NUMBER, STRING, envelope, obj

_LISTED = {"id": INTEGER, "date_created": NUMBER, "date_created_utc": STRING}


def signing_paths() -> dict[str, Any]:
    listed = obj(_LISTED, ("id", "date_created"))
    created = obj(
        {**_LISTED, "secret": {"type": "string", "pattern": "^whsec_[A-Za-z0-9+/]+=*$"}},
        ("id", "date_created", "secret"),
    )
    return {
        "/signing-secrets": {
            "get": operation(
                "listSigningSecrets",
                "Your signing secrets: ids and dates, never the secret",
                NATIVE,
                {
                    "200": json_response(
                        "The secrets.",
                        envelope(obj({"count": INTEGER, "signing_secrets": {"type": "array", "items": listed}})),
                    )
                },
                errors=(403, 404),
                description="An admin lists another user's with ?user=; 403 for anyone else, 404 for no such user.",
                parameters=[query_param("user", STRING, "A user's name (admins only).")],
            ),
            "post": operation(
                "createSigningSecret",
                "Create a signing secret, answered this once",
                NATIVE,
                {"201": json_response("Created.", envelope(created))},
                errors=(409,),
                description="While you have at least one, every request of your jobs (unless data.sign is false) "
                "and every notification carries webhook-id, webhook-timestamp and webhook-signature "
                "(Standard Webhooks), one signature per secret. A user holds at most 10: 409 beyond.",
            ),
        },
        "/signing-secrets/{id}": {
            "delete": operation(
                "deleteSigningSecret",
                "End a signing secret",
                NATIVE,
                {"200": json_response("Ended.", envelope(obj({"id": INTEGER}, ("id",))))},
                errors=(404,),
                parameters=[path_param("id", STRING, "The secret's id.")],
            ),
        },
    }
