"""Typed tools: a Python function becomes a JSON-schema'd, validated, effect-labelled tool.

The schema comes from the type hints (pydantic) and the parameter descriptions from the docstring, so the
function stays the single source of truth. Arguments are validated before the function is ever entered.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, get_type_hints, overload

from pydantic import BaseModel, ConfigDict, ValidationError, create_model
from pydantic.fields import FieldInfo
from pydantic_core import PydanticSerializationError, to_jsonable_python

from ._errors import UserError
from ._messages import Message, Provenance

Effect = Literal["read", "write", "send", "destructive"]
EFFECTS: tuple[Effect, ...] = ("read", "write", "send", "destructive")

PreviewFn = Callable[[dict[str, Any]], "str | Awaitable[str]"]


@dataclass
class RunContext:
    """What a tool may know about the run calling it. Declare a first parameter of this type to receive it."""

    run_id: str
    step: int
    deps: Any = None
    messages: list[Message] = field(default_factory=list)


_SECTION = re.compile(r"^\s*(Args|Arguments|Parameters|Params|Keyword Args)\s*:?\s*$", re.IGNORECASE)
_OTHER_SECTION = re.compile(
    r"^\s*(Returns?|Raises?|Yields?|Examples?|Notes?|See Also|Attributes|Warnings?)\s*:?\s*$", re.IGNORECASE
)
_PARAM_LINE = re.compile(r"^(\*{0,2}\w+)\s*(?:\([^)]*\))?\s*:\s*(.*)$")
_SPHINX_PARAM = re.compile(r"^\s*:param\s+(?:[^:]*\s)?(\w+)\s*:\s*(.*)$")
_UNDERLINE = re.compile(r"^\s*-{3,}\s*$")


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def parse_docstring(doc: str | None) -> tuple[str, dict[str, str]]:
    """Split a docstring into (description, {param: description}); Google, NumPy and Sphinx styles."""
    if not doc:
        return "", {}
    raw = inspect.cleandoc(doc).splitlines()
    numpy_style = any(_UNDERLINE.match(line) for line in raw)  # "a : float" heads carry a type, not a description
    lines = [line for line in raw if not _UNDERLINE.match(line)]
    summary: list[str] = []
    params: dict[str, str] = {}
    section = "summary"
    param_indent: int | None = None
    current: str | None = None
    for line in lines:
        sphinx = _SPHINX_PARAM.match(line)
        if sphinx:
            section, current = "params", sphinx.group(1)
            params[current] = sphinx.group(2).strip()
            param_indent = None
            continue
        if _SECTION.match(line):
            section, current, param_indent = "params", None, None
            continue
        if _OTHER_SECTION.match(line) or line.lstrip().startswith((":return", ":raise", ":rtype", ":type", ":yield")):
            section, current = "other", None
            continue
        if section == "summary":
            summary.append(line)
        elif section == "params" and line.strip():
            match = _PARAM_LINE.match(line.strip())
            if match and (param_indent is None or _indent(line) <= param_indent):
                param_indent = _indent(line)
                current = match.group(1).lstrip("*")
                params[current] = "" if numpy_style else match.group(2).strip()
            elif current is not None:
                params[current] = (params[current] + " " + line.strip()).strip()
    return "\n".join(summary).strip(), params


def _strip_titles(schema: Any) -> Any:
    """Pydantic titles repeat the names; dropping them saves prompt tokens without losing meaning."""
    if isinstance(schema, dict):
        return {k: _strip_titles(v) for k, v in schema.items() if k != "title" or not isinstance(v, str)}
    if isinstance(schema, list):
        return [_strip_titles(v) for v in schema]
    return schema


@dataclass(frozen=True)
class ToolReturn:
    """A tool's result plus the values it vouches for: values the account owner chose, kept in structured
    fields no content author can write (the people on the ACL of a file you own, the attendees of an event
    you organise). The policy layer sees them as `vouched` - below your own request, above content - so a
    pack may let an agent write to people you already work with, while an address found only in a page,
    a mail or a file body still needs a person. Everything else about the result stays untrusted."""

    value: Any
    vouched: Sequence[str] = ()

    def __post_init__(self) -> None:
        if isinstance(self.vouched, str | bytes) or not isinstance(self.vouched, Sequence):
            raise UserError(f"ToolReturn(vouched=...) takes a list of values, e.g. ['ana@example.org']; "
                            f"got {type(self.vouched).__name__}")


def _jsonable(value: Any) -> Any:
    """json.dumps fallback: models and dataclasses nested in a result stay JSON; anything else becomes text."""
    try:
        return to_jsonable_python(value)
    except (PydanticSerializationError, ValueError, TypeError):
        return str(value)


def render_result(value: Any) -> str:
    """Tool return value -> the text the model reads."""
    if isinstance(value, ToolReturn):
        value = value.value
    if isinstance(value, str):
        return value
    if isinstance(value, BaseModel):
        return value.model_dump_json()
    try:
        return json.dumps(value, ensure_ascii=False, default=_jsonable)
    except (TypeError, ValueError):
        return repr(value)


class Tool:
    """A callable the model may use. Build one with `@tool`; call `execute` only after the policy gate."""

    def __init__(
        self,
        function: Callable[..., Any],
        *,
        name: str | None = None,
        description: str | None = None,
        effect: Effect = "destructive",
        preview: PreviewFn | None = None,
        output_provenance: Provenance = "untrusted",
    ) -> None:
        if effect not in EFFECTS:
            raise UserError(f"tool effect must be one of {', '.join(EFFECTS)}; got {effect!r}")
        if not inspect.isfunction(function) and not inspect.ismethod(function):
            raise UserError(f"@tool takes a function or a bound method, not {type(function).__name__}; "
                            f"wrap it in a def with typed parameters")
        self.function: Callable[..., Any] = function
        self.name = name or function.__name__
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_\-]{0,63}", self.name):
            raise UserError(f"tool name {self.name!r} must be 1-64 letters, digits, '_' or '-'")
        doc_summary, param_docs = parse_docstring(function.__doc__)
        self.description = (description or doc_summary or self.name).strip()
        self.effect: Effect = effect
        self.output_provenance: Provenance = output_provenance
        self._preview = preview
        self.takes_context, self.arguments_model = self._build_model(function, param_docs)
        self.parameters_schema: dict[str, Any] = _strip_titles(self.arguments_model.model_json_schema())
        self.parameters_schema.setdefault("properties", {})
        self._is_async = inspect.iscoroutinefunction(function)
        self._fields = tuple(self.arguments_model.model_fields)  # pydantic's class property costs ~10 us a call

    def _build_model(
        self, function: Callable[..., Any], param_docs: dict[str, str]
    ) -> tuple[bool, type[BaseModel]]:
        signature = inspect.signature(function)
        try:
            hints = get_type_hints(function, include_extras=True)
        except NameError as exc:
            raise UserError(f"tool {self.name!r}: cannot resolve a type hint ({exc}); import it at module level") from exc
        fields: dict[str, Any] = {}
        takes_context = False
        for index, (pname, param) in enumerate(signature.parameters.items()):
            annotation = hints.get(pname, Any)
            if annotation is RunContext:
                if index > 0:
                    raise UserError(f"tool {self.name!r}: RunContext must be the first parameter, not {pname!r}")
                takes_context = True
                continue
            if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
                raise UserError(f"tool {self.name!r}: *args/**kwargs cannot be described to a model; name each parameter")
            if pname not in hints:
                raise UserError(f"tool {self.name!r}: parameter {pname!r} needs a type hint")
            default = param.default if param.default is not param.empty else ...
            if isinstance(default, FieldInfo):
                info = default
            else:
                info = FieldInfo.from_annotated_attribute(annotation, default)
            if info.description is None and pname in param_docs:
                info.description = param_docs[pname]
            fields[pname] = (annotation, info)
        model = create_model(
            f"{self.name}_arguments",
            __config__=ConfigDict(extra="forbid"),
            **fields,
        )
        return takes_context, model

    def validate(self, arguments: dict[str, Any]) -> BaseModel:
        """Validate raw arguments; raises pydantic's ValidationError with every problem listed."""
        return self.arguments_model.model_validate(arguments)

    async def execute(self, arguments: BaseModel, ctx: RunContext) -> Any:
        kwargs = {name: getattr(arguments, name) for name in self._fields}
        args: tuple[Any, ...] = (ctx,) if self.takes_context else ()
        if self._is_async:
            return await self.function(*args, **kwargs)
        result = await asyncio.to_thread(self.function, *args, **kwargs)
        if inspect.isawaitable(result):  # a plain decorator around an async function hides it from the check above
            result = await result
        return result

    @property
    def has_preview(self) -> bool:
        return self._preview is not None

    async def render_preview(self, arguments: dict[str, Any]) -> str | None:
        """Dry-run description of what the call would do (a diff, a draft), or None if the tool has none."""
        if self._preview is None:
            return None
        result = self._preview(arguments)
        if inspect.isawaitable(result):
            result = await result
        return str(result)

    def preview(self, function: PreviewFn) -> PreviewFn:
        """Decorator: register the dry-run preview used for confirmation."""
        self._preview = function
        return function

    def definition(self) -> dict[str, Any]:
        """OpenAI-style function definition."""
        return {
            "type": "function",
            "function": {"name": self.name, "description": self.description, "parameters": self.parameters_schema},
        }

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.function(*args, **kwargs)

    def __repr__(self) -> str:
        return f"Tool({self.name!r}, effect={self.effect!r})"


