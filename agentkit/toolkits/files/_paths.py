"""Workspace roots and the one way a path given by a model becomes a file descriptor.

Rules, in order: no NUL, no `..` component; an absolute path must lie in a root; the path is resolved through
its symlinks and must still lie in the same root (this catches symlinked files, symlinked parent directories
and symlinks at the write target); then it is opened by walking from the root's descriptor one component at a
time with O_NOFOLLOW, so a symlink swapped in after the check is refused rather than followed. Special files
(FIFOs, devices, sockets) are refused after `fstat`, and FIFOs are opened non-blocking so they cannot hang us.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from ..._errors import UserError

_SYSTEM_DIRS = ("/proc", "/sys", "/dev", "/run")
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
NAME_MAX = 255  # bytes in one file name (Linux filesystems)


class PathRefused(Exception):
    """A path the workspace will not touch; the message says why and what to do instead."""


def kind_of(mode: int) -> str:
    if stat.S_ISREG(mode):
        return "file"
    if stat.S_ISDIR(mode):
        return "directory"
    if stat.S_ISLNK(mode):
        return "symlink"
    if stat.S_ISFIFO(mode):
        return "FIFO"
    if stat.S_ISCHR(mode):
        return "character device"
    if stat.S_ISBLK(mode):
        return "block device"
    if stat.S_ISSOCK(mode):
        return "socket"
    return "special file"


@dataclass(frozen=True)
class Resolved:
    """A path inside one root, with every symlink resolved: `root / relative` is the real location."""

    root: Path
    relative: PurePosixPath
    display: str

    @property
    def absolute(self) -> Path:
        return self.root / self.relative

    @property
    def parts(self) -> tuple[str, ...]:
        return tuple(p for p in self.relative.parts if p != ".")


class Workspace:
    """One or more directories a toolkit may touch. Relative paths resolve against the first root."""

    def __init__(self, roots: Sequence[str | Path], *, backup_dir: str | None = ".agentkit-backup") -> None:
        if not roots:
            raise UserError("a workspace needs at least one root directory")
        self.roots: list[Path] = []
        for root in roots:
            real = Path(os.path.realpath(Path(root).expanduser()))
            if not real.is_dir():
                raise UserError(f"workspace root {root} is not an existing directory; create it or fix the path")
            if real == Path("/") or any(str(real) == d or str(real).startswith(d + "/") for d in _SYSTEM_DIRS):
                raise UserError(f"workspace root {root} would expose the system ({real}); choose a project directory")
            self.roots.append(real)
        if backup_dir is not None and (not backup_dir or "/" in backup_dir or backup_dir in (".", "..")):
            raise UserError(f"backup_dir must be a plain directory name, got {backup_dir!r}")
        self.backup_dir = backup_dir

    def describe(self) -> str:
        first, *others = self.roots
        text = f"Paths are relative to {first}"
        if others:
            text += "; other roots by absolute path: " + ", ".join(str(r) for r in others)
        return text + "."

    def _display(self, root: Path, relative: PurePosixPath) -> str:
        if root == self.roots[0]:
            return str(relative) if str(relative) != "." else "."
        return str(root / relative)

    def resolve(self, path: str, *, must_exist: bool = False) -> Resolved:
        if "\x00" in path:
            raise PathRefused("the path contains a NUL byte")
        text = path.strip() or "."
        pure = PurePosixPath(text)
        if ".." in pure.parts:
            raise PathRefused(f"{path!r}: '..' is not allowed; give a path inside the workspace. {self.describe()}")
        for part in pure.parts:
            if len(os.fsencode(part)) > NAME_MAX:
                raise PathRefused(f"the name {part[:40]!r}... is {len(os.fsencode(part))} bytes long; a file or "
                                  f"directory name is limited to {NAME_MAX} bytes: choose a shorter name")
        if pure.is_absolute():
            candidates = [(root, PurePosixPath(os.path.relpath(pure, root))) for root in self.roots
                          if pure == PurePosixPath(root) or PurePosixPath(root) in pure.parents]
            if not candidates:
                raise PathRefused(f"{path!r} is outside the workspace. {self.describe()}")
        else:
            candidates = [(root, pure) for root in self.roots]
        chosen = candidates[0]
        if must_exist:
            existing = [c for c in candidates if os.path.lexists(c[0] / c[1])]
            if not existing:
                raise PathRefused(f"{path!r} does not exist. {self.describe()} Use list_dir to see what is there.")
            chosen = existing[0]
        root, relative = chosen
        real = Path(os.path.realpath(root / relative))
        if real != root and root not in real.parents:
            raise PathRefused(f"{path!r} leads outside the workspace through a symlink ({real}); refused")
        resolved_relative = PurePosixPath(real.relative_to(root)) if real != root else PurePosixPath(".")
        return Resolved(root, resolved_relative, self._display(root, resolved_relative))

    def is_backup(self, resolved: Resolved) -> bool:
        return bool(self.backup_dir) and bool(resolved.parts) and resolved.parts[0] == self.backup_dir

    # -- descriptors ------------------------------------------------------------------------------------------
    @contextlib.contextmanager
    def open_dir(self, root: Path, parts: Sequence[str], *, create: bool = False) -> Iterator[int]:
        """A directory fd reached from `root` without following any symlink; `create` makes missing ones."""
        fd = os.open(root, _DIR_FLAGS)
        try:
            for part in parts:
                try:
                    next_fd = os.open(part, _DIR_FLAGS, dir_fd=fd)
                except FileNotFoundError:
                    if not create:
                        raise PathRefused(f"directory {part!r} does not exist") from None
                    os.mkdir(part, 0o755, dir_fd=fd)
                    next_fd = os.open(part, _DIR_FLAGS, dir_fd=fd)
                except (NotADirectoryError, OSError) as exc:
                    raise PathRefused(f"{part!r} is not a plain directory here (a file, or a symlink that appeared "
                                      f"after the path was checked): {exc.strerror}") from None
                os.close(fd)
                fd = next_fd
            yield fd
        finally:
            os.close(fd)

    @contextlib.contextmanager
    def open_file(self, resolved: Resolved, flags: int = os.O_RDONLY) -> Iterator[tuple[int, os.stat_result]]:
        """A regular file opened without following symlinks; anything else is refused with its kind named."""
        if not resolved.parts:
            raise PathRefused(f"{resolved.display} is a directory; use list_dir")
        *parents, name = resolved.parts
        with self.open_dir(resolved.root, parents) as dir_fd:
            try:
                fd = os.open(name, flags | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=dir_fd)
            except FileNotFoundError:
                raise PathRefused(f"{resolved.display} does not exist") from None
            except OSError as exc:
                raise PathRefused(f"{resolved.display} cannot be opened: {exc.strerror}") from None
            try:
                info = os.fstat(fd)
                if not stat.S_ISREG(info.st_mode):
                    raise PathRefused(f"{resolved.display} is a {kind_of(info.st_mode)}, not a regular file; refused")
                yield fd, info
            finally:
                os.close(fd)

    def lstat(self, resolved: Resolved) -> os.stat_result | None:
        if not resolved.parts:
            return os.stat(resolved.root)
        *parents, name = resolved.parts
        try:
            with self.open_dir(resolved.root, parents) as dir_fd:
                return os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        except (FileNotFoundError, PathRefused):
            return None
