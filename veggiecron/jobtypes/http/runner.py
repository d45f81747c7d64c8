"""Run http jobs through one shared aiohttp pool, per-target connection slots and retries."""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import itertools
import logging
import socket
import ssl
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import NamedTuple
from urllib.parse import urlsplit

import aiohttp
import orjson
import yarl

from ... import __version__
from ...config import HttpClientSection
from ...follow import TRIGGERED_BY
from ...model import CompiledJob, RunOutcome, RunResult, idempotency_key
from ...outbound import DestinationDenied, GuardedResolver, OutboundPolicy, make_resolver
from ...signing import SigningBook, signed_headers
from ...times import iso_utc_micros
from ..base import FailedAttempt, TokenIssuer
from .delivery import MAX_RETRY_AFTER, is_retryable_status, retry_after_seconds, retry_delay
from .host_slots import HostSlots
from .target import HttpTarget

Bearer = Callable[[], Awaitable[str]]  # a new OIDC token for each request

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Attempt:
    """One request's outcome."""

    ok: bool
    status: int | None = None
    error: str | None = None
    error_class: str | None = None
    excerpt: str | None = None
    retry_after: float | None = None  # seconds the target asked us to wait (429/503 Retry-After)
    sent_at: float | None = None  # when the request was handed to a connection (None: it never was)


class Clone(NamedTuple):
    """One clone of a run after its retries: the last attempt, how many were made, and when the
    first of them to reach a connection was handed to it (the run's start; None if none did)."""

    last: Attempt
    attempts: int
    first_sent_at: float | None


