"""The OpenAI chat-completions format, server side: validate a request, turn it into a ModelRequest, and
write chunks and responses the way OpenAI clients expect them."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from .._decoding import DecodingSettings
from .._errors import UserError
from .._messages import AssistantMessage, Message, SystemMessage, ToolCall, ToolResultMessage, UserMessage
from .._tools import Tool
from ..models._base import FinishChunk, ModelRequest, TextChunk, ToolCallChunk, ToolChoice


class WireFunction(BaseModel):
    name: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_\-]{0,63}$")
    description: str = Field(default="", max_length=4096)
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object", "properties": {}})


class WireTool(BaseModel):
    type: Literal["function"] = "function"
    function: WireFunction


class WireCallFunction(BaseModel):
    name: str
    arguments: str | dict[str, Any] = ""


class WireCall(BaseModel):
    id: str
    type: Literal["function"] = "function"
    function: WireCallFunction


class WireMessage(BaseModel):
    model_config = ConfigDict(extra="ignore")

    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[dict[str, Any]] | None = None
    tool_calls: list[WireCall] | None = None
    tool_call_id: str | None = None
    name: str | None = None

    def text(self) -> str:
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        parts = []
        for part in self.content:
            if part.get("type") != "text" or not isinstance(part.get("text"), str):
                raise UserError("only text content parts are supported (type 'text')")
            parts.append(part["text"])
        return "".join(parts)


class ChatRequest(BaseModel):
    """A chat-completions request. Unknown OpenAI fields (user, logprobs, ...) are accepted and ignored."""

    model_config = ConfigDict(extra="ignore")

    model: str = Field(min_length=1, max_length=200)
    messages: list[WireMessage] = Field(min_length=1, max_length=2000)
    stream: bool = False
    tools: list[WireTool] | None = Field(default=None, max_length=128)
    tool_choice: str | dict[str, Any] | None = None
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    top_p: float | None = Field(default=None, gt=0.0, le=1.0)
    top_k: int | None = Field(default=None, ge=0)
    min_p: float | None = Field(default=None, ge=0.0, le=1.0)
    repeat_penalty: float | None = Field(default=None, gt=0.0)
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    stop: str | list[str] | None = None
    seed: int | None = None
    parallel_tool_calls: bool | None = None
    response_format: dict[str, Any] | None = None
    n: int = Field(default=1, ge=1, le=1, description="only one choice is generated")

    @field_validator("stop")
    @classmethod
    def _few_stops(cls, value: str | list[str] | None) -> str | list[str] | None:
        if isinstance(value, list) and len(value) > 16:
            raise ValueError("at most 16 stop sequences")
        return value

    def to_model_request(self, *, max_tokens_cap: int | None = None) -> ModelRequest:
        tools = [_client_tool(t.function) for t in self.tools or []]
        names = {t.name for t in tools}
        choice: ToolChoice = "auto"
        if isinstance(self.tool_choice, str):
            if self.tool_choice not in ("auto", "required", "none"):
                raise UserError("tool_choice must be auto, required, none or {'type': 'function', 'function': {'name': ...}}")
            choice = self.tool_choice
        elif isinstance(self.tool_choice, dict):
            function = self.tool_choice.get("function")
            name = function.get("name") if isinstance(function, dict) else None
            if not isinstance(name, str):
                raise UserError("tool_choice must be auto, required, none or {'type': 'function', 'function': {'name': ...}}")
            if name not in names:
                raise UserError(f"tool_choice names {name!r}, which is not among the tools sent")
            choice = name
        schema = _response_schema(self.response_format)
        max_tokens = self.max_completion_tokens or self.max_tokens
        if max_tokens_cap is not None:
            max_tokens = min(max_tokens or max_tokens_cap, max_tokens_cap)
        settings = DecodingSettings(
            temperature=self.temperature, top_p=self.top_p, top_k=self.top_k, min_p=self.min_p,
            repeat_penalty=self.repeat_penalty, max_tokens=max_tokens,
            stop=[self.stop] if isinstance(self.stop, str) else self.stop, seed=self.seed,
            parallel_tool_calls=self.parallel_tool_calls, response_schema=schema,
        )
        return ModelRequest(messages=self.agent_messages(), tools=tools, tool_choice=choice, settings=settings)

    def agent_messages(self) -> list[Message]:
        out: list[Message] = []
        names: dict[str, str] = {}
        for m in self.messages:
            if m.role in ("system", "developer"):
                out.append(SystemMessage(content=m.text()))
            elif m.role == "user":
                out.append(UserMessage(content=m.text()))
            elif m.role == "assistant":
                calls = []
                for c in m.tool_calls or []:
                    names[c.id] = c.function.name
                    calls.append(ToolCall(id=c.id, name=c.function.name, arguments=_arguments(c.function.arguments)))
                out.append(AssistantMessage(content=m.text(), tool_calls=calls))
            else:
                if not m.tool_call_id:
                    raise UserError("a message with role 'tool' needs tool_call_id")
                out.append(ToolResultMessage(tool_call_id=m.tool_call_id, name=m.name or names.get(m.tool_call_id, "tool"),
                                             content=m.text()))
        return out


def _response_schema(response_format: dict[str, Any] | None) -> dict[str, Any] | None:
    """The JSON schema a response_format asks for (None: free text). A malformed one is refused, not ignored."""
    if not response_format or response_format.get("type") == "text":
        return None
    kind = response_format.get("type")
    if kind == "json_schema":
        inner = response_format.get("json_schema")
        if not isinstance(inner, dict):
            raise UserError("response_format of type json_schema needs json_schema: {'name': ..., 'schema': {...}}")
        schema = inner.get("schema")
    elif kind == "json_object":
        schema = response_format.get("schema") or {"type": "object"}
    else:
        raise UserError(f"response_format type must be text, json_object or json_schema; got {kind!r}")
    if schema is not None and not isinstance(schema, dict):
        raise UserError("response_format schema must be a JSON schema object")
    return schema


def _arguments(raw: str | dict[str, Any]) -> dict[str, Any]:
    if isinstance(raw, dict):
        return raw
    try:
        value = json.loads(raw) if raw.strip() else {}
    except json.JSONDecodeError:
        raise UserError("an assistant tool call has arguments that are not a JSON object") from None
    if not isinstance(value, dict):
        raise UserError("an assistant tool call has arguments that are not a JSON object")
    return value


def _client_side() -> None:
    """Executed by the client, never here."""


def _client_tool(function: WireFunction) -> Tool:
    """A tool the client declared: only its schema is used (the client executes its calls)."""
    definition = Tool(_client_side, name=function.name, description=function.description or function.name)
    parameters = dict(function.parameters)
    parameters.setdefault("type", "object")
    parameters.setdefault("properties", {})
    definition.parameters_schema = parameters
    return definition


class ChunkWriter:
    """Chat-completion chunks for one streamed answer, and the whole response for a non-streamed one."""

    def __init__(self, model: str) -> None:
        self.id = f"chatcmpl-{uuid.uuid4().hex[:24]}"
        self.model = model
        self.created = int(time.time())
        self.text: list[str] = []
        self.calls: dict[int, dict[str, Any]] = {}

    def _chunk(self, delta: dict[str, Any], finish: str | None = None, **extra: Any) -> dict[str, Any]:
        return {"id": self.id, "object": "chat.completion.chunk", "created": self.created, "model": self.model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra}

    def first(self) -> dict[str, Any]:
        return self._chunk({"role": "assistant", "content": ""})

    def text_chunk(self, chunk: TextChunk) -> dict[str, Any]:
        self.text.append(chunk.text)
        return self._chunk({"content": chunk.text})

    def call_chunk(self, chunk: ToolCallChunk) -> dict[str, Any]:
        slot = self.calls.setdefault(chunk.index, {"id": None, "name": None, "arguments": ""})
        piece: dict[str, Any] = {"index": chunk.index}
        if chunk.id or (slot["id"] is None and chunk.name):
            slot["id"] = chunk.id or f"call_{uuid.uuid4().hex[:12]}"
            piece["id"], piece["type"] = slot["id"], "function"
        function: dict[str, Any] = {}
        if chunk.name:
            slot["name"] = function["name"] = chunk.name
        function["arguments"] = chunk.arguments
        slot["arguments"] += chunk.arguments
        piece["function"] = function
        return self._chunk({"tool_calls": [piece]})

    def finish_chunk(self, finish: FinishChunk) -> dict[str, Any]:
        return self._chunk({}, _finish_reason(finish))

    @staticmethod
    def usage(finish: FinishChunk) -> dict[str, Any]:
        u = finish.usage
        return {"prompt_tokens": u.prompt_tokens, "completion_tokens": u.completion_tokens,
                "total_tokens": u.total_tokens, "prompt_tokens_details": {"cached_tokens": u.cached_prompt_tokens}}

    def usage_chunk(self, finish: FinishChunk) -> dict[str, Any]:
        return {"id": self.id, "object": "chat.completion.chunk", "created": self.created, "model": self.model,
                "choices": [], "usage": self.usage(finish)}

    def response(self, finish: FinishChunk) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": "".join(self.text) or None}
        if self.calls:
            message["tool_calls"] = [
                {"id": c["id"], "type": "function", "function": {"name": c["name"], "arguments": c["arguments"]}}
                for _, c in sorted(self.calls.items())
            ]
        return {"id": self.id, "object": "chat.completion", "created": self.created, "model": self.model,
                "choices": [{"index": 0, "message": message, "finish_reason": _finish_reason(finish)}],
                "usage": self.usage(finish)}


def _finish_reason(finish: FinishChunk) -> str:
    return "stop" if finish.reason == "cancelled" else finish.reason


def error_body(message: str, *, kind: str, code: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "code": code}}
