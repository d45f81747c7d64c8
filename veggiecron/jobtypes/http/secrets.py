"""Secret header values: `{"secret": "value"}` in `data.headers`, stored sealed (sealed.py).

A header value has three forms:
- in a request: a string, `{"secret": "plain value"}`, or `{"secret": "set"}` (keep the secret
  this header holds already; the API and the dashboard answer that, so an edit round-trips);
- stored: `{"secret": {"sealed": "v1:..."}}`, which no request may send;
- answered, shown, logged: `{"secret": "set"}`; in an export `{"secret": null}` unless the
  secrets are asked for, then `{"secret": "plain value"}`.

Only `data.headers` holds secrets: a `{"secret": ...}` object in a JSON body is the body's own.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ...errors import Invalid
from ...sealed import SecretBox

SET = "set"  # a secret shown, or kept as it is when sent back
SEALED = "sealed"


def sealed_of(value: object) -> str | None:
    """The sealed text a stored header value holds, or None for a plain header."""
    if isinstance(value, dict) and set(value) == {"secret"}:
        inner = value["secret"]
        if isinstance(inner, dict) and set(inner) == {SEALED} and isinstance(inner[SEALED], str):
            return inner[SEALED]
    return None


def stored(sealed: str) -> dict[str, Any]:
    return {"secret": {SEALED: sealed}}


def seal_headers(data: dict[str, Any], previous: dict[str, Any] | None, box: SecretBox) -> dict[str, Any]:
    """A request's data as stored: each `{"secret": "value"}` header sealed, each `{"secret":
    "set"}` given the sealed value the previous data holds under that name.

    Anything else in a header value is left for parse_http_data to refuse (or accept)."""
    headers = data.get("headers")
    if not isinstance(headers, dict) or not any(isinstance(v, dict) for v in headers.values()):
        return data
    before = previous.get("headers") if isinstance(previous, dict) else None
    kept = before if isinstance(before, dict) else {}
    sealed: dict[str, Any] = {}
    for name, value in headers.items():
        if not isinstance(value, dict):
            sealed[name] = value
            continue
        secret = value.get("secret") if set(value) == {"secret"} else None
        if not isinstance(secret, str):
            raise Invalid(
                "data.headers",
                f'data.headers[{str(name)[:64]!r}] must be a string or {{"secret": "a string"}}',
            )
        if secret == SET:
            old = sealed_of(kept.get(name))
            if old is None:
                raise Invalid(
                    "data.headers",
                    f'data.headers[{str(name)[:64]!r}] is {{"secret": "set"}} but this job holds no secret '
                    "under that name: give its value",
                )
            sealed[name] = stored(old)
            continue
        check_value(name, secret)
        sealed[name] = stored(box.seal(secret))
    return {**data, "headers": sealed}


def check_value(name: str, value: str) -> None:
    if any(c in value for c in "\r\n\x00") or len(value) > 8192:
        raise Invalid("data.headers", f"data.headers[{name[:64]!r}] must be a string without line breaks")


def map_secrets(data: dict[str, Any], change: Callable[[str], Any]) -> dict[str, Any]:
    """The data with each stored secret header's value replaced by change(its sealed text)."""
    headers = data.get("headers")
    if not isinstance(headers, dict) or not any(sealed_of(v) is not None for v in headers.values()):
        return data
    mapped = {}
    for name, value in headers.items():
        sealed = sealed_of(value)
        mapped[name] = value if sealed is None else change(sealed)
    return {**data, "headers": mapped}


def without_unknown(data: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """An imported file's data without the secret headers it holds no value for (`{"secret": null}`,
    what an export writes unless asked for the secrets), and the names of those headers."""
    headers = data.get("headers")
    if not isinstance(headers, dict):
        return data, []
    missing = [name for name, value in headers.items() if value == {"secret": None}]
    if not missing:
        return data, []
    kept = {k: v for k, v in headers.items() if k not in missing}
    if kept:
        return {**data, "headers": kept}, missing
    return {k: v for k, v in data.items() if k != "headers"}, missing
