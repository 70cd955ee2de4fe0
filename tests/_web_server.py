"""A real HTTP server on 127.0.0.1 for the web tests: routes are plain functions, every request is recorded."""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

Route = Callable[["Handler"], None]


@dataclass
class Recorded:
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]


class Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: object) -> None:  # keep test output clean
        pass

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        self.server.owner.requests.append(
            Recorded(parts.path, parse_qs(parts.query), {k.lower(): v for k, v in self.headers.items()})
        )
        route = self.server.owner.routes.get(parts.path)
        if route is None:
            self.reply(b"not found", "text/plain", status=404)
            return
        # the client may stop reading (size cap, timeout): expected in these tests
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            route(self)

    def reply(
        self, body: bytes | str, content_type: str | None, *, status: int = 200, headers: dict[str, str] | None = None,
    ) -> None:
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        if content_type is not None:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def redirect(self, location: str, *, status: int = 302) -> None:
        self.reply(b"", "text/plain", status=status, headers={"Location": location})


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    owner: LocalServer


class _Server6(_Server):
    address_family = socket.AF_INET6


@dataclass
class LocalServer:
    routes: dict[str, Route]
    requests: list[Recorded] = field(default_factory=list)
    host: str = "127.0.0.1"
    port: int = 0
    scheme: str = "http"
    release: threading.Event = field(default_factory=threading.Event)  # slow routes wait on it; set at stop

    def url(self, path: str = "/") -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}{path}"

    def hits(self, path: str) -> int:
        return sum(1 for r in self.requests if r.path == path)


@contextmanager
def serve(
    routes: dict[str, Route], *, tls: ssl.SSLContext | None = None, host: str = "127.0.0.1",
) -> Iterator[LocalServer]:
    """Start the server on an ephemeral loopback port; stop it and release slow handlers on exit."""
    owner = LocalServer(routes, host=host)
    httpd = (_Server6 if ":" in host else _Server)((host, 0), Handler)
    httpd.owner = owner
    if tls is not None:
        httpd.socket = tls.wrap_socket(httpd.socket, server_side=True)
        owner.scheme = "https"
    owner.port = httpd.server_address[1]
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield owner
    finally:
        owner.release.set()
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)
