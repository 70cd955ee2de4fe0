"""Applying edits proposed as text: BEFORE/AFTER blocks and unified diffs, each verified against the file.

    <<<<<<< BEFORE                     BEFORE:                      --- a/app.py
    old lines                          ```python                    +++ b/app.py
    =======                            old lines                    @@ -3,2 +3,2 @@
    new lines                          ```                           context
    >>>>>>> AFTER                      AFTER:                       -old
                                       ```python                    +new
                                       new lines
                                       ```

A BEFORE text must occur exactly once in the file; a diff hunk's context and removed lines must match
exactly (fuzz 0), at the stated line or, failing that, at the one place they occur. Nothing is partly applied:
any failure raises `PatchError`, whose message tells the model what to correct. A file whose line breaks are all
CRLF is edited as LF text and converted back, so patches written with plain newlines apply and the file keeps
its line endings; lines are split on "\n" only, so form feeds and Unicode line separators stay content.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


class PatchError(ValueError):
    """The patch does not apply; the message says why, in terms a model can act on."""


@dataclass(frozen=True)
class BeforeAfter:
    before: str
    after: str


_MARKER_BLOCK = re.compile(
    r"^<{7} ?BEFORE[^\n]*\n(?P<before>.*?)^={7}[ \t]*\r?\n(?P<after>.*?)^>{7} ?AFTER[^\n]*$", re.DOTALL | re.MULTILINE
)
_FENCED_BLOCK = re.compile(
    r"^BEFORE:[ \t]*\n(?P<fb>`{3,}|~{3,})[^\n]*\n(?P<before>.*?)^(?P=fb)[ \t]*\n\s*"
    r"^AFTER:[ \t]*\n(?P<fa>`{3,}|~{3,})[^\n]*\n(?P<after>.*?)^(?P=fa)[ \t]*$",
    re.DOTALL | re.MULTILINE,
)


def looks_like_before_after(text: str) -> bool:
    return bool(re.search(r"^(<{7} ?BEFORE|BEFORE:)", text, re.MULTILINE))


def parse_before_after(text: str) -> list[BeforeAfter]:
    """Every BEFORE/AFTER block in `text`, in order (marker style and the fenced `BEFORE:`/`AFTER:` style)."""
    found: list[tuple[int, BeforeAfter]] = []
    for pattern in (_MARKER_BLOCK, _FENCED_BLOCK):
        for match in pattern.finditer(text):
            found.append((match.start(), BeforeAfter(match.group("before"), match.group("after"))))
    if not found:
        raise PatchError(
            "no BEFORE/AFTER block found. Use exactly:\n<<<<<<< BEFORE\n(the exact current lines)\n=======\n"
            "(the new lines)\n>>>>>>> AFTER"
        )
    return [block for _, block in sorted(found, key=lambda item: item[0])]


def _line_of(content: str, offset: int) -> int:
    return content.count("\n", 0, offset) + 1


def _occurrences(content: str, needle: str) -> list[int]:
    positions: list[int] = []
    start = 0
    while True:
        index = content.find(needle, start)
        if index < 0:
            return positions
        positions.append(index)
        start = index + 1


def _is_crlf(text: str) -> bool:
    """Every line break is CRLF: such a file is edited as LF text, then converted back."""
    return "\r\n" in text and text.count("\n") == text.count("\r\n")


def _split_lines(text: str) -> list[str]:
    """Lines without their "\n"; unlike str.splitlines, \f, \x1c-\x1e, \x85 and \u2028 are not breaks."""
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    return lines


def _squash(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def apply_block(content: str, block: BeforeAfter, *, index: int = 1) -> str:
    """Replace the one occurrence of `block.before`; 0 or several occurrences raise PatchError saying which."""
    if _is_crlf(content):
        lf_block = BeforeAfter(block.before.replace("\r\n", "\n"), block.after.replace("\r\n", "\n"))
        return apply_block(content.replace("\r\n", "\n"), lf_block, index=index).replace("\n", "\r\n")
    before, after = block.before, block.after
    if not before.strip():
        raise PatchError(f"block {index}: the BEFORE text is empty; quote the exact lines to replace "
                         "(use write_file to create a file)")
    positions = _occurrences(content, before)
    if not positions and before.endswith("\n") and content.endswith(before[:-1]):
        before, after = before[:-1], after[:-1] if after.endswith("\n") else after  # file without final newline
        positions = _occurrences(content, before)
    if len(positions) > 1:
        lines = ", ".join(str(_line_of(content, p)) for p in positions[:10])
        raise PatchError(f"block {index}: the BEFORE text occurs {len(positions)} times (at lines {lines}); "
                         "include more surrounding lines so it matches exactly once")
    if not positions:
        hint = ""
        if _squash(before) and _squash(before) in _squash(content):
            hint = " It matches only if whitespace is ignored: copy the exact indentation and line breaks."
        else:
            first = next((line for line in before.splitlines() if line.strip()), "")
            near = [_line_of(content, p) for p in _occurrences(content, first)][:5] if first else []
            if near:
                hint = f" Its first line occurs at line(s) {', '.join(map(str, near))}; re-read the file there."
        raise PatchError(f"block {index}: the BEFORE text does not occur in the file.{hint} "
                         "Read the file and quote the current lines exactly.")
    start = positions[0]
    return content[:start] + after + content[start + len(before):]


def apply_before_after(content: str, patch: str | list[BeforeAfter]) -> str:
    """Apply every block in order; all or nothing."""
    blocks = parse_before_after(patch) if isinstance(patch, str) else patch
    for number, block in enumerate(blocks, 1):
        content = apply_block(content, block, index=number)
    return content


# -- unified diffs ---------------------------------------------------------------------------------------------

_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")


@dataclass
class Hunk:
    old_start: int | None  # 1-based; None when the header gives no numbers
    old: list[str]
    new: list[str]
    old_no_newline: bool = False
    new_no_newline: bool = False


@dataclass
class FileDiff:
    old_path: str | None
    new_path: str | None
    hunks: list[Hunk]

    @property
    def creates(self) -> bool:
        return self.old_path == "/dev/null"

    @property
    def deletes(self) -> bool:
        return self.new_path == "/dev/null"


def looks_like_unified_diff(text: str) -> bool:
    return bool(re.search(r"^@@.*@@", text, re.MULTILINE))


def _header_path(line: str) -> str:
    path = line[4:].split("\t")[0].strip()
    if path.startswith(("a/", "b/")):
        path = path[2:]
    return path


def parse_unified_diff(text: str) -> FileDiff:
    """One file's diff. Lines outside hunks (commit messages, `diff --git`, `index`) are ignored.

    A hunk with counts ends when they are used up, so a removed line that itself starts with "-- " is read
    as content, not as a new file header.
    """
    lines = _split_lines(text.replace("\r\n", "\n") if _is_crlf(text) else text)
    old_path = new_path = None
    hunks: list[Hunk] = []
    current: Hunk | None = None
    remaining_old = remaining_new = 0
    counted = False
    files = 0
    last_tag = ""
    i = 0
    while i < len(lines):
        raw = lines[i]
        i += 1
        inside = current is not None and (not counted or remaining_old > 0 or remaining_new > 0)
        if not inside and raw.startswith("--- ") and i < len(lines) and lines[i].startswith("+++ "):
            files += 1
            old_path, new_path = _header_path(raw), _header_path(lines[i])
            current, i = None, i + 1
            continue
        if raw.startswith("@@") and inside and counted:
            raise PatchError(f"hunk {len(hunks)} is shorter than its header says; fix the '@@' numbers or use a "
                             "bare '@@' header")
        if raw.startswith("@@"):
            match = _HUNK.match(raw)
            if match is None and raw.count("@@") >= 2 and raw.split("@@")[1].strip():
                raise PatchError(f"malformed hunk header {raw!r}; expected '@@ -12,3 +12,4 @@' (or a bare '@@')")
            current = Hunk(old_start=int(match.group(1)) if match else None, old=[], new=[])
            hunks.append(current)
            counted = match is not None
            if match:
                remaining_old = int(match.group(2)) if match.group(2) is not None else 1
                remaining_new = int(match.group(4)) if match.group(4) is not None else 1
            last_tag = ""
            continue
        if current is None:
            continue
        if raw.startswith("\\"):  # "\ No newline at end of file" refers to the line before it
            if last_tag in ("-", " "):
                current.old_no_newline = True
            if last_tag in ("+", " "):
                current.new_no_newline = True
            continue
        if not inside:
            continue  # text after a finished hunk
        tag, body = (raw[0], raw[1:]) if raw else (" ", "")
        if tag == " ":
            current.old.append(body)
            current.new.append(body)
            remaining_old, remaining_new = remaining_old - 1, remaining_new - 1
        elif tag == "-":
            current.old.append(body)
            remaining_old -= 1
        elif tag == "+":
            current.new.append(body)
            remaining_new -= 1
        else:
            raise PatchError(f"unexpected line in hunk {len(hunks)}: {raw[:80]!r}; every hunk line starts with "
                             "' ', '-' or '+'")
        if counted and (remaining_old < 0 or remaining_new < 0):
            raise PatchError(f"hunk {len(hunks)} has more lines than its header counts; fix the '@@' numbers "
                             "or use a bare '@@' header")
        last_tag = tag
    if files > 1:
        raise PatchError("the diff touches several files; send one file per apply_patch call")
    if not hunks:
        raise PatchError("no hunk found; a unified diff needs '@@ -start,count +start,count @@' sections")
    if counted and (remaining_old > 0 or remaining_new > 0):
        raise PatchError(f"hunk {len(hunks)} is shorter than its header says (missing {max(remaining_old, 0)} old / "
                         f"{max(remaining_new, 0)} new lines); fix the '@@' numbers or use a bare '@@' header")
    return FileDiff(old_path, new_path, hunks)


def _find_block(lines: list[str], block: list[str], start_hint: int | None, search_from: int) -> int:
    """Where `block` matches exactly: at the hint if it does, else the single (or nearest) match after search_from."""
    size = len(block)
    if start_hint is not None and search_from <= start_hint <= len(lines) - size and \
            lines[start_hint:start_hint + size] == block:
        return start_hint
    matches = [i for i in range(search_from, len(lines) - size + 1) if lines[i:i + size] == block]
    if not matches:
        return -1
    if start_hint is None:
        if len(matches) > 1:
            numbers = ", ".join(str(m + 1) for m in matches[:10])
            raise PatchError(f"a hunk without line numbers matches {len(matches)} places (lines {numbers}); "
                             "give '@@ -line,count +line,count @@' or more context")
        return matches[0]
    return min(matches, key=lambda m: abs(m - start_hint))


def apply_unified_diff(content: str | None, diff: str | FileDiff) -> str:
    """Apply a one-file unified diff with context verification (fuzz 0). `content` None means a new file."""
    if content is not None and _is_crlf(content):
        return apply_unified_diff(content.replace("\r\n", "\n"), diff).replace("\n", "\r\n")
    parsed = parse_unified_diff(diff) if isinstance(diff, str) else diff
    if parsed.deletes:
        raise PatchError("this diff deletes the file; use delete_file instead")
    if content is None and not parsed.creates and any(h.old for h in parsed.hunks):
        raise PatchError("the file does not exist, and the diff expects existing lines")
    text = content or ""
    ends_with_newline = text.endswith("\n") or not text
    lines = _split_lines(text)
    offset = 0
    search_from = 0
    for number, hunk in enumerate(parsed.hunks, 1):
        hint = None if hunk.old_start is None else max(0, hunk.old_start - 1 + offset)
        if not hunk.old:  # "@@ -L,0 +M,N @@" inserts after line L
            if hunk.old_start is None:
                raise PatchError(f"hunk {number} only adds lines and has no line numbers; include an unchanged "
                                 "context line, or give '@@ -L,0 +M,N @@'")
            at = min(max(hunk.old_start + offset, 0), len(lines))
        else:
            at = _find_block(lines, hunk.old, hint, search_from)
        if at < 0:
            shown = "\n".join(lines[hint:hint + len(hunk.old)]) if hint is not None else "(no line numbers given)"
            raise PatchError(
                f"hunk {number} does not apply: its context and removed lines are not in the file"
                + (f" (expected at line {hint + 1}; the file has there:\n{shown})" if hint is not None else "")
                + ". Re-read the file and rebuild the diff from its current lines."
            )
        lines[at:at + len(hunk.old)] = hunk.new
        offset += len(hunk.new) - len(hunk.old)
        search_from = at + len(hunk.new)
        if at + len(hunk.new) == len(lines):
            if hunk.new_no_newline:
                ends_with_newline = False
            elif hunk.old_no_newline or not lines:
                ends_with_newline = True
    result = "\n".join(lines)
    if lines and ends_with_newline:
        result += "\n"
    return result


def apply_patch_text(content: str | None, patch: str) -> str:
    """Either format, detected from the text."""
    if looks_like_before_after(patch):
        if content is None:
            raise PatchError("the file does not exist; BEFORE/AFTER blocks edit existing files (use write_file)")
        return apply_before_after(content, patch)
    if looks_like_unified_diff(patch):
        return apply_unified_diff(content, patch)
    raise PatchError(
        "the patch is neither a unified diff (with '@@' hunks) nor BEFORE/AFTER blocks. Send either\n"
        "<<<<<<< BEFORE\n(exact current lines)\n=======\n(new lines)\n>>>>>>> AFTER\nor a unified diff."
    )
