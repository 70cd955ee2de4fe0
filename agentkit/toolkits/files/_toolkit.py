"""The "files" toolkit: read, list and search a workspace; write, patch and delete with diff previews."""

from __future__ import annotations

import difflib
import fnmatch
import os
import re
import stat
import time
from collections.abc import Callable, Iterator
from functools import wraps
from pathlib import Path
from typing import Annotated, Any, TypeVar

import regex
from pydantic import BaseModel, ConfigDict, Field

from ..._errors import ModelRetry
from ..._tools import Tool, tool
from ._io import (
    SNIFF_BYTES,
    NotText,
    TooLarge,
    check_text,
    iter_lines,
    read_lines,
    read_whole,
    remove_file,
    write_text,
)
from ._patch import PatchError, apply_patch_text
from ._paths import PathRefused, Resolved, Workspace, kind_of

_SKIP_DIRS = frozenset({".git", ".hg", ".svn", "__pycache__", "node_modules", ".venv", "venv", ".mypy_cache",
                        ".pytest_cache", ".ruff_cache", ".tox"})
_PREVIEW_CHARS = 20_000
_SEARCH_SECONDS = 10.0  # matching time one search_files call may spend; Python's re cannot be interrupted

T = TypeVar("T")


class Config(BaseModel):
    """Options of the "files" toolkit."""

    model_config = ConfigDict(extra="forbid")

    roots: list[Path] = Field(default_factory=lambda: [Path(".")], min_length=1,
                              description="directories the tools may touch; relative paths use the first")
    max_read_chars: int = Field(60_000, ge=1_000, description="most characters one read_file call returns")
    max_file_bytes: int = Field(5_000_000, ge=1_000, description="largest file written, patched or searched")
    max_results: int = Field(200, ge=10, le=10_000, description="entries from list_dir, matches from search_files")
    backup_dir: str | None = Field(".agentkit-backup", description="backups of replaced/deleted files, per root")


def _retrying(function: Callable[..., T]) -> Callable[..., T]:
    """Refusals become corrections the model can act on."""

    @wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> T:
        try:
            return function(*args, **kwargs)
        except (PathRefused, PatchError) as exc:
            raise ModelRetry(str(exc)) from None
        except (re.error, regex.error) as exc:
            raise ModelRetry(f"invalid regular expression: {exc}; escape special characters with \\") from None

    return wrapper


def unified_diff(old: str | None, new: str | None, display: str) -> str:
    """A reviewable diff; /dev/null on the side that does not exist."""
    before, after = _lines_kept(old or ""), _lines_kept(new or "")
    lines = difflib.unified_diff(
        before, after, fromfile="/dev/null" if old is None else f"a/{display}",
        tofile="/dev/null" if new is None else f"b/{display}",
    )
    text = "".join(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in lines)
    if not text:
        return f"(no change to {display})"
    if len(text) > _PREVIEW_CHARS:
        text = text[:_PREVIEW_CHARS] + f"\n... diff truncated ({len(text)} characters in all)\n"
    return text


