"""Path-traversal corpus against the files toolkit: every attempt is refused (or finds nothing), none gets through."""

from __future__ import annotations

import os
import socket
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agentkit import ModelRetry, Tool
from agentkit.toolkits.files import Config, PathRefused, Workspace, toolkit
from agentkit.toolkits.files._io import read_lines

SECRET = "TOP-SECRET-" + "x" * 8


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    base = tmp_path_factory.mktemp("traversal")
    outside = base / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text(SECRET + "\n")
    root = base / "ws"
    (root / "src").mkdir(parents=True)
    (root / "src" / "ok.py").write_text("print('fine')\n")
    (root / "README.md").write_text("readme\n")
    os.symlink(outside / "secret.txt", root / "leak")
    os.symlink(outside, root / "dirlink")
    os.symlink("../outside/secret.txt", root / "rel-escape")
    os.symlink("leak", root / "chain")
    os.symlink("/proc/self/environ", root / "proc-link")
    os.symlink("/dev/zero", root / "zero-link")
    os.symlink("/", root / "rootlink")
    os.mkfifo(root / "fifo")
    has_mknod = os.geteuid() == 0
    if has_mknod:
        os.mknod(root / "chardev", 0o600 | stat.S_IFCHR, os.makedev(1, 5))  # a /dev/zero twin
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(root / "sock"))
    (root / "image.bin").write_bytes(b"\x00\x01\x02" * 1000)
    tools = {t.name: t for t in toolkit(Config(roots=[root], max_read_chars=2_000))}
    verdicts: list[tuple[str, str]] = []
    try:
        yield {"root": root, "outside": outside, "tools": tools, "mknod": has_mknod, "verdicts": verdicts}
    finally:
        listener.close()


# (tool, arguments, fragment of the refusal); "@OUT@" is replaced by the outside directory
CASES: list[tuple[str, dict[str, Any], str]] = [
    ("read_file", {"path": "../outside/secret.txt"}, "'..' is not allowed"),
    ("read_file", {"path": "src/../../outside/secret.txt"}, "'..' is not allowed"),
    ("read_file", {"path": "src/./../../outside/secret.txt"}, "'..' is not allowed"),
    ("read_file", {"path": "/etc/passwd"}, "outside the workspace"),
    ("read_file", {"path": "@OUT@/secret.txt"}, "outside the workspace"),
    ("read_file", {"path": "%2e%2e/outside/secret.txt"}, "does not exist"),
    ("read_file", {"path": "..%2f..%2fetc%2fpasswd"}, "does not exist"),
    ("read_file", {"path": "....//....//etc/passwd"}, "does not exist"),
    ("read_file", {"path": "..\\outside\\secret.txt"}, "does not exist"),
    ("read_file", {"path": "~/.bashrc"}, "does not exist"),
    ("read_file", {"path": "src\x00/../../etc/passwd"}, "NUL byte"),
    ("read_file", {"path": "leak"}, "through a symlink"),
    ("read_file", {"path": "dirlink/secret.txt"}, "through a symlink"),
    ("read_file", {"path": "rel-escape"}, "through a symlink"),
    ("read_file", {"path": "chain"}, "through a symlink"),
    ("read_file", {"path": "rootlink/etc/passwd"}, "through a symlink"),
    ("read_file", {"path": "proc-link"}, "through a symlink"),
    ("read_file", {"path": "/proc/self/environ"}, "outside the workspace"),
    ("read_file", {"path": "/dev/zero"}, "outside the workspace"),
    ("read_file", {"path": "zero-link"}, "through a symlink"),
    ("read_file", {"path": "fifo"}, "is a FIFO"),
    ("read_file", {"path": "chardev"}, "is a character device"),
    ("read_file", {"path": "sock"}, "cannot be opened"),
    ("read_file", {"path": "image.bin"}, "is a binary file"),
    ("read_file", {"path": "src"}, "is a directory"),
    ("write_file", {"path": "../outside/pwned", "content": "x"}, "'..' is not allowed"),
    ("write_file", {"path": "@OUT@/pwned", "content": "x"}, "outside the workspace"),
    ("write_file", {"path": "dirlink/pwned", "content": "x"}, "through a symlink"),
    ("write_file", {"path": "leak", "content": "overwritten"}, "through a symlink"),
    ("write_file", {"path": "rootlink/tmp/pwned", "content": "x"}, "through a symlink"),
    ("write_file", {"path": "fifo", "content": "x"}, "is a FIFO"),
    ("write_file", {"path": "README.md/inside", "content": "x"}, "not a plain directory"),
    ("write_file", {"path": ".agentkit-backup/planted", "content": "x"}, "backup directory"),
    ("write_file", {"path": "/tmp/pwned-absolute", "content": "x"}, "outside the workspace"),
    ("apply_patch", {"path": "leak", "patch": f"<<<<<<< BEFORE\n{SECRET}\n=======\nx\n>>>>>>> AFTER"},
     "through a symlink"),
    ("apply_patch", {"path": "chardev", "patch": "<<<<<<< BEFORE\na\n=======\nb\n>>>>>>> AFTER"},
     "is a character device"),
    ("delete_file", {"path": "leak"}, "through a symlink"),
    ("delete_file", {"path": "dirlink/secret.txt"}, "through a symlink"),
    ("delete_file", {"path": "fifo"}, "is a FIFO"),
    ("delete_file", {"path": "src"}, "is a directory"),
    ("list_dir", {"path": "dirlink"}, "through a symlink"),
    ("list_dir", {"path": ".."}, "'..' is not allowed"),
    ("list_dir", {"path": "/"}, "outside the workspace"),
    ("search_files", {"pattern": "SECRET", "path": "dirlink"}, "through a symlink"),
    ("search_files", {"pattern": "SECRET", "path": "../outside"}, "'..' is not allowed"),
]


