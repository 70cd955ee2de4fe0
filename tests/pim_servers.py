"""Real mail and calendar servers on 127.0.0.1 for the mail and calendar tests, started and stopped by them.

SMTP: aiosmtpd delivering into a Maildir (in-process thread). IMAP: pymap's in-memory backend (subprocess,
one known user). CalDAV: Radicale with temporary storage and no authentication (subprocess).
"""

from __future__ import annotations

import contextlib
import imaplib
import mailbox
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

IMAP_USER = "alice"
IMAP_PASSWORD = "wonderland"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait(ready: Callable[[], bool], process: subprocess.Popen[bytes], what: str, log: Path, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}: {log.read_text()[-2000:]}")
        if ready():
            return
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not start within {timeout} s: {log.read_text()[-2000:]}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@dataclass
class SmtpServer:
    host: str
    port: int
    maildir: Path

    def received(self) -> list[mailbox.MaildirMessage]:
        box = mailbox.Maildir(self.maildir, create=False)
        return [box.get_message(key) for key in box.iterkeys()]

    def clear(self) -> None:
        mailbox.Maildir(self.maildir, create=False).clear()


@contextlib.contextmanager
def smtp_server(maildir: Path) -> Iterator[SmtpServer]:
    """aiosmtpd accepting any sender/recipient and delivering into `maildir` (X-RcptTo shows the envelope)."""
    from aiosmtpd.controller import Controller
    from aiosmtpd.handlers import Mailbox

    mailbox.Maildir(maildir, create=True)
    port = free_port()
    controller = Controller(Mailbox(maildir), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield SmtpServer("127.0.0.1", port, maildir)
    finally:
        controller.stop()


@dataclass
class ImapServer:
    host: str
    port: int

    def connect(self) -> imaplib.IMAP4:
        conn = imaplib.IMAP4(self.host, self.port, timeout=10)
        conn.login(IMAP_USER, IMAP_PASSWORD)
        return conn


@contextlib.contextmanager
def imap_server(workdir: Path) -> Iterator[ImapServer]:
    """pymap's dict (in-memory) backend, plain IMAP on loopback, one user: alice / wonderland."""
    port = free_port()
    log = workdir / "pymap.log"
    pymap = Path(sys.executable).with_name("pymap")
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(pymap), "--host", "127.0.0.1", "--port", str(port), "--no-tls", "dict",
             "--demo-user", IMAP_USER, "--demo-password", IMAP_PASSWORD],
            stdout=out, stderr=subprocess.STDOUT,
        )

    def ready() -> bool:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
                return sock.recv(64).startswith(b"* OK")
        except OSError:
            return False

    try:
        _wait(ready, process, "pymap", log)
        yield ImapServer("127.0.0.1", port)
    finally:
        _stop(process)


@dataclass
class CalDavServer:
    url: str


@contextlib.contextmanager
def radicale_server(workdir: Path) -> Iterator[CalDavServer]:
    """Radicale with storage under `workdir`, no authentication (any user name is accepted)."""
    port = free_port()
    log = workdir / "radicale.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "radicale", "--storage-filesystem-folder", str(workdir / "collections"),
             "--server-hosts", f"127.0.0.1:{port}", "--auth-type", "none", "--auth-delay", "0",
             "--logging-level", "warning"],
            stdout=out, stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}/"

    def ready() -> bool:
        try:
            return httpx.get(url, timeout=0.5).status_code < 500
        except httpx.HTTPError:
            return False

    try:
        _wait(ready, process, "radicale", log)
        yield CalDavServer(url)
    finally:
        _stop(process)


def recording_confirmer(seen: list[Any]) -> Any:
    """A confirmer that approves every call and keeps each request (effect, preview) for the test to check."""
    from agentkit import ConfirmationRequest, Confirmer

    def answer(request: ConfirmationRequest) -> bool:
        seen.append(request)
        return True

    return Confirmer(answer)
