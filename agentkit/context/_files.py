"""Files placed in the prompt, and how only their relevant part is kept when space runs out.

A file's focus is a function (or class, or `Class.method`) or a traceback. Python files are cut with `ast`
(the definition with its decorators, plus the module's imports); other languages with a brace/indentation
heuristic. A traceback keeps the lines around each of its frames that point into the file. File content is
data, not instructions: it is wrapped in a `<file ... trust="untrusted">` tag with line numbers.
"""

from __future__ import annotations

import ast
import os
import re
from dataclasses import dataclass
from pathlib import Path

from .._errors import UserError

MAX_FILE_BYTES = 2_000_000
TRACEBACK_CONTEXT_LINES = 6

_PY_FRAME = re.compile(r'File "(?P<path>[^"]+)", line (?P<line>\d+)')
_GENERIC_FRAME = re.compile(r"(?P<path>[\w./\\-]+\.[A-Za-z0-9]+):(?P<line>\d+)")
_DEF_KEYWORDS = r"(?:def|function|func|fn|sub|class|struct|impl|interface|trait|module|proc|method)"


@dataclass(frozen=True)
class ContextFile:
    """A file to show the model. `function` or `traceback` say which part matters when space is short."""

    path: Path
    function: str | None = None
    traceback: str | None = None

    @classmethod
    def of(cls, value: str | os.PathLike[str] | ContextFile) -> ContextFile:
        if isinstance(value, ContextFile):
            return value
        return cls(Path(value))


@dataclass(frozen=True)
class FileView:
    """One way to show a file: the whole of it, or numbered excerpts of it."""

    text: str
    kind: str  # "full" | "function <name>" | "traceback" | "head"
    lines_shown: int
    lines_total: int


def read_text(path: Path) -> str:
    """The file's text, or a UserError that says what is wrong with the path."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise UserError(f"context file {path} does not exist; fix the path or remove it from files=") from None
    except OSError as exc:
        raise UserError(f"context file {path} cannot be read ({exc.strerror}); check the path and permissions") from None
    if not path.is_file():
        raise UserError(f"context file {path} is not a regular file; give a text file")
    if size > MAX_FILE_BYTES:
        raise UserError(f"context file {path} is {size} bytes, over {MAX_FILE_BYTES}; give an extract or a focus")
    try:
        return path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        raise UserError(f"context file {path} is not UTF-8 text; only text files can go in the prompt") from None


def function_range(path: Path, source: str, name: str) -> tuple[int, int] | None:
    """1-based inclusive line range of the definition `name` (dotted for methods), or None."""
    if path.suffix == ".py":
        return _python_range(source, name)
    return _heuristic_range(source.splitlines(), name.split(".")[-1])


def python_imports(source: str) -> list[tuple[int, int]]:
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    return [(node.lineno, node.end_lineno or node.lineno) for node in tree.body
            if isinstance(node, ast.Import | ast.ImportFrom)]


def python_names(source: str) -> list[str]:
    """Top-level functions and classes, and methods as Class.method."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    names: list[str] = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            names.append(node.name)
        elif isinstance(node, ast.ClassDef):
            names.append(node.name)
            names += [f"{node.name}.{n.name}" for n in node.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
    return names


def _python_range(source: str, name: str) -> tuple[int, int] | None:
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return _heuristic_range(source.splitlines(), name.split(".")[-1])
    scope: list[ast.stmt] = tree.body
    node: ast.stmt | None = None
    for part in name.split("."):
        node = next((n for n in scope if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
                     and n.name == part), None)
        if node is None:
            # not at this level: search the whole tree (a nested helper, a method given without its class)
            found = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
                     and n.name == name.split(".")[-1]]
            node = found[0] if found else None
            break
        scope = node.body
    if node is None:
        return None
    assert isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
    start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
    return start, node.end_lineno or node.lineno


def _heuristic_range(lines: list[str], name: str) -> tuple[int, int] | None:
    """Find `name`'s definition in a brace or indentation language; its extent by brace depth or indentation."""
    word = re.escape(name)
    patterns = [
        re.compile(rf"^\s*(?:[\w<>\[\]*&:,]+\s+)*{_DEF_KEYWORDS}\s+\*?{word}\b"),
        re.compile(rf"^\s*(?:export\s+)?(?:const|let|var)\s+{word}\s*=\s*(?:async\s*)?(?:function\b|\(.*\)\s*=>|\w+\s*=>)"),
        re.compile(rf"^\s*(?:[\w<>\[\]*&:,]+\s+)+\*?{word}\s*\([^;]*$"),  # C-like: `static int name(args) {`
        re.compile(rf"^\s*(?:async\s+|static\s+|public\s+|private\s+|protected\s+)*{word}\s*\([^;]*\)\s*\{{"),
    ]
    start = next((i for i, line in enumerate(lines) for p in patterns if p.search(line)), None)
    if start is None:
        return None
    return start + 1, _block_end(lines, start) + 1


