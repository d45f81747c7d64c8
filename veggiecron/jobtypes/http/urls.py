"""The one URL validator for every outbound target: a job's data.url and notify_url, a Seed
schedule's endpoint and a webhook's target.

A target a client sends must be an http(s) URL that can be delivered: ASCII (an internationalized
host name is written in its IDNA form, xn--...), a host name of letters, digits, '-' and '_'
labels, an IPv4 address or a bracketed IPv6 one, an optional port from 1 to 65535, and a path,
query and fragment of the characters RFC 3986 allows (others percent-encoded). TARGET_URL_PATTERN
says that in one regular expression, written so that Python and ECMA 262 (JSON Schema, hence the
OpenAPI document) read it alike; every string it matches is also an RFC 3986 URI.

Jobs stored before these rules were this strict are read with strict=False: they keep running.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

import yarl

from ...errors import Invalid

MAX_URL_LENGTH = 2048

_UNRESERVED = "-A-Za-z0-9._~!$&'()*+,;="  # RFC 3986 unreserved and sub-delims
_PCT = "%[0-9A-Fa-f]{2}"
_USERINFO = f"(?:[{_UNRESERVED}:]|{_PCT})*@"
_LABEL = "[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?"
_HOST = f"(?:{_LABEL}(?:\\.{_LABEL})*|\\[[0-9A-Fa-f:.]{{2,45}}\\])"
_PORT = "(?::(?:[1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5]))?"
_PATH = f"(?:/(?:[{_UNRESERVED}:@]|{_PCT})*)*"
_QUERY = f"(?:\\?(?:[{_UNRESERVED}:@/?]|{_PCT})*)?"
_FRAGMENT = f"(?:#(?:[{_UNRESERVED}:@/?]|{_PCT})*)?"
TARGET_URL_PATTERN = f"^[Hh][Tt][Tt][Pp][Ss]?://(?:{_USERINFO})?{_HOST}{_PORT}{_PATH}{_QUERY}{_FRAGMENT}$"
_TARGET_URL = re.compile(TARGET_URL_PATTERN)
RULES = (
    "an http:// or https:// URL in ASCII (an internationalized host in its xn-- form), with a host, "
    "a port from 1 to 65535 if any, and other characters percent-encoded"
)


@dataclass(frozen=True, slots=True)
class Target:
    """A checked URL: its host (as the outbound policy checks it) and what aiohttp's per-host limit counts by."""

    url: str
    host: str
    connection_key: str


def check_url(value: object, field: str, max_length: int = MAX_URL_LENGTH, *, strict: bool = True) -> Target:
    """The target in `value`, or Invalid naming `field`.

    strict=False (jobs already stored) checks only what sending needs: a string without spaces or
    control characters, an http(s) scheme, a host and a port aiohttp can build a request for.
    """
    if not isinstance(value, str) or not value:
        raise Invalid(field, f"{field} is required and must be a string")
    if len(value) > max_length:
        raise Invalid(field, f"{field} must be at most {max_length} characters")
    if strict and not _TARGET_URL.fullmatch(value):
        raise Invalid(field, f"{field} must be {RULES}{_hint(value)}")
    if any(c.isspace() or ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        raise Invalid(field, f"{field} must not contain spaces or control characters")
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number in range
    except ValueError:
        raise Invalid(field, f"{field} is not a valid URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Invalid(field, f"{field} must start with http:// or https:// and name a host")
    if strict and parts.netloc.rsplit("@", 1)[-1].startswith("["):
        try:
            ipaddress.IPv6Address(parts.hostname)
        except ValueError:
            raise Invalid(field, f"{field} has a bracketed host that is not an IPv6 address") from None
    try:
        # aiohttp sends with yarl, which refuses some names urlsplit takes: an xn-- label that
        # IDNA cannot decode, for one.
        parsed = yarl.URL(value)
        key = f"{parsed.scheme}://{parsed.host}:{parsed.port}"
    except (ValueError, UnicodeError):
        raise Invalid(field, f"{field} has a host name that is not valid IDNA") from None
    return Target(value, parts.hostname, key)


def _hint(value: str) -> str:
    """For a host written in Unicode, the IDNA form to write instead."""
    try:
        host = urlsplit(value).hostname
    except ValueError:
        return ""
    if host is None or host.isascii():
        return ""
    try:
        encoded = host.encode("idna").decode("ascii")
    except UnicodeError:
        return f" (the host {host!r} has no IDNA form)"
    return f" (write the host {host!r} as {encoded!r})"