@overload
def tool(function: Callable[..., Any], /) -> Tool: ...
@overload
def tool(
    *,
    name: str | None = None,
    description: str | None = None,
    effect: Effect = "destructive",
    preview: PreviewFn | None = None,
    output_provenance: Provenance = "untrusted",
) -> Callable[[Callable[..., Any]], Tool]: ...
def tool(
    function: Callable[..., Any] | None = None,
    /,
    *,
    name: str | None = None,
    description: str | None = None,
    effect: Effect = "destructive",
    preview: PreviewFn | None = None,
    output_provenance: Provenance = "untrusted",
) -> Tool | Callable[[Callable[..., Any]], Tool]:
    """Turn a typed function into a `Tool`.

    `effect` defaults to the strictest, "destructive": a tool is trusted with less only when it says so.
    """

    def wrap(fn: Callable[..., Any]) -> Tool:
        return Tool(
            fn, name=name, description=description, effect=effect, preview=preview,
            output_provenance=output_provenance,
        )

    return wrap(function) if function is not None else wrap


def as_tools(items: Sequence[Tool | Callable[..., Any]]) -> dict[str, Tool]:
    """Index tools by name; plain functions become tools with the strictest effect."""
    tools: dict[str, Tool] = {}
    for item in items:
        t = item if isinstance(item, Tool) else Tool(item)
        if t.name in tools:
            raise UserError(f"two tools are named {t.name!r}; pass name=... to @tool to tell them apart")
        tools[t.name] = t
    return tools


def format_validation_error(tool_name: str, error: ValidationError) -> str:
    """A correction the model can act on: which argument, what was wrong, what was given."""
    lines = [f"Invalid arguments for tool {tool_name!r}:"]
    for item in error.errors(include_url=False):
        loc = ".".join(str(p) for p in item["loc"]) or "(arguments)"
        given = item.get("input")
        shown = json.dumps(given, default=str)[:80] if given is not None else "missing"
        lines.append(f"- {loc}: {item['msg']} (got {shown})")
    lines.append("Call the tool again with corrected arguments.")
    return "\n".join(lines)