class HttpRunner:
    """Runs http jobs through one shared aiohttp ClientSession, created at start and closed at stop."""

    def __init__(
        self,
        settings: HttpClientSection,
        outbound: OutboundPolicy,
        node: str = "",
        signing: SigningBook | None = None,
        oidc: TokenIssuer | None = None,
    ) -> None:
        """node: this node's name among several, sent as X-Veggiecron-Node (empty: a single daemon)."""
        self.settings = settings
        self.outbound = outbound
        self.node = node
        self.signing = signing if signing is not None else SigningBook()
        self.oidc = oidc
        self._session: aiohttp.ClientSession | None = None
        self._resolver: GuardedResolver | None = None
        self._slots = HostSlots(settings.pool_per_host, settings.pool_size)
        # Told of every failed attempt, retries included (the Seed metrics push counts them).
        self._failed_attempt_observers: list[Callable[[FailedAttempt], None]] = []

    def observe_failed_attempts(self, observer: Callable[[FailedAttempt], None]) -> None:
        self._failed_attempt_observers.append(observer)

    async def start(self) -> None:
        settings = self.settings
        resolver = make_resolver(settings.dns_servers, settings.dns_timeout_seconds)
        self.outbound.resolver = resolver  # job URLs are checked at creation through it too
        self._resolver = GuardedResolver(self.outbound, resolver, settings.dns_timeout_seconds)
        connector = aiohttp.TCPConnector(
            limit=self.settings.pool_size,
            limit_per_host=self.settings.pool_per_host,
            use_dns_cache=False,  # the resolver keeps answers (GuardedResolver.CACHE_SECONDS)
            keepalive_timeout=self.settings.keepalive_seconds or None,
            force_close=self.settings.keepalive_seconds == 0,
            resolver=self._resolver,
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
        if self._resolver is not None:
            self.outbound.resolver = None
            await self._resolver.close()  # the connector closes only resolvers it made itself
            self._resolver = None

    async def run(self, job: CompiledJob, due_at: float, epoch: int = 1) -> RunResult:
        """Send the job's clones in parallel; the run is ok when every clone is.

        The run starts when its first request is handed to a connection; the time before that
        (the name's lookup, the wait for a free connection) is its pool wait.
        """
        target: HttpTarget = job.target  # type: ignore[assignment]
        keys = self.signing.keys(job.user_id) if target.sign else ()
        bearer = self._bearer(job, target, due_at) if target.oidc else None
        return await self.run_target(job.id, target, due_at, epoch, keys, bearer)

    def _bearer(self, job: CompiledJob, target: HttpTarget, due_at: float) -> Bearer:
        """A new OIDC token for each request of this run: jti is <run_id>:<n>, n counting the
        run's requests (attempts and clones), so no two tokens share one."""
        issuer = self.oidc
        numbers = itertools.count(1)
        run_id = idempotency_key(job.id, due_at)

        async def bearer() -> str:
            if issuer is None:
                raise RuntimeError("this server signs no OIDC tokens")
            return await issuer.token(target.oidc_audience, job.user_id, job.name, f"{run_id}:{next(numbers)}")

        return bearer

    async def run_target(
        self,
        job_id: int,
        target: HttpTarget,
        due_at: float,
        epoch: int = 1,
        keys: tuple[bytes, ...] = (),
        bearer: Bearer | None = None,
    ) -> RunResult:
        """One run of an http target (see run); signed with `keys` (Standard Webhooks) when any."""
        queued = time.time()
        headers = dict(target.headers)
        headers["X-Veggiecron-Job"] = str(job_id)
        headers["X-Veggiecron-Scheduled-At"] = iso_utc_micros(due_at)
        # The same for every attempt and clone of one slot, different for every slot.
        headers["Idempotency-Key"] = idempotency_key(job_id, due_at)
        # Above 1 only for a slot sent again after the node holding it died or stalled: a
        # receiver that saw this key with a lower epoch may drop this copy.
        headers["X-Veggiecron-Epoch"] = _epoch_text(epoch)
        if self.node:
            headers["X-Veggiecron-Node"] = self.node
        if (triggered_by := TRIGGERED_BY.get()) is not None:  # a follower's run: its parent's run_id
            headers["X-Veggiecron-Triggered-By"] = triggered_by
        if target.number_of_clones == 1:
            results = [await self._send_with_retries(target, headers, keys, bearer)]
        else:
            clones = (self._send_with_retries(target, headers, keys, bearer) for _ in range(target.number_of_clones))
            results = list(await asyncio.gather(*clones))
        ended = time.time()
        sent = [clone.first_sent_at for clone in results if clone.first_sent_at is not None]
        # A run whose request never reached a connection (a failed lookup, a refused address, a
        # timeout while waiting) started when it was queued, and has no pool wait.
        started = min(sent) if sent else queued
        duration_ms = (ended - started) * 1000.0
        failed = [clone for clone in results if not clone.last.ok]
        first = (failed[0] if failed else results[0]).last
        error = first.error
        if failed and len(results) > 1:
            error = f"{len(failed)}/{len(results)} clones failed: {first.error}"
        return RunResult(
            outcome=RunOutcome.FAILED if failed else RunOutcome.OK,
            started_at=started,
            duration_ms=duration_ms,
            attempts=max(clone.attempts for clone in results),
            status_code=first.status,
            error=error,
            response_excerpt=first.excerpt,
            error_class=first.error_class,
            pool_wait_ms=(started - queued) * 1000.0 if sent else None,
        )

    async def notify(
        self, url: str, body: object, headers: dict[str, str], timeout: float, owner: int | None = None
    ) -> str | None:
        """POST a small JSON event once; answer None when delivered, else the reason it was not."""
        if self._session is None:
            return "the client is stopped"
        denied = self.outbound.denies_host(urlsplit(url).hostname or "")
        if denied is not None:
            return f"destination denied: {denied}"
        data = orjson.dumps(body)
        keys = self.signing.keys(owner) if owner is not None else ()
        if keys:  # a notification is one message: an id of its own
            headers = {**headers, **signed_headers(keys, f"msg_{uuid.uuid4().hex}", time.time(), data)}
        try:
            async with self._session.post(
                url,
                data=data,
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

    async def _send_with_retries(
        self, target: HttpTarget, headers: dict[str, str], keys: tuple[bytes, ...], bearer: Bearer | None = None
    ) -> Clone:
        """Up to 1 + retries attempts, stopping early when hopeless (see Clone)."""
        count = 0
        first_sent: float | None = None
        while True:
            count += 1
            sent = headers
            if keys:  # signed again for each attempt: webhook-timestamp is the time of sending
                sent = {**headers, **signed_headers(keys, headers["Idempotency-Key"], time.time(), target.body or b"")}
            if bearer is not None:  # a token of its own for each attempt (jti, iat)
                sent = {**sent, "Authorization": "Bearer " + await bearer()}
            attempt = await self._send(target, sent)
            if not attempt.ok:
                for observer in self._failed_attempt_observers:
                    observer(FailedAttempt(attempt.status, attempt.error_class))
            if first_sent is None:
                first_sent = attempt.sent_at
            if attempt.ok or count > target.retries:
                return Clone(attempt, count, first_sent)
            if attempt.error_class == "assertion":
                if not (target.expect is not None and target.expect.retry):
                    return Clone(attempt, count, first_sent)  # the target answered what it meant to
            elif attempt.status is not None and not is_retryable_status(attempt.status, target.retry_on):
                return Clone(attempt, count, first_sent)  # a 4xx that cannot succeed: retrying would only hammer it
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
        sent_at: float | None = None
        try:
            # The job's timeout covers the lookup and the wait for a connection as well as the request.
            async with asyncio.timeout(target.timeout):
                failed = await self._look_up(target)
                if failed is not None:
                    return failed
                key = target.connection_key
                await self._slots.acquire(key)
                sent_at = time.time()
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
                        expect = target.expect
                        body: bytes | None = None
                        if expect is not None and expect.needs_body:
                            # Assertions read the body itself, up to the same bound the drain keeps.
                            body = await _read_bounded(response.content, self.settings.max_response_bytes)
                            excerpt_bytes = body[: self.settings.response_excerpt_bytes]
                            remaining = self.settings.max_response_bytes - len(body)
                        elif length is not None and length <= self.settings.max_response_bytes:
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
                                sent_at=sent_at,
                            )
                        if response.status in target.success_codes:
                            if expect is not None:
                                failed_check = expect.check(response.headers, body, (time.time() - sent_at) * 1000.0)
                                if failed_check is not None:
                                    return Attempt(
                                        False, response.status, failed_check, "assertion", excerpt, sent_at=sent_at
                                    )
                            return Attempt(True, response.status, None, None, excerpt, sent_at=sent_at)
                        if expect is not None and expect.status_given:
                            return Attempt(
                                False,
                                response.status,
                                f"expect.status: got HTTP {response.status}",
                                "assertion",
                                excerpt,
                                sent_at=sent_at,
                            )
                        retry_after = None
                        if response.status in (429, 503):
                            retry_after = retry_after_seconds(response.headers.get("Retry-After"), time.time())
                        return Attempt(
                            False,
                            response.status,
                            f"HTTP {response.status}",
                            "http_status",
                            excerpt,
                            retry_after,
                            sent_at,
                        )
                finally:
                    self._slots.release(key)
        except TimeoutError:
            return Attempt(False, None, f"timeout after {target.timeout:g}s", "timeout", sent_at=sent_at)
        except aiohttp.ClientConnectorDNSError as exc:
            if isinstance(exc.os_error, DestinationDenied):
                return Attempt(False, None, str(exc.os_error)[:500], "denied", sent_at=sent_at)
            return Attempt(False, None, f"dns: {exc.os_error}"[:500], "dns", sent_at=sent_at)
        except (aiohttp.ClientConnectorCertificateError, aiohttp.ClientSSLError, ssl.SSLError) as exc:
            return Attempt(False, None, f"tls: {exc}"[:500], "tls", sent_at=sent_at)
        except aiohttp.ClientConnectorError as exc:
            return Attempt(False, None, f"connect: {exc.strerror or exc}"[:500], "connect", sent_at=sent_at)
        except aiohttp.InvalidURL as exc:
            return Attempt(False, None, f"invalid url: {exc}"[:500], "invalid_url", sent_at=sent_at)
        except aiohttp.ClientResponseError as exc:  # the target answered, but not in HTTP
            return Attempt(False, None, f"protocol: {exc.message}"[:500], "protocol", sent_at=sent_at)
        except (aiohttp.ClientError, OSError, ValueError) as exc:
            return Attempt(False, None, f"{type(exc).__name__}: {exc}"[:500], "connect", sent_at=sent_at)

    async def _look_up(self, target: HttpTarget) -> Attempt | None:
        """Resolve the target's name before taking a connection slot; the failed attempt, if it fails.

        aiohttp resolves inside a slot of its pool: names that hang would hold every slot, and
        healthy jobs would wait for one. Resolved here, the connection finds the answer cached.
        """
        if self._resolver is None or _is_address(target.host):
            return None
        try:
            await self._resolver.resolve(target.host, _url(target.url).port or 0, socket.AF_UNSPEC)
        except DestinationDenied as exc:
            return Attempt(False, None, str(exc)[:500], "denied")
        except OSError as exc:
            return Attempt(False, None, f"dns: {exc.strerror or exc}"[:500], "dns")
        return None


async def _read_bounded(content: aiohttp.StreamReader, limit: int) -> bytes:
    """The body's first limit + 1 bytes at most (one byte over says it was too long)."""
    chunks: list[bytes] = []
    size = 0
    while size <= limit:
        chunk = await content.read(min(65536, limit + 1 - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


@functools.lru_cache(maxsize=65536)
def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


@functools.lru_cache(maxsize=65536)
def _url(url: str) -> yarl.URL:
    """The parsed URL of a job (jobs fire again and again: parse each URL once)."""
    return yarl.URL(url)


NO_CLIENT_TIMEOUT = aiohttp.ClientTimeout()
NO_CONTENT_TYPE = ("Content-Type",)


@functools.lru_cache(maxsize=64)
def _epoch_text(epoch: int) -> str:
    return str(epoch)
