"""The http job type's data: validated once into an HttpTarget, the value every run sends."""

from __future__ import annotations

import functools
import re
import sys
from dataclasses import dataclass, field
from typing import ClassVar
from urllib.parse import urlsplit

import orjson
import yarl

from ...config import HttpClientSection
from ...errors import Invalid
from ...json_numbers import describe, whole_number
from ...sealed import SecretBox
from .expect import Expectations, parse_expect
from .secrets import SET, check_value, sealed_of
from .urls import MAX_URL_LENGTH, check_url

VERBS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
FIELDS = (
    "url",
    "verb",
    "number_of_clones",
    "enable_shadows",
    "headers",
    "body",
    "json",
    "timeout",
    "retries",
    "retry_backoff_seconds",
    "retry_backoff_max_seconds",
    "retry_on",
    "success_codes",
    "expect",
    "sign",
    "oidc",
)
MAX_RETRIES = 10
MAX_TIMEOUT = 3600.0
NO_CODES: frozenset[int] = frozenset()  # shared: each empty frozenset built from a list is 216 bytes
# Held jobs share these rather than each holding its own copy: a timeout or backoff of 30
# seconds is one float object across a million jobs (the cache keys 30 and 30.0 alike).
_shared_float = functools.lru_cache(maxsize=256)(float)


@dataclass(frozen=True, slots=True)
class HttpOptions:
    """Everything one run of an http job sends but its URL's path. Jobs with equal options share
    one instance (see shared_options): a held job then costs its path and one pointer, not a copy
    of every field."""

    # scheme://host:port, what per-target connection limits count by (the runner's slots and
    # the scheduler's lanes); computed once when the target is built.
    connection_key: str
    # The URL's text before its path (scheme and authority, as written): jobs calling one host
    # share it, and each holds only the rest of its URL (see HttpTarget.url).
    origin: str = ""
    host: str = ""  # the URL's host name or address, checked against the outbound policy
    verb: str = "GET"
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes | None = None
    number_of_clones: int = 1
    enable_shadows: bool = False
    timeout: float = 30.0
    retries: int = 0
    success_codes: frozenset[int] = field(default_factory=lambda: frozenset(range(200, 300)))
    retry_backoff_seconds: float = 1.0
    retry_backoff_max_seconds: float = 60.0
    retry_on: frozenset[int] = frozenset()  # 4xx answers retried anyway (5xx, 408 and 429 always are)
    expect: Expectations | None = None  # response assertions; None costs a run nothing
    sign: bool = True  # signed with the owner's signing secrets, when they have any (false: never)
    oidc: bool = False  # each request carries an OIDC ID token (Authorization: Bearer), see oidc.py
    oidc_audience: str | None = None  # its aud; None: the job's URL


@functools.lru_cache(maxsize=4096)
def _first_equal(options: HttpOptions) -> HttpOptions:
    return options


def shared_options(options: HttpOptions) -> HttpOptions:
    """An equal instance already in use, if any (options holding an unhashable JSON value in an
    assertion are not shared)."""
    try:
        return _first_equal(options)
    except TypeError:
        return options


@dataclass(frozen=True, slots=True)
class HttpTarget:
    """What one run of an http job sends; built from a job's validated `data`."""

    job_type: ClassVar[str] = "http"

    path: str  # the URL after its origin: path, query and fragment, as written
    options: HttpOptions

    @property
    def url(self) -> str:
        """The URL as given (a run builds the text again: a held job keeps only its path)."""
        return self.options.origin + self.path

    @property
    def lane(self) -> str | None:
        # A run with retries sleeps between attempts and clones use several connections: such
        # runs take the runner's per-host slots attempt by attempt, not a lane's slot for their
        # whole length (a Retry-After could hold one for an hour).
        options = self.options
        return None if options.retries or options.number_of_clones > 1 else options.connection_key

    @property
    def hosts(self) -> tuple[str, ...]:
        return (self.options.host,)

    # The options, read as the target's own fields.
    @property
    def connection_key(self) -> str:
        return self.options.connection_key

    @property
    def host(self) -> str:
        return self.options.host

    @property
    def verb(self) -> str:
        return self.options.verb

    @property
    def headers(self) -> tuple[tuple[str, str], ...]:
        return self.options.headers

    @property
    def body(self) -> bytes | None:
        return self.options.body

    @property
    def number_of_clones(self) -> int:
        return self.options.number_of_clones

    @property
    def enable_shadows(self) -> bool:
        return self.options.enable_shadows

    @property
    def timeout(self) -> float:
        return self.options.timeout

    @property
    def retries(self) -> int:
        return self.options.retries

    @property
    def success_codes(self) -> frozenset[int]:
        return self.options.success_codes

    @property
    def retry_backoff_seconds(self) -> float:
        return self.options.retry_backoff_seconds

    @property
    def retry_backoff_max_seconds(self) -> float:
        return self.options.retry_backoff_max_seconds

    @property
    def retry_on(self) -> frozenset[int]:
        return self.options.retry_on

    @property
    def expect(self) -> Expectations | None:
        return self.options.expect

    @property
    def sign(self) -> bool:
        return self.options.sign

    @property
    def oidc(self) -> bool:
        return self.options.oidc

    @property
    def oidc_audience(self) -> str:
        """The aud of its OIDC tokens: as given, or the job's URL."""
        return self.options.oidc_audience or self.url


