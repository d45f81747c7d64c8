"""The building blocks of the document's schemas: media types, basic types and small helpers."""

from __future__ import annotations

from typing import Any

from ...patterns import any_case, whole

Schema = dict[str, Any]
__all__ = ["any_case", "whole"]  # the document's modules take them from here

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"

STRING: Schema = {"type": "string"}
NUMBER: Schema = {"type": "number"}
INTEGER: Schema = {"type": "integer"}
BOOLEAN: Schema = {"type": "boolean"}
ANY: Schema = {}  # any JSON value


def nullable(schema: Schema) -> Schema:
    """The schema, or null (OpenAPI 3.1 spells `nullable` as a type list)."""
    if "type" in schema and "enum" not in schema and "anyOf" not in schema:
        kinds = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        return {**schema, "type": [*kinds, "null"]}
    return {
        "anyOf": [schema, {"type": "null"}],
        **({"description": schema["description"]} if "description" in schema else {}),
    }


def obj(properties: dict[str, Schema], required: tuple[str, ...] | list[str] = (), **extra: Any) -> Schema:
    schema: Schema = {"type": "object", "properties": properties}
    if required:
        schema["required"] = list(required)
    schema.update(extra)
    return schema


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def array_of(name: str) -> Schema:
    return {"type": "array", "items": ref(name)}


def envelope(data: Schema) -> Schema:
    """The native API's success envelope around `data`."""
    return obj({"id": {"const": "success"}, "description": STRING, "data": data}, ("id", "description", "data"))
