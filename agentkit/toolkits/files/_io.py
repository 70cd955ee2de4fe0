"""Reading text safely and writing it atomically, with a backup of what was there.

Writes go to a temporary file in the target's directory, are fsync'ed, then `os.replace`d over the target,
and the directory is fsync'ed: a crash leaves the old file or the new one, never half of either. Before a
file is replaced or deleted, its previous content is kept under `<root>/.agentkit-backup/<path>.<timestamp>`
(the directory name is `Config.backup_dir`; None disables backups).
"""

from __future__ import annotations

import contextlib
import datetime
import errno
import os
import secrets
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from ._paths import NAME_MAX, PathRefused, Resolved, Workspace, kind_of

SNIFF_BYTES = 8192


class NotText(PathRefused):
    """A binary or non-UTF-8 file where text was expected."""


class TooLarge(PathRefused):
    """A file over the size limit for whole-file operations."""


def check_text(sample: bytes, display: str, size: int) -> None:
    if b"\x00" in sample:
        raise NotText(f"{display} is a binary file ({size} bytes, contains NUL bytes); its content is not shown")
    try:
        sample.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(sample) - 4:  # a multi-byte character cut at the sample's end is fine
            raise NotText(f"{display} is not UTF-8 text (invalid byte at offset {exc.start}); "
                          "its content is not shown") from None


def read_whole(workspace: Workspace, resolved: Resolved, *, max_bytes: int) -> str:
    """The whole file as text, for edits; refuses binary files and files over `max_bytes`."""
    with workspace.open_file(resolved) as (fd, info):
        if info.st_size > max_bytes:
            raise TooLarge(f"{resolved.display} is {info.st_size} bytes, over the {max_bytes}-byte limit for "
                              "whole-file operations; edit a smaller file or raise the toolkit's max_file_bytes")
        chunks = []
        total = 0
        while chunk := os.read(fd, 1 << 20):
            total += len(chunk)
            if total > max_bytes:
                raise TooLarge(f"{resolved.display} grew past {max_bytes} bytes while being read")
            chunks.append(chunk)
        data = b"".join(chunks)
    check_text(data[:SNIFF_BYTES], resolved.display, len(data))
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise NotText(f"{resolved.display} is not UTF-8 text (invalid byte at offset {exc.start})") from None


@dataclass(frozen=True)
class LineRange:
    text: str
    first: int
    last: int  # last line included (first - 1 when none)
    more: bool  # lines remain after `last`
    size: int
    truncated_line: bool = False


def iter_lines(handle: BinaryIO, max_line_bytes: int) -> Iterator[tuple[bytes, bool]]:
    """(line, cut) pairs; a line longer than `max_line_bytes` is cut and the rest of it skipped, never held."""
    while raw := handle.readline(max_line_bytes):
        if len(raw) == max_line_bytes and not raw.endswith(b"\n"):
            while (rest := handle.readline(max_line_bytes)) and not rest.endswith(b"\n"):
                pass
            yield raw, True
        else:
            yield raw, False


def read_lines(
    workspace: Workspace, resolved: Resolved, *, start: int, end: int | None, max_chars: int
) -> LineRange:
    """Lines `start`..`end` (1-based, inclusive), streamed: a huge file costs only the lines read."""
    with workspace.open_file(resolved) as (fd, info), os.fdopen(os.dup(fd), "rb") as handle:
        check_text(handle.read(SNIFF_BYTES), resolved.display, info.st_size)
        handle.seek(0)
        out: list[str] = []
        used = 0
        last = start - 1
        more = cut = False
        for number, (raw, line_cut) in enumerate(iter_lines(handle, 4 * max_chars + 4), 1):
            if number < start:
                continue
            if end is not None and number > end:
                more = True
                break
            line = raw.decode("utf-8", "replace")
            if line_cut or used + len(line) > max_chars:
                if not out:  # a single enormous line: show its beginning
                    out.append(line[:max_chars] + "\n")
                    last, cut = number, True
                more = True
                break
            out.append(line)
            used += len(line)
            last = number
    return LineRange("".join(out), start, last, more, info.st_size, cut)


