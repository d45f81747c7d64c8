"""api/forms.py: bracketed form keys assembled into objects, and their text typed by a JSON Schema."""

from __future__ import annotations

from typing import Any

import pytest

from veggiecron.api.forms import MAX_DEPTH, nest_fields, typed_by_schema
from veggiecron.errors import Invalid

CODES: dict[str, Any] = {
    "type": "array",
    "items": {"anyOf": [{"type": "integer"}, {"type": "string", "pattern": "^[1-5]xx$"}]},
}
DATA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "success_codes": CODES,
        "headers": {"type": "object", "additionalProperties": {"type": "string"}},
        "timeout": {"type": "number"},
        "enable_shadows": {"type": "boolean"},
        "json": {"description": "any JSON value"},
        "retry_on": {"type": "array", "items": {"type": "integer"}},
    },
}


def test_bracketed_keys_nest_and_plain_keys_keep_their_last_value() -> None:
    fields = nest_fields(
        {"name": ["a", "b"], "data[url]": ["u"], "data[headers][X-A]": ["1"], "data[retry_on][]": ["404", "409"]}
    )
    assert fields == {"name": "b", "data": {"url": "u", "headers": {"X-A": "1"}, "retry_on": ["404", "409"]}}
    # An empty segment names the key "" wherever it cannot mean a list: {"": ...} in deepObject style.
    assert nest_fields({"data[json][a]": ["1"], "data[json][]": ["false"]}) == {
        "data": {"json": {"a": "1", "": "false"}}
    }
    assert nest_fields({"data[json][]": ["false"], "data[json][a]": ["1"]}) == {
        "data": {"json": {"": "false", "a": "1"}}
    }
    assert nest_fields({"data[][x]": ["v"]}) == {"data": {"": {"x": "v"}}}
    # A key may hold a bracket: only "][" separates segments.
    assert nest_fields({"data[json][a[b]": ["1"], "data[json][c]d]": ["2"]}) == {
        "data": {"json": {"a[b": "1", "c]d": "2"}}
    }
    # Not well-formed: kept as a plain field, for validation to name as unknown.
    assert nest_fields({"data[url": ["u"], "a]b": ["c"]}) == {"data[url": "u", "a]b": "c"}


@pytest.mark.parametrize(
    "arguments",
    [
        {"data": ["{}"], "data[url]": ["u"]},
        {"data[url]": ["u"], "data": ["{}"]},
        {"data[url]": ["u"], "data[url][x]": ["v"]},
        {"data[url][x]": ["v"], "data[url]": ["u"]},
        {"data" + "[a]" * MAX_DEPTH: ["v"]},
    ],
)
def test_conflicting_empty_or_too_deep_keys_are_invalid(arguments: dict[str, list[str]]) -> None:
    with pytest.raises(Invalid):
        nest_fields(arguments)


def test_text_is_typed_as_the_schema_says() -> None:
    given = {
        "success_codes": {"1": "2xx", "0": "200", "10": "404"},  # indices order the list, 10 after 1
        "headers": {"X-A": "7", "X-B": "true"},
        "timeout": "1e-05",
        "enable_shadows": "true",
        "json": {"a": "1"},
        "retry_on": "",
    }
    assert typed_by_schema(given, DATA) == {
        "success_codes": [200, "2xx", 404],
        "headers": {"X-A": "7", "X-B": "true"},
        "timeout": 1e-05,
        "enable_shadows": True,
        "json": {"a": "1"},
        "retry_on": [],
    }


@pytest.mark.parametrize(
    ("value", "schema", "expected"),
    [
        ("", {"type": "object"}, {}),
        ("", {"type": ["string", "object"]}, ""),
        ("1e999", {"type": "number"}, "1e999"),  # no JSON number is infinite: left for validation to refuse
        ("9" * 40, {"type": "integer"}, "9" * 40),
        ("2.0", {"type": "integer"}, 2.0),  # a whole number, as in JSON bodies
        ("12", {"type": "number"}, 12),
        ("True", {"type": "boolean"}, "True"),
        ("x", {"type": "integer"}, "x"),
        ({"a": "1"}, {"type": "array"}, {"a": "1"}),
        ({"0": "1"}, {"type": "string"}, {"0": "1"}),
    ],
)
def test_a_leaf_is_typed_if_it_fits_else_left_as_it_came(value: Any, schema: dict[str, Any], expected: Any) -> None:
    assert typed_by_schema(value, schema) == expected


def test_a_key_of_any_branch_is_typed_by_the_branch_that_names_it() -> None:
    schema = {
        "type": "object",
        "properties": {
            "checks": {
                "type": "array",
                "items": {
                    "oneOf": [
                        {"type": "object", "properties": {"pointer": {"type": "string"}, "equals": {}}},
                        {
                            "type": "object",
                            "properties": {"pointer": {"type": "string"}, "exists": {"type": "boolean"}},
                        },
                    ]
                },
            }
        },
    }
    fields = {"checks": {"0": {"pointer": "/a", "exists": "true"}, "1": {"pointer": "/b", "equals": "true"}}}
    assert typed_by_schema(fields, schema) == {
        "checks": [{"pointer": "/a", "exists": True}, {"pointer": "/b", "equals": "true"}]
    }


def test_an_empty_value_is_the_empty_list_where_no_text_may_be_empty() -> None:
    texts = {"anyOf": [{"type": "string", "minLength": 1}, {"type": "array", "items": {"type": "string"}}]}
    assert typed_by_schema("", texts) == []
    assert typed_by_schema("", {"anyOf": [{"type": "string"}, {"type": "array"}]}) == ""
    # A header value: a text its pattern lets be empty, or {"secret": ...}.
    header = {"oneOf": [{"type": "string", "pattern": "^[^\r\n]*$"}, {"type": "object"}]}
    assert typed_by_schema("", header) == ""
    assert typed_by_schema("", {"oneOf": [{"type": "string", "pattern": "^.+$"}, {"type": "object"}]}) == {}
    # One check or a list of them: "" is the empty list, not an object missing its fields.
    check = {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}
    assert typed_by_schema("", {"anyOf": [check, {"type": "array", "items": check}]}) == []
    assert typed_by_schema("", {"anyOf": [{"type": "object"}, {"type": "array"}]}) == {}
