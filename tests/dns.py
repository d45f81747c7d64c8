"""A DNS server for the tests, on a loopback UDP port: it answers, answers late, or never answers.

The server's resolver is pointed at it (http_client.dns_servers), so names resolve through the
real code path (c-ares) without any network. It speaks just enough DNS: one question per query,
A answers from `addresses` (127.0.0.1 by default), AAAA answered empty.
"""

from __future__ import annotations

import asyncio
import ipaddress
import struct
from dataclasses import dataclass, field

A, AAAA = 1, 28


@dataclass
class FakeDns:
    port: int = 0
    queries: list[str] = field(default_factory=list)
    addresses: dict[str, str] = field(default_factory=dict)  # name -> IPv4 address
    hang_prefix: str | None = None  # names starting with it are never answered
    delay: dict[str, float] = field(default_factory=dict)  # name -> seconds before the answer
    _transport: asyncio.DatagramTransport | None = None

    async def start(self) -> FakeDns:
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(lambda: _Protocol(self), local_addr=("127.0.0.1", 0))
        self._transport = transport
        self.port = transport.get_extra_info("sockname")[1]
        return self

    def stop(self) -> None:
        if self._transport is not None:
            self._transport.close()

    @property
    def server(self) -> str:
        return f"127.0.0.1:{self.port}"

    def hung(self, prefix: str | None = None) -> int:
        """Queries for names starting with `prefix` (default: hang_prefix) received so far."""
        wanted = prefix or self.hang_prefix or ""
        return sum(1 for name in self.queries if name.startswith(wanted))

    def answer(self, query: bytes) -> tuple[bytes | None, float]:
        """The response to a query (None: no answer) and how long to wait before sending it."""
        (query_id,) = struct.unpack("!H", query[:2])
        labels, at = [], 12
        while query[at]:
            length = query[at]
            labels.append(query[at + 1 : at + 1 + length].decode("ascii").lower())
            at += 1 + length
        at += 1
        qtype, _qclass = struct.unpack("!HH", query[at : at + 4])
        name = ".".join(labels)
        self.queries.append(name)
        if self.hang_prefix is not None and name.startswith(self.hang_prefix):
            return None, 0.0
        question = query[12 : at + 4]
        answers = b""
        if qtype == A:
            address = ipaddress.IPv4Address(self.addresses.get(name, "127.0.0.1")).packed
            answers = b"\xc0\x0c" + struct.pack("!HHIH", A, 1, 0, 4) + address  # TTL 0: never cached
        header = struct.pack("!HHHHHH", query_id, 0x8180, 1, 1 if answers else 0, 0, 0)
        return header + question + answers, self.delay.get(name, 0.0)


class _Protocol(asyncio.DatagramProtocol):
    def __init__(self, dns: FakeDns) -> None:
        self.dns = dns

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        response, delay = self.dns.answer(data)
        transport = self.dns._transport
        if response is None or transport is None:
            return
        if delay:
            asyncio.get_running_loop().call_later(delay, transport.sendto, response, addr)
        else:
            transport.sendto(response, addr)
