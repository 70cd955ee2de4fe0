"""The files toolkit end to end through the agent loop, plus its patch helpers and atomic writes."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import pytest

from agentkit import Agent, Confirmer, ModelRetry, Tool, ToolResultMessage, deny_all
from agentkit.testing import ScriptedModel, call, text
from agentkit.toolkits import load_toolkit
from agentkit.toolkits.files import (
    Config,
    PatchError,
    apply_before_after,
    apply_patch_text,
    apply_unified_diff,
    parse_before_after,
    toolkit,
)


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    (root / "src").mkdir(parents=True)
    (root / "src" / "app.py").write_text("def greet(name):\n    return 'hello ' + name\n\n\ndef main():\n"
                                         "    print(greet('world'))\n")
    (root / "README.md").write_text("# Demo\nSome words.\n")
    return root


def tools_for(root: Path, **options: Any) -> dict[str, Tool]:
    return {t.name: t for t in toolkit(Config(roots=[root], **options))}


def run(root: Path, turns: list[Any], *, confirm: bool = True, **options: Any) -> tuple[Any, Confirmer]:
    confirmer = Confirmer(lambda _request: confirm)  # it records every request it answers in `seen`
    model = ScriptedModel(turns)
    result = Agent(model, tools=list(tools_for(root, **options).values()), confirmer=confirmer).run_sync("go")
    model.assert_all_used()
    return result, confirmer


def tool_outputs(result: Any) -> list[str]:
    return [m.content for m in result.messages if isinstance(m, ToolResultMessage)]


def test_toolkit_shape_and_effects(workspace: Path) -> None:
    tools = load_toolkit("files", {"roots": [str(workspace)]})
    assert [(t.name, t.effect) for t in tools] == [
        ("read_file", "read"), ("list_dir", "read"), ("search_files", "read"), ("write_file", "write"),
        ("apply_patch", "write"), ("delete_file", "destructive"),
    ]
    assert all(t.has_preview for t in tools if t.effect != "read")
    assert str(workspace) in tools[0].description


def test_read_list_search_through_the_loop(workspace: Path) -> None:
    result, confirmer = run(workspace, [
        call("list_dir", {"path": ".", "recursive": True}),
        call("read_file", {"path": "src/app.py", "start_line": 1, "end_line": 2}),
        call("search_files", {"pattern": r"greet\(", "glob": "*.py"}),
        text("done"),
    ])
    listing, reading, found = tool_outputs(result)
    assert "src/\n" in listing
    assert "README.md  (19 bytes)" in listing
    assert "src/app.py  (" in listing
    assert reading.startswith("[src/app.py: lines 1-2,")
    assert "return 'hello ' + name\n" in reading
    assert "more lines follow: call read_file with start_line=3" in reading
    assert found.splitlines() == ["src/app.py:1: def greet(name):", "src/app.py:6:     print(greet('world'))"]
    assert confirmer.seen == []  # reads need no confirmation
    assert all(m.provenance == "untrusted" for m in result.messages if isinstance(m, ToolResultMessage))


def test_write_file_confirms_with_a_diff_and_keeps_a_backup(workspace: Path) -> None:
    target = workspace / "README.md"
    os.chmod(target, 0o640)
    result, confirmer = run(workspace, [
        call("write_file", {"path": "README.md", "content": "# Demo\nBetter words.\n"}),
        call("write_file", {"path": "notes/today.txt", "content": "new file\n"}),
        text("written"),
    ])
    first, second = confirmer.seen
    assert first.preview is not None
    assert first.preview.splitlines()[:2] == ["--- a/README.md", "+++ b/README.md"]
    assert "-Some words.\n+Better words." in first.preview
    assert second.preview is not None
    assert second.preview.startswith("--- /dev/null\n+++ b/notes/today.txt")
    assert target.read_text() == "# Demo\nBetter words.\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o640  # permissions survive the atomic replace
    assert (workspace / "notes" / "today.txt").read_text() == "new file\n"
    backups = list((workspace / ".agentkit-backup").glob("README.md.*"))
    assert len(backups) == 1
    assert backups[0].read_text() == "# Demo\nSome words.\n"
    assert "previous version kept at .agentkit-backup/README.md." in tool_outputs(result)[0]
    leftovers = [p for p in workspace.rglob("*.tmp")]
    assert leftovers == []


def test_declined_write_changes_nothing(workspace: Path) -> None:
    model = ScriptedModel([call("write_file", {"path": "README.md", "content": "x"}), text("ok")])
    Agent(model, tools=list(tools_for(workspace).values()), confirmer=deny_all()).run_sync("go")
    assert (workspace / "README.md").read_text() == "# Demo\nSome words.\n"
    assert not (workspace / ".agentkit-backup").exists()


BEFORE_AFTER = """Here is the change:
<<<<<<< BEFORE
def greet(name):
    return 'hello ' + name
=======
def greet(name: str) -> str:
    return f'hello {name}'
>>>>>>> AFTER
"""

UNIFIED = """--- a/src/app.py
+++ b/src/app.py
@@ -4,3 +4,4 @@

 def main():
     print(greet('world'))