def _block_end(lines: list[str], start: int) -> int:
    """0-based last line of the block opened at `start`: matching brace if one opens within 3 lines, else indent."""
    depth = 0
    opened = False
    for i in range(start, len(lines)):
        code = re.sub(r'"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'', "", lines[i])
        code = re.sub(r"//.*$|#.*$", "", code)
        for ch in code:
            if ch == "{":
                depth += 1
                opened = True
            elif ch == "}":
                depth -= 1
        if opened and depth <= 0:
            return i
        if not opened and i >= start + 2:
            break
    indent = len(lines[start]) - len(lines[start].lstrip())
    end = start
    for i in range(start + 1, len(lines)):
        line = lines[i]
        if not line.strip():
            continue
        if len(line) - len(line.lstrip()) <= indent and not line.lstrip().startswith((")", "]", "}")):
            break
        end = i
    return end


def traceback_lines(path: Path, traceback: str) -> list[int]:
    """1-based line numbers of the traceback's frames that point into `path` (matched by path suffix)."""
    wanted = path.as_posix()
    lines: list[int] = []
    for pattern in (_PY_FRAME, _GENERIC_FRAME):
        for match in pattern.finditer(traceback):
            frame = match.group("path").replace("\\", "/")
            if wanted.endswith(frame.lstrip("./")) or frame.endswith(wanted) or frame.endswith("/" + path.name) \
                    or frame == path.name:
                lines.append(int(match.group("line")))
        if lines:
            break
    return sorted(set(lines))


def excerpt(source_lines: list[str], ranges: list[tuple[int, int]], *, mark: set[int] | None = None) -> str:
    """Numbered lines of the given ranges (merged), with `...` between gaps; `mark` flags error lines."""
    merged: list[list[int]] = []
    for start, end in sorted(ranges):
        start, end = max(1, start), min(len(source_lines), end)
        if start > end:
            continue
        if merged and start <= merged[-1][1] + 1:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    out: list[str] = []
    width = len(str(len(source_lines)))
    for index, (start, end) in enumerate(merged):
        if index or start > 1:
            out.append("...")
        for number in range(start, end + 1):
            flag = ">>" if mark and number in mark else "  "
            out.append(f"{flag}{number:>{width}} | {source_lines[number - 1]}")
    if merged and merged[-1][1] < len(source_lines):
        out.append("...")
    return "\n".join(out)


def full_view(source: str) -> FileView:
    lines = source.splitlines()
    return FileView(source, "full", len(lines), len(lines))


def focused_view(file: ContextFile, source: str) -> FileView | None:
    """The function or the traceback's neighbourhood of `file`, or None when it has no usable focus."""
    lines = source.splitlines()
    if file.function:
        found = function_range(file.path, source, file.function)
        if found is None:
            return None
        ranges = [found]
        if file.path.suffix == ".py":
            ranges = python_imports(source) + ranges
        shown = sum(e - s + 1 for s, e in ranges)
        return FileView(excerpt(lines, ranges), f"function {file.function}", shown, len(lines))
    if file.traceback:
        hits = traceback_lines(file.path, file.traceback)
        if not hits:
            return None
        ranges = [(n - TRACEBACK_CONTEXT_LINES, n + TRACEBACK_CONTEXT_LINES) for n in hits]
        text = excerpt(lines, ranges, mark=set(hits))
        shown = sum(1 for line in text.splitlines() if line != "...")
        return FileView(text, "traceback", shown, len(lines))
    return None


def relevant_view(source: str, words: set[str], max_lines: int) -> FileView:
    """At most `max_lines` lines of a file without a focus: windows around the lines that mention the most
    words of the request (identifiers, names), or the head of the file when none does."""
    lines = source.splitlines()
    max_lines = max(1, min(len(lines), max_lines))
    lowered = [line.lower() for line in lines]
    scored = sorted(
        ((sum(1 for w in words if w in line), -number) for number, line in enumerate(lowered, 1)),
        reverse=True,
    )
    ranges: list[tuple[int, int]] = []
    shown: set[int] = set()
    for score, negative in scored:
        if score == 0 or len(shown) >= max_lines:
            break
        number = -negative
        start, end = number - 3, number + 3
        window = {n for n in range(max(1, start), min(len(lines), end) + 1)} - shown
        if len(shown) + len(window) > max_lines:
            continue
        ranges.append((start, end))
        shown |= window
    if not ranges:
        return FileView(excerpt(lines, [(1, max_lines)]), "head", max_lines, len(lines))
    return FileView(excerpt(lines, ranges), "lines matching the request", len(shown), len(lines))


def shrink_view(view: FileView, max_lines: int) -> FileView:
    """The first `max_lines` lines of an excerpt (a focused part that is itself too large)."""
    kept = view.text.splitlines()[: max(1, max_lines)]
    return FileView("\n".join([*kept, "..."]), view.kind + " (cut)", len(kept), view.lines_total)


def check_focus(file: ContextFile, source: str) -> None:
    """Fail early (UserError) when a focus names something the file does not contain."""
    if file.function and function_range(file.path, source, file.function) is None:
        names = python_names(source) if file.path.suffix == ".py" else []
        known = f" (defined there: {', '.join(names[:12])})" if names else ""
        raise UserError(
            f"function {file.function!r} was not found in {file.path}{known}; give a name defined there "
            "(Class.method for a method) or drop the focus"
        )
    if file.traceback and not traceback_lines(file.path, file.traceback):
        raise UserError(
            f"the traceback given for {file.path} has no frame in that file (expected 'File \"...{file.path.name}\", "
            f"line N' or '{file.path.name}:N'); give the traceback of an error raised through this file"
        )


def display_path(path: Path) -> str:
    """The path relative to the working directory when it is inside it (shorter, and the same on every machine)."""
    try:
        return path.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return path.as_posix()


def render_file(path: Path, view: FileView) -> str:
    """The file block: data, not instructions, with what part of the file is shown."""
    body = view.text.replace("</file>", "&lt;/file&gt;")
    shown = "" if view.kind == "full" else f' shown="{view.kind}, {view.lines_shown} of {view.lines_total} lines"'
    return f'<file path="{display_path(path)}"{shown} trust="untrusted">\n{body}\n</file>'
