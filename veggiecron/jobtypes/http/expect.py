"""Response assertions of an http job (`data.expect`): parsed once into an Expectations record,
checked against every response of a run.

`status` is the same set of codes as `success_codes` (its alias); the other checks look at the
body (text or JSON, RFC 6901 pointers), the headers and the time the response took.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import orjson

from ...errors import Invalid

MAX_CHECKS = 16
# Each list's own bound, so that the OpenAPI document can state the total: 6 + 4 + 2 + 2 list
# checks, with status and max_ms, make at most MAX_CHECKS (a schema cannot sum across fields).
MAX_LIST_CHECKS = {"json": 6, "header": 4, "body_contains": 2, "body_not_contains": 2}
SEEN_LENGTH = 200  # what a failed assertion quotes of what it saw
MAX_TEXT = 4096  # one body_contains text
EXPECT_FIELDS = ("status", "body_contains", "body_not_contains", "json", "header", "max_ms", "retry")
_MISSING = object()


@dataclass(frozen=True, slots=True)
class JsonCheck:
    pointer: str
    tokens: tuple[str, ...]
    exists: bool = True
    equals: Any = _MISSING  # a JSON value, or _MISSING for an `exists` check


@dataclass(frozen=True, slots=True)
class HeaderCheck:
    name: str
    pattern: re.Pattern[str]


@dataclass(frozen=True, slots=True)
class Expectations:
    """What every response of a run must satisfy besides its status code."""

    status_given: bool = False  # a status outside the codes fails as an assertion, not as http_status
    body_contains: tuple[str, ...] = ()
    body_not_contains: tuple[str, ...] = ()
    json: tuple[JsonCheck, ...] = ()
    header: tuple[HeaderCheck, ...] = ()
    max_ms: float | None = None
    retry: bool = False

    @property
    def needs_body(self) -> bool:
        return bool(self.body_contains or self.body_not_contains or self.json)

    def check(self, headers: Any, body: bytes | None, elapsed_ms: float) -> str | None:
        """The first failed assertion, named with what was seen; None when every one holds.

        headers: the response's (case-insensitive) header mapping; body: its first
        max_response_bytes (None when no check needs it).
        """
        if self.max_ms is not None and elapsed_ms > self.max_ms:
            return f"expect.max_ms: the response took {elapsed_ms:.0f} ms, over {self.max_ms:g} ms"
        for i, check in enumerate(self.header):
            value = headers.get(check.name)
            if value is None:
                return f"expect.header[{i}] {check.name}: no such header"
            if check.pattern.search(value) is None:
                return f"expect.header[{i}] {check.name} does not match {check.pattern.pattern!r}: saw {_cut(value)}"
        if not self.needs_body:
            return None
        text = (body or b"").decode("utf-8", errors="replace")
        for i, needle in enumerate(self.body_contains):
            if needle not in text:
                return f"expect.body_contains[{i}] {_cut(needle, 60)!r} not found: saw {_cut(text)}"
        for i, needle in enumerate(self.body_not_contains):
            if needle in text:
                return f"expect.body_not_contains[{i}] {_cut(needle, 60)!r} found: saw {_cut(text)}"
        if self.json:
            try:
                document = orjson.loads(body or b"")
            except orjson.JSONDecodeError:
                return f"expect.json[0] {self.json[0].pointer}: the body is not JSON: saw {_cut(text)}"
            for i, json_check in enumerate(self.json):
                failure = _check_json(json_check, document)
                if failure is not None:
                    return f"expect.json[{i}] {json_check.pointer}: {failure}"
        return None


def _check_json(check: JsonCheck, document: object) -> str | None:
    found = resolve_pointer(document, check.tokens)
    if check.equals is not _MISSING:
        if found is _MISSING:
            return f"expected {_cut(_dump(check.equals))}, saw nothing"
        if not json_equal(found, check.equals):
            return f"expected {_cut(_dump(check.equals))}, saw {_cut(_dump(found))}"
        return None
    if check.exists and found is _MISSING:
        return "expected to exist, saw nothing"
    if not check.exists and found is not _MISSING:
        return f"expected not to exist, saw {_cut(_dump(found))}"
    return None


def parse_pointer(pointer: object, where: str) -> tuple[str, ...]:
    """An RFC 6901 JSON Pointer's reference tokens, unescaped (~1 is '/', ~0 is '~')."""
    if not isinstance(pointer, str) or (pointer and not pointer.startswith("/")):
        raise Invalid(where, f'{where} must be a JSON Pointer (RFC 6901): "" or starting with "/"')
    if re.search(r"~(?![01])", pointer):
        raise Invalid(where, f"{where} {pointer[:64]!r} is not a JSON Pointer: '~' must be followed by 0 or 1")
    if not pointer:
        return ()
    return tuple(token.replace("~1", "/").replace("~0", "~") for token in pointer[1:].split("/"))


_ARRAY_INDEX = re.compile(r"0|[1-9][0-9]*")


def resolve_pointer(document: object, tokens: tuple[str, ...]) -> object:
    """The value the tokens point at, or _MISSING (RFC 6901 section 4; "-" names no element)."""
    current = document
    for token in tokens:
        if isinstance(current, dict):
            if token not in current:
                return _MISSING
            current = current[token]
        elif isinstance(current, list):
            if not _ARRAY_INDEX.fullmatch(token) or int(token) >= len(current):
                return _MISSING
            current = current[int(token)]
        else:
            return _MISSING
    return current


