"""YAML documents that remember where each value was written, so every error can say file:line:column.

Positions come from the shared line-tracking loader (`agentkit._yaml`), and pydantic error locations are
mapped back through them. `${env:NAME}` in a string is replaced by the environment variable's value at load
time: secrets live in the environment, never in the file.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_args, get_origin

from pydantic import BaseModel, ValidationError

from .._errors import UserError
from .._yaml import Marks, Problem, YamlSyntaxError, compose, construct, index_positions, where

Loc = tuple[str | int, ...]

_ENV = re.compile(r"\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}")
_SECRET_WORDS = re.compile(r"(api_?key|password|passwd|secret|token|credential)s?$", re.IGNORECASE)


class SpecError(UserError):
    """An agent file (or a tool manifest) that cannot be used; every problem says file:line:col and the fix."""

    def __init__(self, problems: Sequence[Problem], *, kind: str = "agent file") -> None:
        self.problems = list(problems)
        super().__init__(f"invalid {kind}:\n" + "\n".join(f"  {p}" for p in self.problems))


@dataclass
class Document:
    """Parsed YAML data plus the position of every key and value in the source."""

    source: str
    data: Any
    marks: Marks = field(default_factory=Marks)

    @property
    def base_dir(self) -> Path:
        """Relative paths in the file are relative to the file's folder."""
        return Path(self.source).resolve().parent if self.source not in ("<string>", "-") else Path.cwd()

    def problem(self, loc: Sequence[str | int], message: str, *, key: bool = False) -> Problem:
        line, column = self.marks.locate(loc, key=key)
        return Problem(self.source, line, column, where(loc), message)


def parse_document(text: str, source: str, *, kind: str = "agent file") -> Document:
    """Compose `text`, index its marks, substitute `${env:NAME}`; raise SpecError on any problem."""
    try:
        node = compose(text, source)
        data = construct(node, source) if node is not None else None
    except YamlSyntaxError as exc:
        raise SpecError([exc.problem], kind=kind) from None
    if node is None:
        raise SpecError([Problem(source, 1, 1, "", "the file is empty; start with `name:` and `model:`")], kind=kind)
    marks, duplicates = index_positions(node)
    doc = Document(source, None, marks)
    problems = [Problem(source, d.line, d.column, where(d.mapping),
                        f"key {d.key!r} appears twice (first on line {d.first_line}); keep one") for d in duplicates]
    doc.data = data
    if not isinstance(doc.data, dict):
        problems.append(Problem(source, 1, 1, "", f"an {kind} is a mapping of keys (name:, model:, tools: ...), "
                                                  "not a list or a single value"))
    else:
        doc.data = _interpolate(doc.data, (), doc, problems)
    if problems:
        raise SpecError(problems, kind=kind)
    return doc


def read_document(path: Path, *, kind: str = "agent file") -> Document:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError(f"no {kind} at {path}") from None
    except IsADirectoryError:
        raise UserError(f"{path} is a folder; give the path of a .yaml file") from None
    except UnicodeDecodeError as exc:
        raise SpecError([Problem(str(path), 1, exc.start + 1, "", "the file is not UTF-8 text")], kind=kind) from None
    except OSError as exc:
        raise UserError(f"cannot read {path}: {exc.strerror or exc}") from None
    return parse_document(text, str(path), kind=kind)


def _interpolate(value: Any, path: Loc, doc: Document, problems: list[Problem]) -> Any:
    if isinstance(value, dict):
        return {k: _interpolate(v, (*path, str(k)), doc, problems) for k, v in value.items()}
    if isinstance(value, list):
        return [_interpolate(v, (*path, i), doc, problems) for i, v in enumerate(value)]
    if isinstance(value, str) and "${env:" in value:
        def substitute(match: re.Match[str]) -> str:
            name = match.group(1)
            found = os.environ.get(name)
            if found is None:
                problems.append(doc.problem(path, f"environment variable {name} is not set; export it before "
                                                  "running (secrets stay in the environment, not in the file)"))
                return ""
            return found

        return _ENV.sub(substitute, value)
    return value