_HEADER_NAME = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,256}$")
_STATUS_CLASS = re.compile(r"^([1-5])xx$")


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def parse_http_data(
    data: object, defaults: HttpClientSection, *, strict: bool = True, box: SecretBox | None = None
) -> HttpTarget:
    """Validate an http job's `data`; raise Invalid naming the first bad field.

    strict=False reads a stored job: its URL is held to what sending needs (see urls.check_url).
    box opens the secret header values stored sealed (secrets.py); WrongSecretsKey when it cannot.
    """
    if not isinstance(data, dict):
        raise Invalid("data", "data must be a JSON object")
    for key in data:
        if key not in FIELDS:
            raise Invalid(f"data.{key}", f"unknown field data.{key}; http jobs take: {', '.join(FIELDS)}")

    url = data.get("url")
    target = check_url(url, "data.url", MAX_URL_LENGTH, strict=strict)

    verb = data.get("verb", "GET")
    if not isinstance(verb, str) or verb.upper() not in VERBS:
        raise Invalid("data.verb", f"data.verb must be one of {', '.join(VERBS)}")

    clones = whole_number(data.get("number_of_clones", 1))
    if clones is None or not 1 <= clones <= defaults.max_clones:
        raise Invalid(
            "data.number_of_clones",
            f"data.number_of_clones must be a whole number from 1 to {defaults.max_clones}, "
            f"not {describe(data.get('number_of_clones'))}",
        )

    oidc, oidc_audience = _parse_oidc(data["oidc"]) if "oidc" in data else (False, None)
    sign = data.get("sign", True)
    if not isinstance(sign, bool):
        raise Invalid("data.sign", "data.sign must be true or false")
    shadows = data.get("enable_shadows", False)
    if not isinstance(shadows, bool):
        raise Invalid("data.enable_shadows", "data.enable_shadows must be true or false")

    headers = data.get("headers", {})
    if not isinstance(headers, dict):
        raise Invalid("data.headers", "data.headers must be an object of header names to string values")
    header_items: list[tuple[str, str]] = []
    for name, value in headers.items():
        if not _HEADER_NAME.fullmatch(name):
            raise Invalid("data.headers", f"data.headers has an invalid header name {name[:64]!r}")
        header_items.append((name, _header_value(name, value, box)))

    if oidc and any(name.lower() == "authorization" for name, _ in header_items):
        raise Invalid("data.oidc", "data.oidc sends its token in the Authorization header: leave that header out")

    if "body" in data and "json" in data:
        raise Invalid("data.body", "give data.body or data.json, not both")
    body: bytes | None = None
    if "body" in data:
        if not isinstance(data["body"], str):
            raise Invalid("data.body", "data.body must be a string (use data.json for JSON)")
        body = data["body"].encode()
    elif "json" in data:
        body = orjson.dumps(data["json"])
        if not any(n.lower() == "content-type" for n, _ in header_items):
            header_items.append(("Content-Type", "application/json"))

    timeout = data.get("timeout", defaults.timeout_seconds)
    if not _is_number(timeout) or not 0 < timeout <= MAX_TIMEOUT:
        raise Invalid("data.timeout", f"data.timeout must be a number of seconds in (0, {MAX_TIMEOUT:g}]")

    retries = whole_number(data.get("retries", 0))
    if retries is None or not 0 <= retries <= MAX_RETRIES:
        raise Invalid(
            "data.retries",
            f"data.retries must be a whole number from 0 to {MAX_RETRIES}, not {describe(data.get('retries'))}",
        )

    backoff = data.get("retry_backoff_seconds", defaults.retry_backoff_seconds)
    if not _is_number(backoff) or not 0 <= backoff <= 3600:
        raise Invalid("data.retry_backoff_seconds", "data.retry_backoff_seconds must be a number from 0 to 3600")
    backoff_max = data.get("retry_backoff_max_seconds", max(backoff, defaults.retry_backoff_max_seconds))
    # Below retry_backoff_seconds it simply caps every delay (policies.retry_delay): not an error, a
    # rule between two fields that the OpenAPI document could not state.
    if not _is_number(backoff_max) or not 0 <= backoff_max <= 86400:
        raise Invalid(
            "data.retry_backoff_max_seconds", "data.retry_backoff_max_seconds must be a number from 0 to 86400"
        )
    raw_retry_on = data.get("retry_on", [])
    retry_on = [whole_number(code) for code in raw_retry_on] if isinstance(raw_retry_on, list) else []
    if (
        not isinstance(raw_retry_on, list)
        or len(retry_on) > 100
        or not all(code is not None and 400 <= code <= 499 for code in retry_on)
    ):
        raise Invalid(
            "data.retry_on", "data.retry_on must be a list of 4xx status codes (whole numbers) to retry anyway"
        )

    expect: Expectations | None = None
    if "expect" in data:
        expect = parse_expect(data["expect"], strict=strict)
    # expect.status is success_codes under another name: one list of accepted codes, not two.
    if expect is not None and expect.status_given:
        if "success_codes" in data:
            raise Invalid("data.expect.status", "give data.success_codes or data.expect.status, not both")
        try:
            success_codes = _parse_success_codes(data["expect"]["status"])
        except Invalid as exc:
            raise Invalid("data.expect.status", str(exc).replace("data.success_codes", "data.expect.status")) from None
    else:
        success_codes = _parse_success_codes(data.get("success_codes", ["2xx"]))

    origin = _origin(target.url)
    options = HttpOptions(
        connection_key=sys.intern(target.connection_key),  # targets on one host share the string
        origin=sys.intern(origin),
        host=sys.intern(target.host),  # jobs aiming at one host share its name
        verb=VERBS[VERBS.index(verb.upper())],  # the constant, not a new string per job
        headers=tuple(header_items),
        body=body,
        number_of_clones=int(clones),
        enable_shadows=shadows,
        timeout=_shared_float(timeout),
        retries=retries,
        success_codes=success_codes,
        retry_backoff_seconds=_shared_float(backoff),
        retry_backoff_max_seconds=_shared_float(backoff_max),
        retry_on=frozenset(code for code in retry_on if code is not None) if retry_on else NO_CODES,
        expect=expect,
        sign=sign,
        oidc=oidc,
        oidc_audience=oidc_audience,
    )
    return HttpTarget(path=target.url[len(origin) :], options=shared_options(options))