+    print(greet('again'))
"""


def test_apply_patch_both_formats_through_the_loop(workspace: Path) -> None:
    result, confirmer = run(workspace, [
        call("apply_patch", {"path": "src/app.py", "patch": BEFORE_AFTER}),
        call("apply_patch", {"path": "src/app.py", "patch": UNIFIED}),
        text("patched"),
    ])
    assert (workspace / "src" / "app.py").read_text() == (
        "def greet(name: str) -> str:\n    return f'hello {name}'\n\n\ndef main():\n    print(greet('world'))\n"
        "    print(greet('again'))\n"
    )
    first, second = confirmer.seen
    assert first.preview is not None
    assert "-def greet(name):\n-    return 'hello ' + name\n+def greet(name: str) -> str:\n" in first.preview
    assert second.preview is not None
    assert "+    print(greet('again'))" in second.preview
    assert all(out.startswith("patched src/app.py") for out in tool_outputs(result))


@pytest.mark.parametrize(
    ("patch", "fragment"),
    [
        ("<<<<<<< BEFORE\nnot in the file\n=======\nx\n>>>>>>> AFTER\n", "does not occur in the file"),
        ("<<<<<<< BEFORE\n    \n=======\nx\n>>>>>>> AFTER\n", "BEFORE text is empty"),
        ("<<<<<<< BEFORE\ndef greet(name):\n  return 'hello ' + name\n=======\nx\n>>>>>>> AFTER\n",
         "matches only if whitespace is ignored"),
        ("@@ -1,2 +1,2 @@\n def greet(name):\n-    return 'bye'\n+    return 'hi'\n", "hunk 1 does not apply"),
        ("just some prose", "neither a unified diff"),
    ],
)
def test_bad_patches_become_corrections(workspace: Path, patch: str, fragment: str) -> None:
    original = (workspace / "src" / "app.py").read_text()
    result, confirmer = run(workspace, [call("apply_patch", {"path": "src/app.py", "patch": patch}), text("ok")])
    assert fragment in tool_outputs(result)[0]
    assert confirmer.seen[0].preview is not None
    assert confirmer.seen[0].preview.startswith("(this patch will be refused:")
    assert (workspace / "src" / "app.py").read_text() == original


def test_before_after_must_match_exactly_once(workspace: Path) -> None:
    (workspace / "dup.txt").write_text("x = 1\ny = 2\nx = 1\n")
    result, _ = run(workspace, [
        call("apply_patch", {"path": "dup.txt", "patch": "<<<<<<< BEFORE\nx = 1\n=======\nx = 3\n>>>>>>> AFTER"}),
        text("ok"),
    ])
    assert "occurs 2 times (at lines 1, 3)" in tool_outputs(result)[0]
    assert (workspace / "dup.txt").read_text() == "x = 1\ny = 2\nx = 1\n"


def test_delete_is_destructive_and_recoverable(workspace: Path) -> None:
    result, confirmer = run(workspace, [call("delete_file", {"path": "README.md"}), text("gone")])
    assert confirmer.seen[0].effect == "destructive"
    assert confirmer.seen[0].preview is not None
    assert confirmer.seen[0].preview.startswith("delete README.md (19 bytes)\n--- a/README.md\n+++ /dev/null")
    assert not (workspace / "README.md").exists()
    kept = list((workspace / ".agentkit-backup").glob("README.md.*"))
    assert [p.read_text() for p in kept] == ["# Demo\nSome words.\n"]
    assert "its content is kept at .agentkit-backup/README.md." in tool_outputs(result)[0]


def test_backup_directory_is_hidden_and_read_only_to_the_tools(workspace: Path) -> None:
    tools = tools_for(workspace)
    tools["write_file"](path="README.md", content="v2\n")
    assert ".agentkit-backup" not in tools["list_dir"](path=".", recursive=True)
    with pytest.raises(ModelRetry, match="backup directory"):
        tools["delete_file"](path=next((workspace / ".agentkit-backup").iterdir()).relative_to(workspace).as_posix())
    without = tools_for(workspace, backup_dir=None)
    without["write_file"](path="README.md", content="v3\n")
    assert len(list((workspace / ".agentkit-backup").iterdir())) == 1


def test_large_files_read_in_ranges(workspace: Path) -> None:
    big = workspace / "big.log"
    with big.open("w") as handle:
        for number in range(1, 200_001):
            handle.write(f"line {number}\n")
    tools = tools_for(workspace, max_read_chars=1_000, max_file_bytes=100_000)
    first = tools["read_file"](path="big.log")
    assert first.startswith("[big.log: lines 1-")
    assert "more lines follow" in first
    middle = tools["read_file"](path="big.log", start_line=150_000, end_line=150_002)
    assert middle.splitlines()[1:4] == ["line 150000", "line 150001", "line 150002"]
    with pytest.raises(ModelRetry, match="over the 100000-byte limit"):
        tools["apply_patch"](path="big.log", patch="<<<<<<< BEFORE\nline 1\n=======\nx\n>>>>>>> AFTER")
    assert "big.log" not in tools["search_files"](pattern="line 5$")  # too big to search, skipped
    (workspace / "one-line.txt").write_text("y" * 50_000)
    cut = tools["read_file"](path="one-line.txt")
    assert "longer than 1000 characters" in cut


def test_binary_files_are_refused_with_a_clear_message(workspace: Path) -> None:
    (workspace / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(100))
    (workspace / "latin1.txt").write_bytes("café crème".encode("latin-1"))
    tools = tools_for(workspace)
    with pytest.raises(ModelRetry, match="is a binary file"):
        tools["read_file"](path="image.png")
    with pytest.raises(ModelRetry, match="not UTF-8 text"):
        tools["read_file"](path="latin1.txt")
    assert "skipped" in tools["search_files"](pattern="PNG")


def test_several_roots(workspace: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    (other / "data.txt").write_text("from the second root\n")
    tools = {t.name: t for t in toolkit(Config(roots=[workspace, other]))}
    assert "from the second root" in tools["read_file"](path=str(other / "data.txt"))
    assert "from the second root" in tools["read_file"](path="data.txt")  # found in the second root
    tools["write_file"](path="fresh.txt", content="first root\n")
    assert (workspace / "fresh.txt").exists()
    assert str(other) in tools["read_file"].description


def test_bad_configuration_is_a_user_error(tmp_path: Path) -> None:
    from agentkit import UserError

    with pytest.raises(UserError, match="not an existing directory"):
        toolkit(Config(roots=[tmp_path / "missing"]))
    with pytest.raises(UserError, match="would expose the system"):
        toolkit(Config(roots=[Path("/")]))
    with pytest.raises(UserError, match="invalid options for toolkit 'files'"):
        load_toolkit("files", {"root": "."})


# -- the helpers the code-patching flow reuses ------------------------------------------------------------------

def test_before_after_helper_marker_and_fenced_styles() -> None:
    content = "a = 1\nb = 2\nc = 3\n"
    fenced = "BEFORE:\n```python\nb = 2\n```\nAFTER:\n```python\nb = 20\n```\n"
    marker = "<<<<<<< BEFORE\nc = 3\n=======\nc = 30\nd = 4\n>>>>>>> AFTER\n"
    assert [b.before for b in parse_before_after(fenced + marker)] == ["b = 2\n", "c = 3\n"]
    assert apply_before_after(content, fenced + marker) == "a = 1\nb = 20\nc = 30\nd = 4\n"
    assert apply_before_after("x\ny", "<<<<<<< BEFORE\ny\n=======\nz\n>>>>>>> AFTER") == "x\nz"
    with pytest.raises(PatchError, match="block 2: the BEFORE text does not occur"):
        apply_before_after(content, fenced + "<<<<<<< BEFORE\nzzz\n=======\n\n>>>>>>> AFTER\n")


def test_unified_diff_helper() -> None:
    content = "a\nb\nc\nd\n"
    assert apply_unified_diff(content, "@@ -2,2 +2,2 @@\n b\n-c\n+C\n") == "a\nb\nC\nd\n"
    assert apply_unified_diff(content, "@@\n b\n-c\n+C\n") == "a\nb\nC\nd\n"  # bare header: unique match
    assert apply_unified_diff(content, "@@ -9,2 +9,2 @@\n b\n-c\n+C\n") == "a\nb\nC\nd\n"  # offset tolerated
    assert apply_unified_diff(content, "@@ -0,0 +1 @@\n+top\n") == "top\na\nb\nc\nd\n"
    assert apply_unified_diff(None, "--- /dev/null\n+++ b/n\n@@ -0,0 +1,2 @@\n+x\n+y\n") == "x\ny\n"
    assert apply_unified_diff("a\nb", "@@ -2 +2 @@\n-b\n\\ No newline at end of file\n+B\n") == "a\nB\n"
    assert apply_unified_diff("a\n-- x\n", "@@ -2,1 +2,1 @@\n--- x\n+++ y\n") == "a\n++ y\n"
    with pytest.raises(PatchError, match="matches 2 places"):
        apply_unified_diff("x\ny\nx\n", "@@\n-x\n+z\n")
    with pytest.raises(PatchError, match="several files"):
        apply_unified_diff(content, "--- a/1\n+++ b/1\n@@ -1 +1 @@\n-a\n+A\n--- a/2\n+++ b/2\n@@ -1 +1 @@\n-a\n+A\n")
    with pytest.raises(PatchError, match="shorter than its header"):
        apply_unified_diff(content, "@@ -1,3 +1,3 @@\n a\n-b\n+B\n")
    with pytest.raises(PatchError, match="use delete_file"):
        apply_unified_diff(content, "--- a/x\n+++ /dev/null\n@@ -1,4 +0,0 @@\n-a\n-b\n-c\n-d\n")
    assert apply_patch_text(content, "<<<<<<< BEFORE\nd\n=======\nD\n>>>>>>> AFTER") == "a\nb\nc\nD\n"
