"""Login throttling by client address: failures slow the address they come from, never the user.

Throttling by username let anyone lock a user out by sending wrong passwords for the name.
Failures are counted instead per client address and per (address, username): a guesser slows
only itself, and the name's owner logs in from anywhere else as usual. A ceiling on failures
across all addresses answers spraying from many addresses: above it, every address that has
failed within the window waits, while addresses without failures still log in.

The throttle sits behind a small interface (LoginThrottle) so that several nodes can share one
kept in their database; AddressThrottle keeps its counts in this process's memory.
"""

from __future__ import annotations

import ipaddress
import math
from collections import OrderedDict, deque
from typing import Protocol

IPV6_PREFIX = 64  # one IPv6 client holds a whole /64: counting its addresses one by one is no limit


class LoginThrottle(Protocol):
    """Decides whether a password check may happen now, and learns from its outcome."""

    def retry_after(self, username: str, address: str, now: float) -> int | None:
        """Seconds until this username may be tried from this address, or None when it may be now."""

    def failed(self, username: str, address: str, now: float) -> None: ...

    def succeeded(self, username: str, address: str, now: float) -> None: ...


def client_key(address: str) -> str:
    """What one client is counted by: its IPv4 address, or the /64 its IPv6 address lies in."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address  # not an IP (a Unix socket): counted as given
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, IPV6_PREFIX), strict=False))
    return str(ip)


class AddressThrottle:
    """Failures counted per address, per (address, username) and in all, within a sliding window.

    A success clears its (address, username) count, not the address's: one address may guess
    many usernames, and a success on one of them says nothing about the others.
    """

    MAX_KEYS = 100_000  # beyond this, the keys that failed least recently are forgotten first

    def __init__(self, per_address_and_user: int, per_address: int, global_ceiling: int, window: float) -> None:
        self.per_address_and_user = per_address_and_user
        self.per_address = per_address
        self.global_ceiling = global_ceiling
        self.window = window
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()
        # Failures of every address, per whole second: [second, count], oldest first (bounded by
        # the window's length however many addresses take part).
        self._all: deque[list[float]] = deque()
        self._all_count = 0

    def retry_after(self, username: str, address: str, now: float) -> int | None:
        client = client_key(address)
        waits = []
        mine = self._recent(f"addr:{client}", now)
        for times, limit in (
            (mine, self.per_address),
            (self._recent(_pair(client, username), now), self.per_address_and_user),
        ):
            if len(times) >= limit:
                waits.append(times[len(times) - limit] + self.window - now)
        if mine and self._global_count(now) >= self.global_ceiling:
            # Spraying: an address that failed lately waits until its failures leave the
            # window or the flood of failures ebbs, whichever comes first.
            waits.append(min(mine[-1] + self.window, self._below_ceiling_at()) - now)
        return max(1, math.ceil(max(waits))) if waits else None

    def failed(self, username: str, address: str, now: float) -> None:
        client = client_key(address)
        for key in (f"addr:{client}", _pair(client, username)):
            times = self._failures.pop(key, None) or deque()
            times.append(now)
            self._failures[key] = times  # the young end: forgotten last
        second = math.floor(now)
        if self._all and self._all[-1][0] == second:
            self._all[-1][1] += 1
        else:
            self._all.append([second, 1])
        self._all_count += 1
        while len(self._failures) > self.MAX_KEYS:
            self._failures.popitem(last=False)

    def succeeded(self, username: str, address: str, now: float) -> None:
        self._failures.pop(_pair(client_key(address), username), None)

    def _recent(self, key: str, now: float) -> deque[float]:
        times = self._failures.get(key)
        if times is None:
            return deque()
        while times and times[0] <= now - self.window:
            times.popleft()
        if not times:
            del self._failures[key]
        return times

    def _global_count(self, now: float) -> int:
        while self._all and self._all[0][0] + 1 <= now - self.window:
            self._all_count -= int(self._all.popleft()[1])
        return self._all_count

    def _below_ceiling_at(self) -> float:
        """When enough of the oldest failures leave the window for the count to fall below the ceiling."""
        excess = self._all_count - self.global_ceiling + 1
        for second, count in self._all:
            excess -= int(count)
            if excess <= 0:
                return second + 1 + self.window
        return math.inf


def _pair(client: str, username: str) -> str:
    return f"pair:{client}\x00{username}"