def _timestamp() -> str:
    return datetime.datetime.now().strftime("%Y%m%dT%H%M%S.%f")


def _shortened(name: str, max_bytes: int) -> str:
    """`name` cut to `max_bytes` of UTF-8 (never inside a character), so a suffix keeps it a legal name."""
    return os.fsencode(name)[:max_bytes].decode("utf-8", "ignore")


def _write_new(dir_fd: int, name: str, data: bytes, mode: int) -> None:
    """Atomically put `data` at `name` in the directory `dir_fd`: temp file, fsync, replace, fsync dir."""
    temp = f".{_shortened(name, 128)}.agentkit-{secrets.token_hex(4)}.tmp"
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, mode, dir_fd=dir_fd)
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fchmod(fd, mode)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp, dir_fd=dir_fd)
        raise
    os.fsync(dir_fd)


def _backup_location(workspace: Workspace, resolved: Resolved) -> tuple[list[str], str]:
    assert workspace.backup_dir is not None
    *parents, name = resolved.parts
    stamp = _timestamp()
    return [workspace.backup_dir, *parents], f"{_shortened(name, NAME_MAX - len(stamp) - 1)}.{stamp}"


def write_text(workspace: Workspace, resolved: Resolved, content: str) -> str | None:
    """Write `content` atomically; returns the backup's path (relative to the root) if a file was replaced."""
    if not resolved.parts:
        raise PathRefused("give a file path, not the workspace root")
    *parents, name = resolved.parts
    data = content.encode("utf-8")
    with workspace.open_dir(resolved.root, parents, create=True) as dir_fd:
        try:
            existing = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        except FileNotFoundError:
            existing = None
        backup = None
        mode = 0o644
        if existing is not None:
            if not stat.S_ISREG(existing.st_mode):
                raise PathRefused(f"{resolved.display} is a {kind_of(existing.st_mode)}; only regular files are written")
            mode = stat.S_IMODE(existing.st_mode)
            if workspace.backup_dir is not None:
                backup = _copy_to_backup(workspace, resolved, dir_fd, name)
        _write_new(dir_fd, name, data, mode)
    return backup


def _copy_to_backup(workspace: Workspace, resolved: Resolved, dir_fd: int, name: str) -> str:
    backup_parents, backup_name = _backup_location(workspace, resolved)
    fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=dir_fd)
    try:
        with os.fdopen(os.dup(fd), "rb") as handle:
            old = handle.read()
    finally:
        os.close(fd)
    with workspace.open_dir(resolved.root, backup_parents, create=True) as backup_fd:
        _write_new(backup_fd, backup_name, old, 0o600)
    return "/".join([*backup_parents, backup_name])


def remove_file(workspace: Workspace, resolved: Resolved) -> str | None:
    """Remove a regular file; with backups on, it is moved (renamed) into the backup directory instead."""
    if not resolved.parts:
        raise PathRefused("refusing to delete the workspace root")
    *parents, name = resolved.parts
    with workspace.open_dir(resolved.root, parents) as dir_fd:
        try:
            existing = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        except FileNotFoundError:
            raise PathRefused(f"{resolved.display} does not exist") from None
        if not stat.S_ISREG(existing.st_mode):
            raise PathRefused(f"{resolved.display} is a {kind_of(existing.st_mode)}; delete_file removes regular "
                              "files only")
        if workspace.backup_dir is None:
            os.unlink(name, dir_fd=dir_fd)
            os.fsync(dir_fd)
            return None
        backup_parents, backup_name = _backup_location(workspace, resolved)
        backup = "/".join([*backup_parents, backup_name])
        with workspace.open_dir(resolved.root, backup_parents, create=True) as backup_fd:
            try:
                os.rename(name, backup_name, src_dir_fd=dir_fd, dst_dir_fd=backup_fd)
            except OSError as exc:
                if exc.errno != errno.EXDEV:
                    raise
                backup = _copy_to_backup(workspace, resolved, dir_fd, name)  # another filesystem: copy, remove
                os.unlink(name, dir_fd=dir_fd)
            os.fsync(backup_fd)
        os.fsync(dir_fd)
    return backup