def json_equal(a: object, b: object) -> bool:
    """Equality of JSON values: true is not 1, 1 is 1.0, objects compare without order."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


def parse_expect(value: object, *, strict: bool = True) -> Expectations:
    """Validate `data.expect` (its `status` is parsed with success_codes by the caller).

    strict=False reads a stored job: the lists' own bounds, newer than some stored jobs, are not applied.
    """
    if not isinstance(value, dict):
        raise Invalid("data.expect", "data.expect must be an object")
    for key in value:
        if key not in EXPECT_FIELDS:
            raise Invalid(
                f"data.expect.{key}", f"unknown field data.expect.{key}; it takes: {', '.join(EXPECT_FIELDS)}"
            )
    contains = _texts(value, "body_contains")
    not_contains = _texts(value, "body_not_contains")
    json_checks = _json_checks(value.get("json", []))
    header_checks = _header_checks(value.get("header", []))
    max_ms = value.get("max_ms")
    if "max_ms" in value and (
        not isinstance(max_ms, (int, float)) or isinstance(max_ms, bool) or not 0 < max_ms <= 3_600_000
    ):
        raise Invalid("data.expect.max_ms", "data.expect.max_ms must be a number of milliseconds in (0, 3600000]")
    retry = value.get("retry", False)
    if not isinstance(retry, bool):
        raise Invalid("data.expect.retry", "data.expect.retry must be true or false")
    for key, checks in (
        ("json", json_checks),
        ("header", header_checks),
        ("body_contains", contains),
        ("body_not_contains", not_contains),
    ):
        if strict and len(checks) > MAX_LIST_CHECKS[key]:
            raise Invalid(
                f"data.expect.{key}", f"data.expect.{key} holds {len(checks)} checks; at most {MAX_LIST_CHECKS[key]}"
            )
    count = len(contains) + len(not_contains) + len(json_checks) + len(header_checks)
    count += ("status" in value) + (max_ms is not None)
    if count > MAX_CHECKS:
        raise Invalid("data.expect", f"data.expect holds {count} checks; at most {MAX_CHECKS} are allowed")
    return Expectations(
        status_given="status" in value,
        body_contains=contains,
        body_not_contains=not_contains,
        json=json_checks,
        header=header_checks,
        max_ms=float(max_ms) if max_ms is not None else None,
        retry=retry,
    )


def _texts(expect: dict[str, Any], key: str) -> tuple[str, ...]:
    value = expect.get(key, [])
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(t, str) and 0 < len(t) <= MAX_TEXT for t in items):
        raise Invalid(
            f"data.expect.{key}", f"data.expect.{key} must be a text or a list of texts of 1 to {MAX_TEXT} characters"
        )
    return tuple(items)


def _json_checks(value: object) -> tuple[JsonCheck, ...]:
    if not isinstance(value, list):
        raise Invalid("data.expect.json", 'data.expect.json must be a list of {"pointer": ..., "equals" or "exists"}')
    checks = []
    for i, item in enumerate(value):
        where = f"data.expect.json[{i}]"
        if not isinstance(item, dict) or "pointer" not in item or set(item) - {"pointer", "equals", "exists"}:
            raise Invalid(
                where,
                f'{where} must be {{"pointer": ..., "equals": <value>}} or {{"pointer": ..., "exists": true|false}}',
            )
        if ("equals" in item) == ("exists" in item):
            raise Invalid(where, f"{where} takes exactly one of equals and exists")
        tokens = parse_pointer(item["pointer"], f"{where}.pointer")
        if "exists" in item:
            if not isinstance(item["exists"], bool):
                raise Invalid(f"{where}.exists", f"{where}.exists must be true or false")
            checks.append(JsonCheck(item["pointer"], tokens, exists=item["exists"]))
        else:
            checks.append(JsonCheck(item["pointer"], tokens, equals=item["equals"]))
    return tuple(checks)


def _header_checks(value: object) -> tuple[HeaderCheck, ...]:
    items = [value] if isinstance(value, dict) else value
    if not isinstance(items, list):
        raise Invalid(
            "data.expect.header", 'data.expect.header must be {"name": ..., "matches": <regex>} or a list of them'
        )
    checks = []
    for i, item in enumerate(items):
        where = f"data.expect.header[{i}]"
        if not isinstance(item, dict) or set(item) != {"name", "matches"}:
            raise Invalid(where, f'{where} must be {{"name": ..., "matches": <regex>}}')
        name, matches = item["name"], item["matches"]
        if not isinstance(name, str) or not 0 < len(name) <= 256:
            raise Invalid(f"{where}.name", f"{where}.name must be a header name")
        if not isinstance(matches, str) or len(matches) > 1024:
            raise Invalid(
                f"{where}.matches", f"{where}.matches must be a regular expression of at most 1024 characters"
            )
        try:
            pattern = re.compile(matches)
        except re.error as exc:
            raise Invalid(f"{where}.matches", f"{where}.matches does not compile: {exc}") from None
        checks.append(HeaderCheck(name, pattern))
    return tuple(checks)


def _dump(value: object) -> str:
    return orjson.dumps(value).decode()


def _cut(text: str, limit: int = SEEN_LENGTH) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
