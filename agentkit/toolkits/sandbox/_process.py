"""Run one sandboxed process to completion: feed stdin, stream and cap its output, enforce the wall clock.

The wall-clock timeout and the output cap live here, in the host, because nothing inside the sandbox can be
trusted to stop itself: a program that swallows every exception still dies when its process group is killed.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

_CHUNK = 65536


@dataclass(frozen=True)
class Outcome:
    stdout: bytes
    stderr: bytes
    result: bytes
    returncode: int | None
    signal: str | None
    timed_out: bool
    output_exceeded: bool
    duration_s: float


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


def run_process(
    argv: Sequence[str], *, stdin: Callable[[int], bytes], timeout_s: float, output_bytes: int, result_bytes: int = 1 << 20,
    env: Mapping[str, str] | None = None, cwd: str | None = None, bwrap_exit_codes: bool = True,
    pass_fds: Sequence[int] = (),
) -> Outcome:
    """Run `argv`; it inherits the write end of a result pipe, whose fd number `stdin(fd)` tells it.

    stdout and stderr together may not exceed `output_bytes`; past it, or past `timeout_s`, the whole process
    group is killed. The result pipe is read up to `result_bytes`.
    """
    result_read, result_write = os.pipe()
    payload = stdin(result_write)
    started = time.monotonic()
    try:
        proc = subprocess.Popen(
            list(argv), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            pass_fds=(result_write, *pass_fds), start_new_session=True, env=dict(env or {}), cwd=cwd,
        )
    finally:
        os.close(result_write)
    assert proc.stdin is not None
    assert proc.stdout is not None
    assert proc.stderr is not None
    buffers: dict[int, bytearray] = {proc.stdout.fileno(): bytearray(), proc.stderr.fileno(): bytearray(),
                                     result_read: bytearray()}
    stdout_fd, stderr_fd = proc.stdout.fileno(), proc.stderr.fileno()
    selector = selectors.DefaultSelector()
    for fd in buffers:
        os.set_blocking(fd, False)
        selector.register(fd, selectors.EVENT_READ)
    stdin_fd = proc.stdin.fileno()
    os.set_blocking(stdin_fd, False)
    pending = memoryview(payload)
    if pending:
        selector.register(stdin_fd, selectors.EVENT_WRITE)
    else:
        proc.stdin.close()
    deadline = started + timeout_s
    timed_out = output_exceeded = False
    killed_at: float | None = None
    open_fds = set(buffers)
    try:
        while open_fds or pending:
            now = time.monotonic()
            if killed_at is None and now >= deadline:
                timed_out = True
                _kill_group(proc)
                killed_at = now
            if killed_at is not None and now - killed_at > 2.0:
                break  # a descendant holds a pipe open after the kill; the namespace is gone, stop waiting
            wait = max(0.0, (deadline if killed_at is None else killed_at + 2.0) - now)
            for key, _ in selector.select(timeout=min(wait, 0.5)):
                fd = int(key.fd)
                if fd == stdin_fd:
                    try:
                        written = os.write(fd, pending[:_CHUNK])
                    except (BrokenPipeError, BlockingIOError) as exc:
                        written = 0 if isinstance(exc, BlockingIOError) else len(pending)
                    pending = pending[written:]
                    if not pending:
                        selector.unregister(fd)
                        proc.stdin.close()
                    continue
                try:
                    chunk = os.read(fd, _CHUNK)
                except BlockingIOError:
                    continue
                if not chunk:
                    selector.unregister(fd)
                    open_fds.discard(fd)
                    continue
                buffers[fd] += chunk
                if fd == result_read and len(buffers[fd]) > result_bytes and killed_at is None:
                    _kill_group(proc)
                    killed_at = time.monotonic()
                elif fd != result_read and killed_at is None and (
                    len(buffers[stdout_fd]) + len(buffers[stderr_fd]) > output_bytes
                ):
                    output_exceeded = True
                    _kill_group(proc)
                    killed_at = time.monotonic()
    finally:
        selector.close()
        if not proc.stdin.closed:
            proc.stdin.close()
        for stream in (proc.stdout, proc.stderr):
            stream.close()
        os.close(result_read)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            proc.wait()
    duration = time.monotonic() - started
    code = proc.returncode
    sig: str | None = None
    if code is not None and code < 0:
        sig = _signal_name(-code)
    elif bwrap_exit_codes and code is not None and code > 128:
        sig = _signal_name(code - 128)  # bubblewrap reports a child killed by signal N as exit 128 + N
    return Outcome(
        stdout=bytes(buffers[stdout_fd][:output_bytes]), stderr=bytes(buffers[stderr_fd][:output_bytes]),
        result=bytes(buffers[result_read]), returncode=code, signal=sig, timed_out=timed_out,
        output_exceeded=output_exceeded, duration_s=duration,
    )
