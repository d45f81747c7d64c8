"""Form bodies with bracketed keys (`data[url]=...&data[success_codes][0]=200`), as OpenAPI clients send objects.

A client generated from the OpenAPI document serialises an object-valued form field the way
deepObject style and qs/Rails/PHP do: one field per leaf, its path in brackets. nest_fields
assembles those into objects; typed_by_schema then reads each leaf's text as the type the
document's schema gives it there (a form carries only text: "200" is the integer 200 where the
schema wants an integer, and stays text where it wants a string).
"""

from __future__ import annotations

import re
from typing import Any

from ..errors import Invalid
from ..json_numbers import digits

# name[segment][segment]...: a name without brackets, then bracketed segments. A segment may
# hold brackets itself (a JSON object's key may be "a[b"): segments are split at "][" only.
BRACKETED = re.compile(r"^([^\[\]]+)\[(.*)\]$", re.DOTALL)
MAX_DEPTH = 16  # segments of one key: enough for any schema here, and a bound on recursion
INTEGER = re.compile(r"^-?(?:0|[1-9][0-9]{0,30})$")
NUMBER = re.compile(r"^-?(?:0|[1-9][0-9]{0,30})(?:\.[0-9]{1,30})?(?:[eE][-+]?[0-9]{1,3})?$")


def nest_fields(arguments: dict[str, list[str]]) -> dict[str, Any]:
    """A form's fields, bracketed keys assembled into objects; a plain field's last value wins.

    `a[]=1&a[]=2` gives a list of both values. An empty segment is otherwise an object key named
    "" (`{"": false}` is `a[]=false` in deepObject style): inside a path (`a[][x]`), and at its end
    when the same object has named keys too (`a[x]=1&a[]=2` is `{"x": "1", "": "2"}`). A key
    that is not well-formed (`data[url`) stays a plain field, for validation to name as unknown.
    """
    paths: dict[str, list[str]] = {}
    objects: set[tuple[str, ...]] = set()  # paths that some key continues with a named segment
    for key in arguments:
        found = BRACKETED.match(key)
        if found is not None:
            path = paths[key] = [found.group(1), *found.group(2).split("][")]
            if len(path) > MAX_DEPTH:
                raise Invalid(key, f"field {key!r} is nested deeper than {MAX_DEPTH} levels")
            objects.update(tuple(path[:i]) for i in range(1, len(path)) if path[i] != "" or i < len(path) - 1)
    fields: dict[str, Any] = {}
    for key, values in arguments.items():
        if key not in paths:
            if isinstance(fields.get(key), dict):
                raise Invalid(key, f"field {key!r} is given both as text and as bracketed fields")
            fields[key] = values[-1]
            continue
        path = paths[key]
        value: Any = values[-1]
        if path[-1] == "" and tuple(path[:-1]) not in objects:
            path, value = path[:-1], list(values)
        _put(fields, path, value, key)
    return fields


def _put(fields: dict[str, Any], path: list[str], value: Any, key: str) -> None:
    node = fields
    for segment in path[:-1]:
        child = node.setdefault(segment, {})
        if not isinstance(child, dict):
            raise Invalid(path[0], f"field {key!r} conflicts with another value given for {path[0]!r}")
        node = child
    if path[-1] in node:
        raise Invalid(path[0], f"field {key!r} conflicts with another value given for {path[0]!r}")
    node[path[-1]] = value


def typed_by_schema(value: Any, schema: dict[str, Any]) -> Any:
    """A form value (text, or objects and lists of text from nest_fields) read as `schema` types it.

    What does not fit the schema is left as it came, for validation to refuse with its own message.
    A value where the schema names no type (an http job's `json`) stays text.
    """
    types = _types(schema)
    if isinstance(value, str):
        if value == "" and "string" in types and not _takes_empty_text(schema):
            types = types - {"string"}  # text or a list of texts: "" can only be the empty list
        if value == "" and {"object", "array"} <= types and not _takes_empty_object(schema):
            types = types - {"object"}  # an object that must have fields, or a list: the empty list
        return _typed_text(value, types)
    if isinstance(value, dict) and "array" in types and value and all(digits(k) for k in value):
        # Indices give the order; a client that skips one still means a list.
        ordered = [value[k] for k in sorted(value, key=int)]
        return [typed_by_schema(item, _part(schema, "items")) for item in ordered]
    if isinstance(value, list) and "array" in types:
        return [typed_by_schema(item, _part(schema, "items")) for item in value]
    if isinstance(value, dict) and (not types or "object" in types):
        properties, others = _properties(schema), _part(schema, "additionalProperties")
        return {k: typed_by_schema(v, properties[k] if k in properties else others) for k, v in value.items()}
    return value


def _typed_text(text: str, types: set[str]) -> Any:
    if text == "" and "string" not in types:
        # An empty object or list has no leaves to write: clients send the bare key (data[headers]=).
        if "object" in types:
            return {}
        if "array" in types:
            return []
    if "boolean" in types and text in ("true", "false"):
        return text == "true"
    if ("integer" in types or "number" in types) and NUMBER.match(text):
        if INTEGER.match(text):
            return int(text)
        number = float(text)  # 2.0 too, where an integer is wanted: whole numbers in any JSON form count
        return text if number in (float("inf"), float("-inf")) else number
    return text


def _branches(schema: dict[str, Any]) -> tuple[dict[str, Any], ...]:
    """A schema's anyOf and oneOf branches: a form value cannot say which one it means."""
    return (*schema.get("anyOf", ()), *schema.get("oneOf", ()))


def _takes_empty_text(schema: dict[str, Any]) -> bool:
    """Whether the schema, or one of its anyOf/oneOf branches, allows the text "" (no minLength)."""
    if schema.get("type") == "string" or (isinstance(schema.get("type"), list) and "string" in schema["type"]):
        pattern = schema.get("pattern")
        if not schema.get("minLength") and "" in schema.get("enum", [""]):
            if pattern is None or re.search(pattern, "") is not None:
                return True
    return any(_takes_empty_text(b) for b in _branches(schema))


def _takes_empty_object(schema: dict[str, Any]) -> bool:
    """Whether the schema, or one of its anyOf/oneOf branches, allows the empty object."""
    if schema.get("type") == "object" and not schema.get("required") and not schema.get("minProperties"):
        return True
    return any(_takes_empty_object(b) for b in _branches(schema))


def _types(schema: dict[str, Any]) -> set[str]:
    """The JSON types a schema allows, its anyOf/oneOf branches included; empty for any type."""
    named = schema.get("type")
    types = {named} if isinstance(named, str) else set(named or ())
    for branch in _branches(schema):
        branch_types = _types(branch)
        if not branch_types:
            return set()
        types |= branch_types
    return types


def _part(schema: dict[str, Any], name: str) -> dict[str, Any]:
    """A subschema (items, properties, additionalProperties) of a schema or of its anyOf/oneOf branches."""
    part = schema.get(name)
    if isinstance(part, dict):
        return part
    for branch in _branches(schema):
        found = _part(branch, name)
        if found:
            return found
    return {}


def _properties(schema: dict[str, Any]) -> dict[str, Any]:
    """The properties of a schema and of all its anyOf/oneOf branches (the first to name one wins):
    a form cannot say which branch it means, so each key is read as the branch that knows it."""
    found = dict(schema.get("properties") or {})
    for branch in _branches(schema):
        for name, part in _properties(branch).items():
            found.setdefault(name, part)
    return found
