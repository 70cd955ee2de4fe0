"""Host-side canaries for the jail tests: a TCP server that counts every connection that reaches it, and a
secret in the environment. A jailed program that connects, or prints the secret, escaped."""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field


@dataclass
class Canaries:
    port: int
    secret: str
    accepted: list[int] = field(default_factory=list)  # one entry per connection that got through


@contextlib.contextmanager
def host_canaries() -> Iterator[Canaries]:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.settimeout(0.2)
    canaries = Canaries(port=server.getsockname()[1], secret="CANARY_" + secrets.token_hex(8))
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            canaries.accepted.append(1)
            conn.close()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    os.environ["AGENTKIT_CANARY"] = canaries.secret
    try:
        yield canaries
    finally:
        os.environ.pop("AGENTKIT_CANARY", None)
        stop.set()
        thread.join()
        server.close()