def _origin(url: str) -> str:
    """The text of a checked URL up to its path: urlsplit's scheme and netloc are as written."""
    parts = urlsplit(url)
    return url[: len(parts.scheme) + 3 + len(parts.netloc)]


def _header_value(name: str, value: object, box: SecretBox | None) -> str:
    """A header's value as sent. A secret is opened here, when the job is compiled, not at each
    request: the held target keeps one plain string per header as for any header (no object
    more per held job; jobs with equal headers still share one HttpOptions, which sealed texts,
    each with its own nonce, would prevent), a run pays no decryption, and a key that cannot open
    it fails the compile (at start: the start refuses), not every run of the job."""
    sealed = sealed_of(value)
    if sealed is not None:
        if box is None:
            raise Invalid("data.headers", f"data.headers[{name!r}] holds a sealed secret, which no request may send")
        return box.open(sealed)
    if isinstance(value, dict) and set(value) == {"secret"} and isinstance(value["secret"], str):
        value = value["secret"]  # a request's secret not sealed yet (the jobs service seals it before storing)
        if value == SET:
            raise Invalid("data.headers", f'data.headers[{name!r}] is {{"secret": "set"}} with no secret to keep')
    if not isinstance(value, str):
        raise Invalid("data.headers", f'data.headers[{name!r}] must be a string or {{"secret": "a string"}}')
    check_value(name, value)
    return value


def _parse_oidc(value: object) -> tuple[bool, str | None]:
    """data.oidc given: {} (audience: the job's URL) or {"audience": "..."}."""
    if not isinstance(value, dict) or set(value) - {"audience"}:
        raise Invalid("data.oidc", 'data.oidc must be {} or {"audience": "..."}')
    audience = value.get("audience")
    if "audience" in value and (not isinstance(audience, str) or not 0 < len(audience) <= MAX_URL_LENGTH):
        raise Invalid("data.oidc.audience", f"data.oidc.audience must be a text of 1 to {MAX_URL_LENGTH} characters")
    return True, audience


def _parse_success_codes(value: object) -> frozenset[int]:
    if isinstance(value, list) and all(isinstance(item, (int, float, str)) for item in value):
        # Shared between jobs: a set of 100 codes is kilobytes, and nearly every job says "2xx".
        return _success_codes(tuple(value))
    return _success_codes_uncached(value)


@functools.lru_cache(maxsize=1024)
def _success_codes(value: tuple[int | str, ...]) -> frozenset[int]:
    return _success_codes_uncached(list(value))


def _success_codes_uncached(value: object) -> frozenset[int]:
    message = 'data.success_codes must be a list of status codes (whole numbers 100-599) or classes such as "2xx"'
    if not isinstance(value, list) or not value or len(value) > 500:
        raise Invalid("data.success_codes", message)
    codes: set[int] = set()
    for item in value:
        code = whole_number(item)
        if code is not None and 100 <= code <= 599:
            codes.add(code)
        elif isinstance(item, str) and _STATUS_CLASS.fullmatch(item):
            base = int(item[0]) * 100
            codes.update(range(base, base + 100))
        else:
            raise Invalid("data.success_codes", message)
    return frozenset(codes)


def connection_key(url: str) -> str:
    """What aiohttp's per-host limit counts by: scheme, host and port (the scheduler's lanes too).

    Interned: every target on one host shares the string.
    """
    parsed = yarl.URL(url)
    return sys.intern(f"{parsed.scheme}://{parsed.host}:{parsed.port}")
