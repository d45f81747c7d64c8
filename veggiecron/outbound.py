"""Which addresses jobs may call (SSRF protection), checked at creation and at every dispatch.

Production denies every address that is not globally routable: loopback, private, link-local
(169.254.169.254 included), multicast, unspecified and reserved ranges. Development and test
allow loopback too. Networks in http_client.allow_networks are allowed everywhere. The check at
dispatch runs on the addresses DNS answers then, so a name that later resolves to a private
address (DNS rebinding) is still refused; redirects are not followed.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from typing import Any

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import ThreadedResolver

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class DestinationDenied(OSError):
    """A job tried to reach an address its environment does not allow."""


class OutboundPolicy:
    def __init__(self, env: str, allow_networks: tuple[str, ...] = ()) -> None:
        self.allow_loopback = env != "production"
        self.allowed = [ipaddress.ip_network(n, strict=False) for n in allow_networks]
        self._host_answers: dict[str, str | None] = {}

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
        loop = asyncio.get_running_loop()
        try:
            infos = await asyncio.wait_for(loop.getaddrinfo(host, None, type=socket.SOCK_STREAM), timeout=5)
        except (OSError, TimeoutError, UnicodeError):  # UnicodeError: a name IDNA cannot encode
            return None  # unresolvable now: checked again at each dispatch
        reasons = [self.denies(ipaddress.ip_address(info[4][0])) for info in infos]
        return reasons[0] if reasons and all(reasons) else None


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


class GuardedResolver(AbstractResolver):
    """aiohttp's threaded resolver, keeping only the addresses the policy allows."""

    def __init__(self, policy: OutboundPolicy) -> None:
        self.policy = policy
        self.inner = ThreadedResolver()

    async def resolve(self, host: str, port: int = 0, family: Any = socket.AF_INET) -> list[ResolveResult]:
        results = await self.inner.resolve(host, port, family)
        allowed = [r for r in results if self.policy.denies(ipaddress.ip_address(r["host"])) is None]
        if not allowed:
            reason = self.policy.denies(ipaddress.ip_address(results[0]["host"])) if results else "no address"
            raise DestinationDenied(f"destination denied: {host} resolves to {reason}")
        return allowed

    async def close(self) -> None:
        await self.inner.close()