# -- pydantic errors -> problems -------------------------------------------------------------------------------
def validation_problems(
    doc: Document, error: ValidationError, model: type[BaseModel], *, prefix: Loc = (),
) -> list[Problem]:
    """Each pydantic error as a Problem at its line, with a 'did you mean' for unknown keys."""
    problems: list[Problem] = []
    seen: set[tuple[Loc, str]] = set()
    for item in error.errors(include_url=False):
        loc = tuple(p for p in item["loc"] if isinstance(p, int | str) and not _is_internal(p))
        full = (*prefix, *loc)
        if item["type"] == "extra_forbidden":
            message = _unknown_key(str(loc[-1]) if loc else "", _fields_at(model, loc[:-1]))
            problem = doc.problem(full, message, key=True)
        else:
            message = _message(item)
            problem = doc.problem(full, message)
        if (full, message) not in seen:
            seen.add((full, message))
            problems.append(problem)
    return sorted(problems, key=lambda p: (p.line, p.column))


def _is_internal(part: str | int) -> bool:
    """pydantic puts validator and union-branch names in `loc`; they are not keys of the file."""
    return isinstance(part, str) and ("[" in part or part in ("function-after", "function-before", "function-plain"))


def _message(item: Any) -> str:
    message = str(item["msg"])
    message = message.removeprefix("Value error, ").removeprefix("Assertion failed, ")
    if item["type"] == "missing":
        return "this key is required; add it"
    if item["type"].startswith("literal_error") or item["type"] == "enum":
        return message.replace("Input should be", "use")
    given = item.get("input")
    if isinstance(given, str | int | float | bool) and item["type"] not in ("value_error",):
        message += f" (got {given!r})"
    return message


def _unknown_key(key: str, fields: list[str]) -> str:
    message = f"unknown key {key!r}"
    if _SECRET_WORDS.search(key):
        env_field = f"{key}_env"
        hint = f"use `{env_field}: VARIABLE`" if env_field in fields else "use `${env:VARIABLE}`"
        return message + f": secrets never go in agent files; {hint} and export the variable"
    close = difflib.get_close_matches(key, fields, n=1, cutoff=0.6)
    if close:
        return message + f"; did you mean {close[0]!r}?"
    return message + (f"; valid keys here: {', '.join(sorted(fields))}" if fields else "; remove it")


def _fields_at(model: type[BaseModel], loc: Loc) -> list[str]:
    """The field names of the model found by following `loc` from `model` (through lists, dicts, unions)."""
    current: list[Any] = [model]
    for part in loc:
        following: list[Any] = []
        for candidate in current:
            for kind in _models_in(candidate):
                if isinstance(part, str) and part in kind.model_fields:
                    following.append(kind.model_fields[part].annotation)
            if isinstance(part, int) or not any(isinstance(part, str) and part in k.model_fields
                                                for k in _models_in(candidate)):
                following.extend(_containers_items(candidate))
        current = following
    names: set[str] = set()
    for candidate in current:
        for kind in _models_in(candidate):
            names.update(kind.model_fields)
    return sorted(names)


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    found: list[type[BaseModel]] = []
    if get_origin(annotation) is not None and get_origin(annotation) not in (list, dict, tuple):
        for arg in get_args(annotation):
            found.extend(_models_in(arg))
    return found


def _containers_items(annotation: Any) -> list[Any]:
    items: list[Any] = []
    origin = get_origin(annotation)
    if origin in (list, tuple):
        items.extend(get_args(annotation)[:1])
    elif origin is dict:
        items.extend(get_args(annotation)[1:2])
    elif origin is not None:
        for arg in get_args(annotation):
            items.extend(_containers_items(arg))
    return items
