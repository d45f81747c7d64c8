"""Which addresses jobs may call (SSRF protection), checked at creation and at every dispatch.

Production denies every address that is not globally routable: loopback, private, link-local
(169.254.169.254 included), multicast, unspecified and reserved ranges. Development and test
allow loopback too. Networks in http_client.allow_networks are allowed everywhere. The check at
dispatch runs on the addresses DNS answers then, so a name that later resolves to a private
address (DNS rebinding) is still refused; redirects are not followed.

DNS itself is asked asynchronously (aiohttp's AsyncResolver over c-ares), not on threads: a
thread pool of any size fills up with names that do not answer and queues every other lookup
behind them, while c-ares keeps thousands of lookups in flight on one socket, each bounded.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from typing import Any

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import AsyncResolver

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class DestinationDenied(OSError):
    """A job tried to reach an address its environment does not allow."""


class OutboundPolicy:
    def __init__(self, env: str, allow_networks: tuple[str, ...] = ()) -> None:
        self.allow_loopback = env != "production"
        self.allowed = [ipaddress.ip_network(n, strict=False) for n in allow_networks]
        self._host_answers: dict[str, str | None] = {}
        # The runner's resolver once it runs; before (a command without a runner), the system's.
        self.resolver: AbstractResolver | None = None

    def denies(self, address: IPAddress) -> str | None:
        """Why the address is refused, or None when jobs may call it."""
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        if any(address in network for network in self.allowed):
            return None
        if address.is_loopback:
            return None if self.allow_loopback else "loopback addresses are not allowed"
        if address.is_global and not address.is_multicast:
            return None
        return f"{address} is not a public address"

    def denies_host(self, host: str) -> str | None:
        """For an IP literal, why it is refused; None for allowed literals and for names."""
        # Asked before every request: the answer for a host never changes, so it is remembered.
        try:
            return self._host_answers[host]
        except KeyError:
            pass
        answer = self._denies_host(host)
        if len(self._host_answers) >= 65536:
            self._host_answers.clear()
        self._host_answers[host] = answer
        return answer

    def _denies_host(self, host: str) -> str | None:
        try:
            address = ipaddress.ip_address(host.strip("[]"))
        except ValueError:
            return None
        return self.denies(address)

    async def denies_name(self, host: str) -> str | None:
        """Resolve a name now and refuse it when every address it has is refused."""
        literal = self.denies_host(host)
        if literal is not None or _is_ip(host):
            return literal
        try:
            async with asyncio.timeout(5):
                if self.resolver is not None:
                    addresses = [r["host"] for r in await self.resolver.resolve(host, 0, socket.AF_UNSPEC)]
                else:
                    infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
                    addresses = [str(info[4][0]) for info in infos]
        except (OSError, TimeoutError, UnicodeError):  # UnicodeError: a name IDNA cannot encode
            return None  # unresolvable now: checked again at each dispatch
        reasons = [self.denies(ipaddress.ip_address(address)) for address in addresses]
        return reasons[0] if reasons and all(reasons) else None


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def make_resolver(servers: tuple[str, ...] = (), timeout: float = 5.0) -> AbstractResolver:
    """An asynchronous resolver (c-ares): `servers` (host or host:port) or the system's resolv.conf.

    c-ares gives each server `timeout / 2` per try, twice; GuardedResolver bounds the whole lookup.
    """
    return AsyncResolver(nameservers=list(servers) or None, timeout=max(timeout / 2, 0.05), tries=2)


class GuardedResolver(AbstractResolver):
    """An asynchronous resolver bounded by a timeout, keeping only the addresses the policy allows.

    Allowed answers are kept for CACHE_SECONDS: the runner resolves a name before it takes a
    connection slot (a name that hangs must not hold one of the pool's slots), and the
    connection then finds the answer here.
    """

    CACHE_SECONDS = 60.0  # what aiohttp's own DNS cache kept answers for, before this one took over
    CACHE_ENTRIES = 65536

    def __init__(self, policy: OutboundPolicy, inner: AbstractResolver, timeout: float) -> None:
        self.policy = policy
        self.inner = inner
        self.timeout = timeout
        self._cache: dict[tuple[str, int, int], tuple[float, list[ResolveResult]]] = {}

    async def resolve(self, host: str, port: int = 0, family: Any = socket.AF_INET) -> list[ResolveResult]:
        key = (host, port, int(family))
        cached = self._cache.get(key)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        allowed = await self._resolve(host, port, family)
        if len(self._cache) >= self.CACHE_ENTRIES:
            self._cache.clear()
        self._cache[key] = (time.monotonic() + self.CACHE_SECONDS, allowed)
        return allowed

    async def _resolve(self, host: str, port: int, family: Any) -> list[ResolveResult]:
        try:
            async with asyncio.timeout(self.timeout):
                results = await self.inner.resolve(host, port, family)
        except TimeoutError:
            raise OSError(None, f"lookup of {host} timed out after {self.timeout:g}s") from None
        allowed = [r for r in results if self.policy.denies(ipaddress.ip_address(r["host"])) is None]
        if not allowed:
            reason = self.policy.denies(ipaddress.ip_address(results[0]["host"])) if results else "no address"
            raise DestinationDenied(f"destination denied: {host} resolves to {reason}")
        return allowed

    async def close(self) -> None:
        await self.inner.close()
