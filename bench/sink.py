"""A fast HTTP/1.1 sink on a raw asyncio.Protocol: answers 200 and records arrival vs due time.

Every request veggiecron sends carries X-Veggiecron-Scheduled-At (the slot's due time), so
lateness = arrival - due needs no coordination with the server.

    python -m bench.sink [--connections 50] [--seconds 5] [--pipeline 1] [--json]

measures the sink itself: bench/load.py, in a process of its own, sends veggiecron's request over
keep-alive connections, one request in flight on each, as fast as the answers come back. One load
process sending one request at a time tops out before the sink does; with --pipeline 16 it
writes 16 requests at once on each connection, which costs the client less per request and
shows what the sink itself takes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from datetime import datetime

from bench.load import LoadPlan, LoadProcess
from start import run

RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok"
DUE_HEADER = b"x-veggiecron-scheduled-at:"
KEY_HEADER = b"idempotency-key:"
TRIGGER_HEADER = b"x-veggiecron-triggered-by:"


class SinkProtocol(asyncio.Protocol):
    def __init__(self, sink: Sink) -> None:
        self.sink = sink
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        arrived = time.time()
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buffer[:end]
            length = 0
            due = None
            key = None
            trigger = None
            for line in head.split(b"\r\n")[1:]:
                lower = line.lower()
                if lower.startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
                elif lower.startswith(DUE_HEADER):
                    due = line.split(b":", 1)[1].strip()
                elif lower.startswith(KEY_HEADER):
                    key = line.split(b":", 1)[1].strip()
                elif lower.startswith(TRIGGER_HEADER):
                    trigger = line.split(b":", 1)[1].strip()
            if len(self.buffer) < end + 4 + length:
                return
            self.buffer = self.buffer[end + 4 + length :]
            self.sink.record(arrived, due, key, trigger)
            assert self.transport is not None
            self.transport.write(RESPONSE)


class Sink:
    """Collects (arrival, due) pairs; due times are parsed lazily, after the run."""

    def __init__(self) -> None:
        self.records: list[tuple[float, bytes | None]] = []
        self.keys: list[bytes] = []  # Idempotency-Key of each request: one per slot of one job
        # A follower's request (bench/chain.py): (arrival, its Idempotency-Key, its parent's run_id).
        self.triggered: list[tuple[float, bytes, bytes]] = []
        self.arrivals: dict[bytes, float] = {}  # first arrival of each Idempotency-Key, when keep_arrivals
        self.keep_arrivals = False
        self.server: asyncio.AbstractServer | None = None
        self.port = 0

    def record(self, arrived: float, due: bytes | None, key: bytes | None = None, trigger: bytes | None = None) -> None:
        self.records.append((arrived, due))
        if key is not None:
            self.keys.append(key)
            if self.keep_arrivals:
                self.arrivals.setdefault(key, arrived)
                if trigger is not None:
                    self.triggered.append((arrived, key, trigger))

    async def start(self, host: str = "127.0.0.1") -> None:
        loop = asyncio.get_running_loop()
        self.server = await loop.create_server(lambda: SinkProtocol(self), host, 0, backlog=4096)
        self.port = self.server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()

    def lateness_ms(self, since: float = 0.0) -> list[float]:
        """Lateness of each request that carried a due time at or after `since` (epoch seconds)."""
        values = []
        for arrived, due in self.records:
            if due is None:
                continue
            due_at = datetime.fromisoformat(due.decode()).timestamp()
            if due_at >= since:
                values.append((arrived - due_at) * 1000.0)
        return values

    def window(self, start: float, end: float) -> tuple[int, list[float]]:
        """Requests that arrived in [start, end): their count and each one's lateness in ms."""
        count = 0
        lateness = []
        for arrived, due in self.records:
            if start <= arrived < end:
                count += 1
                if due is not None:
                    lateness.append((arrived - datetime.fromisoformat(due.decode()).timestamp()) * 1000.0)
        return count, lateness


async def capacity(connections: int, seconds: float, pipeline: int = 1) -> dict[str, float]:
    """Requests a second the sink answered (and recorded) from one load process."""
    sink = Sink()
    await sink.start()
    try:
        plan = LoadPlan(
            port=sink.port, token="", mode="sink", connections=connections, seconds=seconds, pipeline=pipeline
        )
        load = LoadProcess(plan)
        await load.started()
        result = await load.result()
    finally:
        await sink.stop()
    if result.non_2xx or result.connection_errors or len(sink.records) < result.requests:
        raise RuntimeError(f"the sink lost requests: {result}")
    return {
        "requests_per_second": round(result.requests / result.seconds),
        "latency_p99_ms": round(result.latency_p99_ms, 2),
        "connections": connections,
        "pipeline": pipeline,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description="How many requests a second the benchmark sink takes.")
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--pipeline", type=int, default=1, help="requests written at once on a connection")
    parser.add_argument("--json", action="store_true", help="print one JSON object of figures")
    args = parser.parse_args()
    figures = run(capacity(args.connections, args.seconds, args.pipeline))
    if args.json:
        print(json.dumps(figures))
    else:
        print(
            f"sink: {figures['requests_per_second']} requests a second over {args.connections} connections, "
            f"{args.pipeline} at a time on each (p99 {figures['latency_p99_ms']} ms per batch); "
            "the load process, not the sink, may be the limit"
        )


if __name__ == "__main__":
    main()