class _Files:
    """The tools' shared state: the workspace and its limits."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.workspace = Workspace(config.roots, backup_dir=config.backup_dir)

    def writable(self, path: str) -> Resolved:
        if path.rstrip().endswith("/"):
            raise PathRefused(f"{path!r} ends with '/', which names a directory; give the file's path, "
                              "e.g. 'docs/notes.txt' (missing directories are created)")
        resolved = self.workspace.resolve(path)
        if self.workspace.is_backup(resolved):
            raise PathRefused(f"{resolved.display} is inside the backup directory, which the tools do not modify")
        if not resolved.parts:
            raise PathRefused("give a file path, not the workspace root")
        return resolved

    def current(self, resolved: Resolved) -> str | None:
        info = self.workspace.lstat(resolved)
        if info is None:
            return None
        if not stat.S_ISREG(info.st_mode):
            raise PathRefused(f"{resolved.display} is a {kind_of(info.st_mode)}, not a regular file")
        return read_whole(self.workspace, resolved, max_bytes=self.config.max_file_bytes)

    def not_shown(self, resolved: Resolved, reason: PathRefused) -> str:
        """Why a file that write_file/delete_file will replace or remove anyway has no diff in the preview."""
        info = self.workspace.lstat(resolved)
        why = "binary or not UTF-8" if isinstance(reason, NotText) else "too large to show"
        return f"{info.st_size if info else 0} bytes, {why}"

    def check_size(self, content: str) -> None:
        size = len(content.encode("utf-8"))
        if size > self.config.max_file_bytes:
            raise PathRefused(f"the content is {size} bytes, over the {self.config.max_file_bytes}-byte limit")

    def patched(self, path: str, patch: str) -> tuple[Resolved, str | None, str]:
        resolved = self.writable(path)
        old = self.current(resolved)
        new = apply_patch_text(old, patch)
        self.check_size(new)
        return resolved, old, new

    # -- walking ----------------------------------------------------------------------------------------------
    def walk(self, resolved: Resolved) -> Iterator[tuple[str, list[str], list[str], int]]:
        """os.fwalk from a directory reached without symlinks; never follows links, skips tool/VCS directories."""
        with self.workspace.open_dir(resolved.root, resolved.parts) as fd:
            for dirpath, dirnames, filenames, dir_fd in os.fwalk(".", dir_fd=fd, follow_symlinks=False):
                at_root = dirpath == "." and not resolved.parts
                links = [d for d in dirnames if _is_link(d, dir_fd)]
                dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_DIRS and d not in links
                                     and not (at_root and d == self.workspace.backup_dir))
                yield dirpath, dirnames, sorted(filenames + links), dir_fd


def toolkit(config: Config) -> list[Tool]:
    files = _Files(config)
    workspace = files.workspace
    where = workspace.describe()

    @tool(effect="read")
    @_retrying
    def read_file(
        path: str,
        start_line: Annotated[int, Field(ge=1)] = 1,
        end_line: Annotated[int | None, Field(ge=1)] = None,
    ) -> str:
        """Read a text file, or a range of its lines (1-based, inclusive).

        Args:
            path: The file, relative to the workspace.
            start_line: The first line to return.
            end_line: The last line to return (default: as much as fits).
        """
        if end_line is not None and end_line < start_line:
            raise PathRefused(f"end_line ({end_line}) is before start_line ({start_line})")
        resolved = workspace.resolve(path, must_exist=True)
        if not resolved.parts:
            raise PathRefused(f"{resolved.display} is a directory; use list_dir")
        chunk = read_lines(workspace, resolved, start=start_line, end=end_line, max_chars=config.max_read_chars)
        if chunk.last < chunk.first:
            return f"[{resolved.display}: no lines from {start_line} on ({chunk.size} bytes)]"
        header = f"[{resolved.display}: lines {chunk.first}-{chunk.last}, {chunk.size} bytes]\n"
        footer = ""
        if chunk.truncated_line:
            footer = f"\n[line {chunk.last} is longer than {config.max_read_chars} characters; only its start is shown]"
        elif chunk.more:
            footer = f"\n[more lines follow: call read_file with start_line={chunk.last + 1}]"
        return header + chunk.text + footer

    @tool(effect="read")
    @_retrying
    def list_dir(path: str = ".", recursive: bool = False) -> str:
        """List a directory: subdirectories end with '/', files show their size.

        Args:
            path: The directory, relative to the workspace.
            recursive: Also list subdirectories (skips .git, caches and virtualenvs).
        """
        resolved = workspace.resolve(path, must_exist=True)
        entries: list[str] = []
        limit = config.max_results
        for dirpath, dirnames, filenames, dir_fd in files.walk(resolved):
            prefix = "" if dirpath == "." else dirpath[2:] + "/"
            for name in dirnames:
                entries.append(f"{prefix}{name}/")
            for name in filenames:
                try:
                    info = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
                except FileNotFoundError:
                    continue
                if stat.S_ISREG(info.st_mode):
                    entries.append(f"{prefix}{name}  ({info.st_size} bytes)")
                elif stat.S_ISLNK(info.st_mode):
                    entries.append(f"{prefix}{name} -> {os.readlink(name, dir_fd=dir_fd)}  (symlink)")
                else:
                    entries.append(f"{prefix}{name}  ({kind_of(info.st_mode)}, not readable)")
            if not recursive:
                dirnames[:] = []
            if len(entries) > limit:
                break
        shown = entries[:limit]
        more = f"\n[{len(entries) - limit}+ more entries not shown]" if len(entries) > limit else ""
        body = "\n".join(shown) if shown else "(empty)"
        return f"[{resolved.display}/]\n{body}{more}"

    @tool(effect="read")
    @_retrying
    def search_files(pattern: str, path: str = ".", glob: str = "*", ignore_case: bool = False) -> str:
        """Search text files for a regular expression; returns 'path:line: text' for each match.

        Args:
            pattern: A Python regular expression, matched against each line.
            path: The directory to search, relative to the workspace.
            glob: Only files whose name (or relative path, if it has a '/') matches, e.g. '*.py'.
            ignore_case: Match regardless of case.
        """
        compiled = regex.compile(pattern, regex.IGNORECASE if ignore_case else 0)
        deadline = time.monotonic() + _SEARCH_SECONDS
        resolved = workspace.resolve(path, must_exist=True)
        matches: list[str] = []
        skipped = 0
        base = "" if not resolved.parts else resolved.display.rstrip("/") + "/"
        for dirpath, _dirs, filenames, dir_fd in files.walk(resolved):
            prefix = "" if dirpath == "." else dirpath[2:] + "/"
            for name in filenames:
                relative = prefix + name
                if not fnmatch.fnmatch(relative if "/" in glob else name, glob):
                    continue
                found = _search_one(dir_fd, name, compiled, config.max_file_bytes, config.max_results - len(matches),
                                    deadline)
                if found is None:
                    skipped += 1
                    continue
                matches.extend(f"{base}{relative}:{number}: {text}" for number, text in found)
                if len(matches) >= config.max_results:
                    return "\n".join(matches) + f"\n[stopped at {config.max_results} matches; narrow the search]"
        note = f"\n[{skipped} binary, special or oversized files skipped]" if skipped else ""
        return ("\n".join(matches) if matches else f"no match for {pattern!r}") + note

    @tool(effect="write")
    @_retrying
    def write_file(path: str, content: str) -> str:
        """Create or replace a text file with the given content (the old version is backed up).

        Args:
            path: The file, relative to the workspace; missing directories are created.
            content: The complete new content.
        """
        resolved = files.writable(path)
        files.check_size(content)
        backup = write_text(workspace, resolved, content)
        lines = content.count("\n") + (0 if content.endswith("\n") or not content else 1)
        kept = f"; previous version kept at {backup}" if backup else ""
        return f"wrote {resolved.display} ({len(content.encode())} bytes, {lines} line{'s' * (lines != 1)}){kept}"

    @write_file.preview
    def _preview_write(arguments: dict[str, Any]) -> str:
        content = str(arguments.get("content", ""))
        try:
            resolved = files.writable(str(arguments.get("path", "")))
            files.check_size(content)
            try:
                return unified_diff(files.current(resolved), content, resolved.display)
            except (NotText, TooLarge) as exc:  # write_file replaces such a file all the same: say so
                return (f"replace {resolved.display} ({files.not_shown(resolved, exc)}) with:\n"
                        + unified_diff(None, content, resolved.display))
        except (PathRefused, PatchError) as exc:
            return f"(this call will be refused: {exc})"

    @tool(effect="write")
    @_retrying
    def apply_patch(path: str, patch: str) -> str:
        """Edit a file with BEFORE/AFTER blocks or a unified diff; the BEFORE text must match exactly once.

        Args:
            path: The file to edit, relative to the workspace.
            patch: Either blocks '<<<<<<< BEFORE', exact current lines, '=======', new lines, '>>>>>>> AFTER',
                or a unified diff of this one file.
        """
        resolved, old, new = files.patched(path, patch)
        backup = write_text(workspace, resolved, new)
        kept = f"; previous version kept at {backup}" if backup else ""
        return f"patched {resolved.display}{kept}\n" + unified_diff(old, new, resolved.display)

    @apply_patch.preview
    def _preview_patch(arguments: dict[str, Any]) -> str:
        try:
            resolved, old, new = files.patched(str(arguments.get("path", "")), str(arguments.get("patch", "")))
        except (PathRefused, PatchError) as exc:
            return f"(this patch will be refused: {exc})"
        return unified_diff(old, new, resolved.display)

    @tool(effect="destructive")
    @_retrying
    def delete_file(path: str) -> str:
        """Delete a file (it is moved to the backup directory when backups are on).

        Args:
            path: The file, relative to the workspace.
        """
        resolved = files.writable(path)
        backup = remove_file(workspace, resolved)
        kept = f"; its content is kept at {backup}" if backup else ""
        return f"deleted {resolved.display}{kept}"

    @delete_file.preview
    def _preview_delete(arguments: dict[str, Any]) -> str:
        try:
            resolved = files.writable(str(arguments.get("path", "")))
            try:
                old = files.current(resolved)
            except (NotText, TooLarge) as exc:  # delete_file removes such a file all the same: say so
                return f"delete {resolved.display} ({files.not_shown(resolved, exc)})"
        except (PathRefused, PatchError) as exc:
            return f"(this call will be refused: {exc})"
        if old is None:
            return f"(this call will be refused: {resolved.display} does not exist)"
        return f"delete {resolved.display} ({len(old.encode())} bytes)\n" + unified_diff(old, None, resolved.display)

    tools = [read_file, list_dir, search_files, write_file, apply_patch, delete_file]
    for t in tools:
        t.description += " " + where
    return tools


def _lines_kept(text: str) -> list[str]:
    """Lines with their "\n", split as the patch helpers split them (str.splitlines also breaks at \f, \u2028)."""
    lines = [line + "\n" for line in text.split("\n")]
    lines[-1] = lines[-1][:-1]
    return lines if lines[-1] else lines[:-1]


def _is_link(name: str, dir_fd: int) -> bool:
    try:
        return stat.S_ISLNK(os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode)
    except FileNotFoundError:
        return False


def _search_one(
    dir_fd: int, name: str, compiled: regex.Pattern[str], max_bytes: int, budget: int, deadline: float
) -> list[tuple[int, str]] | None:
    """Matches in one file, or None when it is not a searchable text file; matching stops at `deadline`."""
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=dir_fd)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode) or info.st_size > max_bytes:
            return None
        sample = handle.read(SNIFF_BYTES)
        try:
            check_text(sample, name, info.st_size)
        except PathRefused:
            return None
        handle.seek(0)
        found: list[tuple[int, str]] = []
        for number, (raw, _cut) in enumerate(iter_lines(handle, 8000), 1):
            line = raw.decode("utf-8", "replace").rstrip("\n")[:2000]
            try:
                hit = compiled.search(line, timeout=max(deadline - time.monotonic(), 0.001))
            except TimeoutError:
                raise PathRefused(f"the regular expression {compiled.pattern!r} took too long (over "
                                  f"{_SEARCH_SECONDS:.0f} s of matching); nested quantifiers like (a+)+ or (a|aa)+ "
                                  "backtrack without end: simplify it") from None
            if hit:
                found.append((number, line[:300]))
                if len(found) >= budget:
                    break
        return found