def _fill(arguments: dict[str, Any], outside: Path) -> dict[str, Any]:
    return {k: v.replace("@OUT@", str(outside)) if isinstance(v, str) else v for k, v in arguments.items()}


@pytest.mark.parametrize(("tool_name", "arguments", "fragment"), CASES)
def test_attempt_is_refused(world: dict[str, Any], tool_name: str, arguments: dict[str, Any], fragment: str) -> None:
    if "chardev" in arguments.get("path", "") and not world["mknod"]:
        pytest.skip("creating a device node needs root")
    tools: dict[str, Tool] = world["tools"]
    with pytest.raises(ModelRetry) as caught:
        tools[tool_name](**_fill(arguments, world["outside"]))
    message = caught.value.message
    world["verdicts"].append((tool_name, message))
    assert fragment in message
    assert SECRET not in message


def test_walks_never_follow_links(world: dict[str, Any]) -> None:
    tools: dict[str, Tool] = world["tools"]
    listing = tools["list_dir"](path=".", recursive=True)
    assert "dirlink -> " in listing
    assert "dirlink/" not in listing  # the link is shown, never descended into
    assert "rootlink/" not in listing
    assert "fifo  (FIFO, not readable)" in listing
    found = tools["search_files"](pattern="SECRET|root:")
    assert SECRET not in found
    assert found.startswith("no match")
    world["verdicts"].append(("walks", "contained"))


def test_symlink_swapped_after_the_check_is_not_followed(world: dict[str, Any]) -> None:
    root: Path = world["root"]
    swap = root / "swap"
    swap.mkdir()
    (swap / "target.txt").write_text("harmless\n")
    workspace = Workspace([root])
    resolved = workspace.resolve("swap/target.txt", must_exist=True)
    (swap / "target.txt").unlink()
    swap.rmdir()
    os.symlink(world["outside"], swap)  # the attacker swaps the directory for a link after the check
    os.rename(world["outside"] / "secret.txt", world["outside"] / "target.txt")
    try:
        with pytest.raises(PathRefused, match="not a plain directory"):
            read_lines(workspace, resolved, start=1, end=None, max_chars=1000)
    finally:
        os.rename(world["outside"] / "target.txt", world["outside"] / "secret.txt")
        swap.unlink()
    world["verdicts"].append(("race", "contained"))


def test_nothing_got_through(world: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    outside: Path = world["outside"]
    assert sorted(p.name for p in outside.iterdir()) == ["secret.txt"]
    assert (outside / "secret.txt").read_text() == SECRET + "\n"
    assert not Path("/tmp/pwned-absolute").exists()
    assert not (world["root"] / ".agentkit-backup" / "planted").exists()
    attempts = len(world["verdicts"])
    with capsys.disabled():
        print(f"\npath-traversal corpus: {attempts} attempts, {attempts} refused or contained, 0 got through")
    assert attempts >= 25
