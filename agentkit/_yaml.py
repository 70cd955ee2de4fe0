"""YAML that remembers where each key and value was written, so every error can say file:line:column.

Policy packs and agent files both read YAML this way: the text is composed (PyYAML nodes carry marks), the
position of each key and value is indexed by its path, and validation errors are mapped back through that
index. Each caller keeps its own wording for what the problems mean; the positions are found once, here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

Loc = tuple[Any, ...]
Position = tuple[int, int]


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a file, where it is, and what to do about it."""

    file: str
    line: int
    column: int
    where: str
    message: str

    def __str__(self) -> str:
        where = f" {self.where}:" if self.where else ""
        return f"{self.file}:{self.line}:{self.column}:{where} {self.message}"


@dataclass
class Marks:
    """The 1-based (line, column) of every value and of every mapping key, by path from the document root."""

    values: dict[Loc, Position] = field(default_factory=dict)
    keys: dict[Loc, Position] = field(default_factory=dict)

    def locate(self, loc: Sequence[Any], *, key: bool = False) -> Position:
        """Where `loc` was written: its key (when asked and known), else its value or the nearest parent's."""
        path = tuple(loc)
        if key and path in self.keys:
            return self.keys[path]
        while path:
            if path in self.values:
                return self.values[path]
            path = path[:-1]
        return self.values.get((), (1, 1))


@dataclass(frozen=True)
class DuplicateKey:
    """A key written twice in one mapping: PyYAML would silently keep only the last value."""

    mapping: Loc
    key: Any
    line: int
    column: int
    first_line: int


class YamlSyntaxError(Exception):
    """The text is not well-formed YAML; `problem` says where and what to check."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(str(problem))
        self.problem = problem


def _marked_problem(exc: yaml.MarkedYAMLError, source: str, prefix: str, fix: str) -> Problem:
    mark = exc.problem_mark or exc.context_mark
    line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    message = f"{prefix}: {exc.problem or exc}" + (f" ({exc.context})" if exc.context else "")
    return Problem(source, line, column, "", f"{message}; {fix}")


def compose(text: str, source: str) -> yaml.Node | None:
    """The node tree of `text` (None for an empty document); a syntax error raises YamlSyntaxError."""
    try:
        return yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        fix = "check indentation, colons and quotes"
        raise YamlSyntaxError(_marked_problem(exc, source, "YAML syntax error", fix)) from None
    except yaml.YAMLError as exc:  # e.g. a control character the reader refuses: it carries its own position
        position = getattr(exc, "position", None)
        line = text.count("\n", 0, position) + 1 if isinstance(position, int) else 1
        column = position - text.rfind("\n", 0, position) if isinstance(position, int) else 1
        raise YamlSyntaxError(Problem(source, line, column, "", f"not YAML: {exc}; remove that character")) from None


class _Constructor(yaml.SafeLoader):
    """SafeLoader whose impossible dates (2024-13-45) fail like its other errors: with the value's position."""

    def construct_yaml_timestamp(self, node: yaml.ScalarNode) -> Any:
        try:
            return super().construct_yaml_timestamp(node)
        except ValueError as exc:
            raise yaml.constructor.ConstructorError(
                None, None, f"{node.value!r} is not a valid date ({exc})", node.start_mark) from None


_Constructor.add_constructor("tag:yaml.org,2002:timestamp", _Constructor.construct_yaml_timestamp)


def construct(node: yaml.Node, source: str) -> Any:
    """The plain data of a composed document; a value YAML cannot build raises YamlSyntaxError at its position.

    Composing accepts what construction refuses: a `!!python/...` tag, a list as a key, an impossible date.
    """
    loader = _Constructor("")
    try:
        return loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        fix = "write a plain value (quote it if it is text)"
        raise YamlSyntaxError(_marked_problem(exc, source, "YAML value error", fix)) from None
    finally:
        loader.dispose()


def index_positions(node: yaml.Node) -> tuple[Marks, list[DuplicateKey]]:
    """The position of everything under `node`, and every key repeated within one mapping, in file order."""
    marks = Marks()
    duplicates: list[DuplicateKey] = []
    _index(node, (), marks, duplicates)
    return marks, duplicates


def _index(node: yaml.Node, path: Loc, marks: Marks, duplicates: list[DuplicateKey]) -> None:
    marks.values[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
    if isinstance(node, yaml.MappingNode):
        first_lines: dict[Any, int] = {}
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            line, column = key_node.start_mark.line + 1, key_node.start_mark.column + 1
            if key in first_lines:
                duplicates.append(DuplicateKey(path, key, line, column, first_lines[key]))
            first_lines.setdefault(key, line)
            marks.keys[(*path, key)] = (line, column)
            _index(value_node, (*path, key), marks, duplicates)
    elif isinstance(node, yaml.SequenceNode):
        for position, item in enumerate(node.value):
            _index(item, (*path, position), marks, duplicates)


def where(loc: Sequence[Any]) -> str:
    """`tools[1].options.backend` from ("tools", 1, "options", "backend")."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text
