"""The HTTP server's client connections, bounded: idle keep-alive connections give way to new clients.

tornado closes a connection idle past idle_connection_timeout (also the time allowed for a
request's headers) and a request whose body takes longer than body_timeout. Within those,
thousands of idle or slow clients could still hold every file descriptor the process may open.
So the number of client connections is bounded below the descriptor limit: at the bound, the
connection idle the longest between requests is closed to make room, then, if none is, the one
waiting the longest for its first request; only when none is idle is the new connection closed at
once. Between requests first: HTTP lets a server close an idle keep-alive connection and clients
open another, but a new connection closed before its request was read loses that request (seen
under 2,000 idle clients connecting at once: a new client's request, already sent, reset while the
server was still accepting the others).
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

import tornado.httpserver
from tornado import httputil, iostream
from tornado.http1connection import HTTP1ServerConnection

logger = logging.getLogger(__name__)

LOG_EVERY = 10.0  # seconds between log lines about closing connections, however many are closed


class BoundedHTTPServer(tornado.httpserver.HTTPServer):
    """tornado's HTTPServer holding at most `max_connections` client connections."""

    def initialize(  # type: ignore[override]
        self,
        *args: Any,
        max_connections: int = 10_000,
        on_closed: Callable[[str], None] | None = None,
        **kwargs: Any,
    ) -> None:
        """on_closed is told of each connection closed to stay within the bound: "idle" or "refused"."""
        super().initialize(*args, **kwargs)
        self.max_connections = max_connections
        self._on_closed = on_closed
        # Idle connections, the longest idle first: between requests, and new (no request yet).
        self._between: OrderedDict[HTTP1ServerConnection, float] = OrderedDict()
        self._new: OrderedDict[HTTP1ServerConnection, float] = OrderedDict()
        self._served: set[HTTP1ServerConnection] = set()  # connections that have had a request
        self._evicted: set[HTTP1ServerConnection] = set()  # closed by us, not yet gone
        self.evicted = 0  # idle connections closed to make room
        self.refused = 0  # new connections closed because none was idle
        self._logged_at = -LOG_EVERY

    def connection_count(self) -> int:
        return len(self._connections) - len(self._evicted)

    def handle_stream(self, stream: iostream.IOStream, address: tuple[Any, ...]) -> None:
        if self.connection_count() >= self.max_connections and not self._evict_one():
            self.refused += 1
            self._closed("refused")
            stream.close()
            return
        super().handle_stream(stream, address)

    def start_request(self, server_conn: object, request_conn: httputil.HTTPConnection) -> httputil.HTTPMessageDelegate:
        # Called when the connection starts waiting for a request: idle until its headers arrive.
        assert isinstance(server_conn, HTTP1ServerConnection)
        idle = self._between if server_conn in self._served else self._new
        idle[server_conn] = time.monotonic()
        idle.move_to_end(server_conn)
        return _Busy(self, server_conn, super().start_request(server_conn, request_conn))

    def busy(self, server_conn: HTTP1ServerConnection) -> None:
        """A request's headers are in: its connection is not idle, and has been served."""
        self._between.pop(server_conn, None)
        self._new.pop(server_conn, None)
        self._served.add(server_conn)

    def on_close(self, server_conn: object) -> None:
        assert isinstance(server_conn, HTTP1ServerConnection)
        self._between.pop(server_conn, None)
        self._new.pop(server_conn, None)
        self._served.discard(server_conn)
        self._evicted.discard(server_conn)
        super().on_close(server_conn)

    def _evict_one(self) -> bool:
        idle = self._between or self._new
        if not idle:
            return False
        oldest, _since = idle.popitem(last=False)
        self._evicted.add(oldest)
        oldest.stream.close()
        self.evicted += 1
        self._closed("idle")
        return True

    def _closed(self, reason: str) -> None:
        if self._on_closed is not None:
            self._on_closed(reason)
        now = time.monotonic()
        if now - self._logged_at >= LOG_EVERY:  # one line now and then, however many are closed
            self._logged_at = now
            logger.warning(
                "%d client connections, the most this server holds (api.max_connections): %d idle ones "
                "closed to make room and %d new ones refused so far",
                self.connection_count(),
                self.evicted,
                self.refused,
            )


class _Busy(httputil.HTTPMessageDelegate):
    """Passes a request through, taking its connection off the idle list once its headers are in."""

    def __init__(
        self, server: BoundedHTTPServer, server_conn: HTTP1ServerConnection, delegate: httputil.HTTPMessageDelegate
    ) -> None:
        self._server = server
        self._server_conn = server_conn
        self._delegate = delegate

    def headers_received(
        self,
        start_line: httputil.RequestStartLine | httputil.ResponseStartLine,
        headers: httputil.HTTPHeaders,
    ) -> Awaitable[None] | None:
        self._server.busy(self._server_conn)
        return self._delegate.headers_received(start_line, headers)

    def data_received(self, chunk: bytes) -> Awaitable[None] | None:
        return self._delegate.data_received(chunk)

    def finish(self) -> None:
        self._delegate.finish()

    def on_connection_close(self) -> None:
        self._delegate.on_connection_close()
