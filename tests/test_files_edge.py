"""Defects found by probing the files toolkit as a demanding user: line endings and separators kept through
edits, previews that say what the call will really do, a regular expression that cannot freeze the process,
and file names at the filesystem's limits."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from agentkit import ModelRetry, Tool
from agentkit.toolkits.files import Config, apply_before_after, apply_unified_diff, toolkit, unified_diff
from agentkit.toolkits.files import _toolkit as files_toolkit


def tools_for(root: Path, **options: Any) -> dict[str, Tool]:
    return {t.name: t for t in toolkit(Config(roots=[root], **options))}


def preview(tool: Tool, **arguments: Any) -> str:
    text = asyncio.run(tool.render_preview(arguments))
    assert text is not None
    return text


# -- line endings and line separators --------------------------------------------------------------------------
def test_unified_diff_keeps_form_feeds_and_unicode_line_separators() -> None:
    old = 'a = 1\n\x0c\nb = "x\u2028y"\nc = 3\n'
    new = apply_unified_diff(old, "@@ -4,1 +4,1 @@\n-c = 3\n+c = 4\n")
    assert new == 'a = 1\n\x0c\nb = "x\u2028y"\nc = 4\n'


def test_unified_diff_keeps_crlf_line_endings() -> None:
    assert apply_unified_diff("x\r\ny\r\n", "@@ -1,1 +1,1 @@\n-x\n+z\n") == "z\r\ny\r\n"
    assert apply_unified_diff("x\r\ny", "@@ -2,1 +2,1 @@\n-y\n\\ No newline at end of file\n+w\n") == "x\r\nw\r\n"


def test_before_after_edits_a_crlf_file_and_keeps_its_line_endings(tmp_path: Path) -> None:
    (tmp_path / "win.py").write_bytes(b"a = 1\r\nb = 2\r\nc = 3\r\n")
    patch = "<<<<<<< BEFORE\nb = 2\n=======\nb = 20\nb2 = 21\n>>>>>>> AFTER\n"
    assert apply_before_after("a = 1\r\nb = 2\r\n", patch) == "a = 1\r\nb = 20\r\nb2 = 21\r\n"
    tools = tools_for(tmp_path)
    shown = preview(tools["apply_patch"], path="win.py", patch=patch)
    assert "+b = 20\r\n" in shown
    tools["apply_patch"](path="win.py", patch=patch)
    assert (tmp_path / "win.py").read_bytes() == b"a = 1\r\nb = 20\r\nb2 = 21\r\nc = 3\r\n"


# -- previews that tell the truth ------------------------------------------------------------------------------
def test_write_preview_over_a_binary_file_says_it_will_be_replaced(tmp_path: Path) -> None:
    (tmp_path / "logo.bin").write_bytes(b"\x00\x01\x02" * 50)
    tools = tools_for(tmp_path)
    shown = preview(tools["write_file"], path="logo.bin", content="text\n")
    assert "refused" not in shown
    assert shown.startswith("replace logo.bin (150 bytes, binary or not UTF-8) with:\n")
    assert "+text" in shown
    tools["write_file"](path="logo.bin", content="text\n")  # what the preview announced does happen
    assert (tmp_path / "logo.bin").read_text() == "text\n"


def test_delete_preview_of_an_oversized_file_says_it_will_be_deleted(tmp_path: Path) -> None:
    (tmp_path / "big.log").write_text("x" * 2_000)
    tools = tools_for(tmp_path, max_file_bytes=1_000)
    shown = preview(tools["delete_file"], path="big.log")
    assert "refused" not in shown
    assert shown == "delete big.log (2000 bytes, too large to show)"
    tools["delete_file"](path="big.log")
    assert not (tmp_path / "big.log").exists()


def test_write_preview_of_oversized_content_says_it_will_be_refused(tmp_path: Path) -> None:
    tools = tools_for(tmp_path, max_file_bytes=1_000)
    shown = preview(tools["write_file"], path="new.txt", content="y" * 2_000)
    assert "will be refused" in shown
    with pytest.raises(ModelRetry, match="over the 1000-byte limit"):
        tools["write_file"](path="new.txt", content="y" * 2_000)


# -- search_files: a catastrophic regular expression -----------------------------------------------------------
def test_catastrophic_regex_is_stopped_with_a_correction(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(files_toolkit, "_SEARCH_SECONDS", 0.5)
    (tmp_path / "a.txt").write_text("a" * 40 + "!\n")
    tools = tools_for(tmp_path)
    with pytest.raises(ModelRetry, match="took too long"):
        tools["search_files"](pattern=r"(a|aa)+$")
    assert tools["search_files"](pattern=r"a+!$") == "a.txt:1: " + "a" * 40 + "!"


# -- paths: names at the limits, a trailing slash ---------------------------------------------------------------
def test_long_but_legal_file_names_can_be_written_replaced_and_deleted(tmp_path: Path) -> None:
    tools = tools_for(tmp_path)
    name = "n" * 250
    tools["write_file"](path=name, content="one\n")
    result = tools["write_file"](path=name, content="two\n")
    assert "previous version kept at" in result
    assert (tmp_path / name).read_text() == "two\n"
    tools["delete_file"](path=name)
    assert not (tmp_path / name).exists()
    backups = sorted(p.read_text() for p in (tmp_path / ".agentkit-backup").iterdir())
    assert backups == ["one\n", "two\n"]


def test_too_long_a_name_is_refused_with_the_limit(tmp_path: Path) -> None:
    with pytest.raises(ModelRetry, match="255"):
        tools_for(tmp_path)["write_file"](path="x" * 300, content="x")


def test_a_path_ending_with_a_slash_is_not_written_as_a_file(tmp_path: Path) -> None:
    tools = tools_for(tmp_path)
    with pytest.raises(ModelRetry, match="ends with '/'"):
        tools["write_file"](path="newdir/", content="x")
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "keep.txt").write_text("keep\n")
    with pytest.raises(ModelRetry, match="ends with '/'"):
        tools["delete_file"](path="keep.txt/")
    assert (tmp_path / "keep.txt").exists()


# -- BEFORE/AFTER blocks whose text has a line of '=' ----------------------------------------------------------
def test_a_heading_underline_in_before_is_not_taken_for_the_separator() -> None:
    old = "Title\n==========\n\nold text\n"
    patch = "<<<<<<< BEFORE\nTitle\n==========\n\nold text\n=======\nTitle\n==========\n\nnew text\n>>>>>>> AFTER\n"
    assert apply_before_after(old, patch) == "Title\n==========\n\nnew text\n"


def test_diff_preview_of_a_file_with_form_feeds_shows_its_real_lines() -> None:
    shown = unified_diff("a\x0c\nb\n", "a\x0c\nc\n", "f.py")
    assert "No newline" not in shown
    assert shown.endswith("@@ -1,2 +1,2 @@\n a\x0c\n-b\n+c\n")
