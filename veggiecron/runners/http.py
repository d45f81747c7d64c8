"""The http job type: validate a job's data into an HttpTarget; run it through one shared pool."""

from __future__ import annotations

import asyncio
import functools
import logging
import re
import ssl
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

import aiohttp
import orjson
import yarl

from .. import __version__
from ..config import HttpClientSection
from ..errors import Invalid
from ..model import HttpTarget, RunOutcome
from ..outbound import DestinationDenied, GuardedResolver, OutboundPolicy
from ..policies import is_retryable_status, retry_after_seconds, retry_delay, utc_iso

logger = logging.getLogger(__name__)

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
)
MAX_URL_LENGTH = 2048
MAX_RETRIES = 10
MAX_TIMEOUT = 3600.0
MAX_RETRY_AFTER = 3600.0  # a longer Retry-After is capped: the run would outlive its purpose
NO_CODES: frozenset[int] = frozenset()  # shared: each empty frozenset built from a list is 216 bytes
# Held jobs share these rather than each holding its own copy: a timeout or backoff of 30
# seconds is one float object across a million jobs (the cache keys 30 and 30.0 alike).
_shared_float = functools.lru_cache(maxsize=256)(float)

_HEADER_NAME = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,256}$")
_STATUS_CLASS = re.compile(r"^([1-5])xx$")


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def parse_http_data(data: object, defaults: HttpClientSection) -> HttpTarget:
    """Validate an http job's `data`; raise Invalid naming the first bad field."""
    if not isinstance(data, dict):
        raise Invalid("data", "data must be a JSON object")
    for key in data:
        if key not in FIELDS:
            raise Invalid(f"data.{key}", f"unknown field data.{key}; http jobs take: {', '.join(FIELDS)}")

    url = data.get("url")
    if not isinstance(url, str) or not url:
        raise Invalid("data.url", "data.url is required and must be a string")
    if len(url) > MAX_URL_LENGTH or any(c in url for c in "\r\n\t\x00 "):
        raise Invalid("data.url", f"data.url must be at most {MAX_URL_LENGTH} characters with no spaces")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        raise Invalid("data.url", "data.url is not a valid URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Invalid("data.url", "data.url must start with http:// or https:// and name a host")
    try:
        key = connection_key(url)
    except ValueError:  # yarl, which aiohttp sends with, refuses some names urlsplit takes (bad IDNA)
        raise Invalid("data.url", "data.url is not a valid URL") from None

    verb = data.get("verb", "GET")
    if not isinstance(verb, str) or verb.upper() not in VERBS:
        raise Invalid("data.verb", f"data.verb must be one of {', '.join(VERBS)}")

    clones = data.get("number_of_clones", 1)
    if not _is_int(clones) or not 1 <= clones <= defaults.max_clones:
        raise Invalid(
            "data.number_of_clones", f"data.number_of_clones must be an integer from 1 to {defaults.max_clones}"
        )

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
        if not isinstance(value, str) or any(c in value for c in "\r\n\x00") or len(value) > 8192:
            raise Invalid("data.headers", f"data.headers[{name!r}] must be a string without line breaks")
        header_items.append((name, value))

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

    retries = data.get("retries", 0)
    if not _is_int(retries) or not 0 <= retries <= MAX_RETRIES:
        raise Invalid("data.retries", f"data.retries must be an integer from 0 to {MAX_RETRIES}")

    backoff = data.get("retry_backoff_seconds", defaults.retry_backoff_seconds)
    if not _is_number(backoff) or not 0 <= backoff <= 3600:
        raise Invalid("data.retry_backoff_seconds", "data.retry_backoff_seconds must be a number from 0 to 3600")
    backoff_max = data.get("retry_backoff_max_seconds", max(backoff, defaults.retry_backoff_max_seconds))
    if not _is_number(backoff_max) or not backoff <= backoff_max <= 86400:
        raise Invalid(
            "data.retry_backoff_max_seconds",
            "data.retry_backoff_max_seconds must be a number from data.retry_backoff_seconds to 86400",
        )
    retry_on = data.get("retry_on", [])
    if (
        not isinstance(retry_on, list)
        or len(retry_on) > 100
        or not all(_is_int(code) and 400 <= code <= 499 for code in retry_on)
    ):
        raise Invalid("data.retry_on", "data.retry_on must be a list of 4xx status codes to retry anyway")

    success_codes = _parse_success_codes(data.get("success_codes", ["2xx"]))

    return HttpTarget(
        url=url,
        connection_key=key,
        host=sys.intern(parts.hostname),  # jobs aiming at one host share its name
        verb=VERBS[VERBS.index(verb.upper())],  # the constant, not a new string per job
        headers=tuple(header_items),
        body=body,
        number_of_clones=clones,
        enable_shadows=shadows,
        timeout=_shared_float(timeout),
        retries=retries,
        success_codes=success_codes,
        retry_backoff_seconds=_shared_float(backoff),
        retry_backoff_max_seconds=_shared_float(backoff_max),
        retry_on=frozenset(retry_on) if retry_on else NO_CODES,
    )


def _parse_success_codes(value: object) -> frozenset[int]:
    if isinstance(value, list) and all(isinstance(item, (int, str)) for item in value):
        # Shared between jobs: a set of 100 codes is kilobytes, and nearly every job says "2xx".
        return _success_codes(tuple(value))
    return _success_codes_uncached(value)


@functools.lru_cache(maxsize=1024)
def _success_codes(value: tuple[int | str, ...]) -> frozenset[int]:
    return _success_codes_uncached(list(value))


def _success_codes_uncached(value: object) -> frozenset[int]:
    message = 'data.success_codes must be a list of status codes (100-599) or classes such as "2xx"'
    if not isinstance(value, list) or not value or len(value) > 500:
        raise Invalid("data.success_codes", message)
    codes: set[int] = set()
    for item in value:
        if _is_int(item) and 100 <= item <= 599:
            codes.add(item)
        elif isinstance(item, str) and _STATUS_CLASS.fullmatch(item):
            base = int(item[0]) * 100
            codes.update(range(base, base + 100))
        else:
            raise Invalid("data.success_codes", message)
    return frozenset(codes)


@dataclass(frozen=True)
class HttpResult:
    """The outcome of one run of an http job (all its clones)."""

    outcome: RunOutcome
    started_at: float
    duration_ms: float
    attempts: int
    status_code: int | None
    error: str | None
    response_excerpt: str | None
    error_class: str | None = None


@dataclass(frozen=True)
class Attempt:
    """One request's outcome."""

    ok: bool
    status: int | None = None
    error: str | None = None
    error_class: str | None = None
    excerpt: str | None = None
    retry_after: float | None = None  # seconds the target asked us to wait (429/503 Retry-After)


class HostSlots:
    """At most `limit` requests in flight per target (scheme, host, port); the others wait here.

    aiohttp enforces the same limit, but a request waiting inside it already holds its whole
    request object; under overload thousands wait, so they wait here, before any is built.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._semaphores: dict[str, asyncio.Semaphore] = {}
        self._users: dict[str, int] = {}  # requests holding or waiting for each host's semaphore

    async def acquire(self, host: str) -> None:
        semaphore = self._semaphores.get(host)
        if semaphore is None:
            semaphore = self._semaphores[host] = asyncio.Semaphore(self.limit)
        self._users[host] = self._users.get(host, 0) + 1
        try:
            await semaphore.acquire()
        except BaseException:
            self._leave(host)
            raise

    def release(self, host: str) -> None:
        self._semaphores[host].release()
        self._leave(host)

    def _leave(self, host: str) -> None:
        users = self._users[host] - 1
        if users:
            self._users[host] = users
        else:  # nobody holds or waits: forget the host
            del self._users[host]
            del self._semaphores[host]

    def in_use(self) -> int:
        return sum(self._users.values())


class HttpRunner:
    """Runs http jobs through one shared aiohttp ClientSession, created at start and closed at stop."""

    def __init__(self, settings: HttpClientSection, outbound: OutboundPolicy) -> None:
        self.settings = settings
        self.outbound = outbound
        self._session: aiohttp.ClientSession | None = None
        self._slots = HostSlots(settings.pool_per_host)
        # Told of every failed attempt, retries included (the Seed metrics push counts them).
        self.on_failed_attempt: Callable[[Attempt], None] | None = None

    async def start(self) -> None:
        connector = aiohttp.TCPConnector(
            limit=self.settings.pool_size,
            limit_per_host=self.settings.pool_per_host,
            ttl_dns_cache=60,
            keepalive_timeout=self.settings.keepalive_seconds or None,
            force_close=self.settings.keepalive_seconds == 0,
            resolver=GuardedResolver(self.outbound),
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(total=self.settings.timeout_seconds),
            headers={"User-Agent": f"veggiecron/{__version__}"},
            # One session serves every user's jobs: a cookie one target sets must never reach
            # another job's request.
            cookie_jar=aiohttp.DummyCookieJar(),
            auto_decompress=False,
        )

    async def stop(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def run(self, job_id: int, target: HttpTarget, due_at: float) -> HttpResult:
        """Send the job's clones in parallel; the run is ok when every clone is."""
        started = time.time()
        headers = dict(target.headers)
        headers["X-Veggiecron-Job"] = str(job_id)
        headers["X-Veggiecron-Scheduled-At"] = utc_iso(due_at)
        # The same for every attempt and clone of one slot, different for every slot.
        headers["Idempotency-Key"] = idempotency_key(job_id, due_at)
        if target.number_of_clones == 1:
            results = [await self._send_with_retries(target, headers)]
        else:
            clones = (self._send_with_retries(target, headers) for _ in range(target.number_of_clones))
            results = list(await asyncio.gather(*clones))
        duration_ms = (time.time() - started) * 1000.0
        failed = [(attempt, count) for attempt, count in results if not attempt.ok]
        first, _ = failed[0] if failed else results[0]
        error = first.error
        if failed and len(results) > 1:
            error = f"{len(failed)}/{len(results)} clones failed: {first.error}"
        return HttpResult(
            outcome=RunOutcome.FAILED if failed else RunOutcome.OK,
            started_at=started,
            duration_ms=duration_ms,
            attempts=max(count for _attempt, count in results),
            status_code=first.status,
            error=error,
            response_excerpt=first.excerpt,
            error_class=first.error_class,
        )

    async def notify(self, url: str, body: object, headers: dict[str, str], timeout: float) -> str | None:
        """POST a small JSON event once; answer None when delivered, else the reason it was not."""
        if self._session is None:
            return "the client is stopped"
        denied = self.outbound.denies_host(urlsplit(url).hostname or "")
        if denied is not None:
            return f"destination denied: {denied}"
        try:
            async with self._session.post(
                url,
                data=orjson.dumps(body),
                headers={"Content-Type": "application/json", **headers},
                timeout=aiohttp.ClientTimeout(total=timeout),
                allow_redirects=False,
            ) as response:
                await response.content.read(self.settings.response_excerpt_bytes)
                return None if response.status < 400 else f"HTTP {response.status}"
        except TimeoutError:
            return f"timeout after {timeout:g}s"
        except (aiohttp.ClientError, OSError, ValueError) as exc:
            return f"{type(exc).__name__}: {exc}"[:500]

    async def _send_with_retries(self, target: HttpTarget, headers: dict[str, str]) -> tuple[Attempt, int]:
        """The last attempt and how many were made: up to 1 + retries, stopping early when hopeless."""
        count = 0
        while True:
            count += 1
            attempt = await self._send(target, headers)
            if not attempt.ok and self.on_failed_attempt is not None:
                self.on_failed_attempt(attempt)
            if attempt.ok or count > target.retries:
                return attempt, count
            if attempt.status is not None and not is_retryable_status(attempt.status, target.retry_on):
                return attempt, count  # a 4xx that cannot succeed: retrying would only hammer the target
            if attempt.retry_after is not None:
                delay = min(attempt.retry_after, MAX_RETRY_AFTER)
            else:
                delay = retry_delay(count, target.retry_backoff_seconds, target.retry_backoff_max_seconds)
            await asyncio.sleep(delay)

    async def _send(self, target: HttpTarget, headers: dict[str, str]) -> Attempt:
        if self._session is None:
            raise RuntimeError("HttpRunner is not started")
        denied = self.outbound.denies_host(target.host)  # names are checked by the resolver
        if denied is not None:
            return Attempt(False, None, f"destination denied: {denied}", "denied")
        try:
            # The job's timeout covers the wait for a connection as well as the request.
            async with asyncio.timeout(target.timeout):
                key = target.connection_key
                await self._slots.acquire(key)
                try:
                    async with self._session.request(
                        target.verb,
                        _url(target.url),
                        headers=headers,
                        data=target.body,
                        # A body goes out with the job's Content-Type or none, never a guessed one
                        # (asked per request: a session-wide skip list costs every request a copy).
                        skip_auto_headers=NO_CONTENT_TYPE if target.body is not None else None,
                        timeout=NO_CLIENT_TIMEOUT,  # asyncio.timeout above is the one deadline
                        allow_redirects=False,
                    ) as response:
                        length = response.content_length
                        if length is not None and length <= self.settings.max_response_bytes:
                            # The usual case: a short body of announced length, read in one go.
                            body = await response.read()
                            excerpt_bytes = body[: self.settings.response_excerpt_bytes]
                            remaining = self.settings.max_response_bytes - len(body)
                        else:
                            excerpt_bytes = await response.content.read(self.settings.response_excerpt_bytes)
                            # Drain the rest (bounded) so the connection can be reused; an endless body fails the run.
                            remaining = self.settings.max_response_bytes - len(excerpt_bytes)
                            while remaining >= 0 and not response.content.at_eof():
                                chunk = await response.content.read(min(65536, remaining + 1))
                                if not chunk:
                                    break
                                remaining -= len(chunk)
                        excerpt = excerpt_bytes.decode("utf-8", errors="replace") if excerpt_bytes else None
                        if remaining < 0:
                            return Attempt(
                                False,
                                response.status,
                                f"response body over {self.settings.max_response_bytes} bytes",
                                "body_too_large",
                                excerpt,
                            )
                        if response.status in target.success_codes:
                            return Attempt(True, response.status, None, None, excerpt)
                        retry_after = None
                        if response.status in (429, 503):
                            retry_after = retry_after_seconds(response.headers.get("Retry-After"), time.time())
                        return Attempt(
                            False, response.status, f"HTTP {response.status}", "http_status", excerpt, retry_after
                        )
                finally:
                    self._slots.release(key)
        except TimeoutError:
            return Attempt(False, None, f"timeout after {target.timeout:g}s", "timeout")
        except aiohttp.ClientConnectorDNSError as exc:
            if isinstance(exc.os_error, DestinationDenied):
                return Attempt(False, None, str(exc.os_error)[:500], "denied")
            return Attempt(False, None, f"dns: {exc.os_error}"[:500], "dns")
        except (aiohttp.ClientConnectorCertificateError, aiohttp.ClientSSLError, ssl.SSLError) as exc:
            return Attempt(False, None, f"tls: {exc}"[:500], "tls")
        except aiohttp.ClientConnectorError as exc:
            return Attempt(False, None, f"connect: {exc.strerror or exc}"[:500], "connect")
        except aiohttp.InvalidURL as exc:
            return Attempt(False, None, f"invalid url: {exc}"[:500], "invalid_url")
        except aiohttp.ClientResponseError as exc:  # the target answered, but not in HTTP
            return Attempt(False, None, f"protocol: {exc.message}"[:500], "protocol")
        except (aiohttp.ClientError, OSError, ValueError) as exc:
            return Attempt(False, None, f"{type(exc).__name__}: {exc}"[:500], "connect")


@functools.lru_cache(maxsize=65536)
def _url(url: str) -> yarl.URL:
    """The parsed URL of a job (jobs fire again and again: parse each URL once)."""
    return yarl.URL(url)


def connection_key(url: str) -> str:
    """What aiohttp's per-host limit counts by: scheme, host and port (the scheduler's lanes too).

    Interned: every target on one host shares the string.
    """
    parsed = yarl.URL(url)
    return sys.intern(f"{parsed.scheme}://{parsed.host}:{parsed.port}")


NO_CLIENT_TIMEOUT = aiohttp.ClientTimeout()
NO_CONTENT_TYPE = ("Content-Type",)


def idempotency_key(job_id: int, due_at: float) -> str:
    """Names one slot of one job: the same for every attempt and clone, different for every slot."""
    return f"{job_id}-{int(round(due_at * 1_000_000))}"
