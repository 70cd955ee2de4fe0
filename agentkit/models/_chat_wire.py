"""The chat-completions wire format: agentkit messages out, streamed chunks back in.

Pure data conversion, no I/O: `convert_messages` builds the `messages` array, `ChunkAssembler` turns each
decoded chunk into ModelChunks and keeps what the final FinishChunk needs. Servers differ in small ways that
are absorbed here: llama_cpp.server repeats the call id and name in every piece, Ollama says "stop" after
tool calls, some servers send whole calls in one piece or parsed (not string) arguments, the legacy
`function_call` delta, and usage that is missing altogether.
"""

from __future__ import annotations

import contextlib
import json
import math
from collections.abc import Sequence
from typing import Any

from .._errors import ModelError
from .._messages import AssistantMessage, Message, SystemMessage, ToolResultMessage, UserMessage
from ._base import FinishChunk, FinishReason, ModelChunk, TextChunk, ToolCallChunk, Usage
from ._toolcall import DATA_NOTICE, render_tool_result

MAX_DETAIL_CHARS = 500
_FINISH: dict[str, FinishReason] = {
    "stop": "stop", "eos": "stop", "end_turn": "stop", "stop_sequence": "stop",
    "tool_calls": "tool_calls", "function_call": "tool_calls", "tool_use": "tool_calls",
    "length": "length", "max_tokens": "length",
}


class ChunkAssembler:
    """Turns chat-completion chunks into ModelChunks and remembers what the finish needs."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.names: dict[int, str] = {}
        self.ids: dict[int, str] = {}
        self.slots: dict[int, int] = {}  # the server's call index -> ours (they differ only when it reuses one)
        self.finish_reason: str | None = None
        self.usage: Usage | None = None
        self.deltas = 0
        self.documents = 0
        self.first_delta: float | None = None

    def handle(self, document: Any, now: float) -> list[ModelChunk]:
        self.documents += 1
        if not isinstance(document, dict):
            raise ModelError(f"the stream from {self.url} sent {shorten(json.dumps(document))} where a chat-completion "
                             "chunk (a JSON object) was expected; is base_url an OpenAI-compatible /v1 endpoint?")
        if document.get("error"):
            raise ModelError(f"the model server at {self.url} reported an error mid-answer: "
                             f"{server_message(json.dumps(document))}")
        if isinstance(document.get("usage"), dict):
            self.usage = _usage(document["usage"])
        choices = document.get("choices") or []
        if not isinstance(choices, list):
            raise ModelError(f"the stream from {self.url} sent 'choices' that is not a list: {shorten(json.dumps(choices))}")
        out: list[ModelChunk] = []
        for choice in choices:
            if not isinstance(choice, dict) or choice.get("index", 0) != 0:
                continue  # only the first choice is used (agentkit never asks for n > 1)
            delta = choice.get("delta")
            if isinstance(delta, dict):
                out += self._delta(delta)
            finish = choice.get("finish_reason")
            if isinstance(finish, str) and finish:
                self.finish_reason = finish
        if out:
            self.deltas += 1
            self.first_delta = self.first_delta or now
        return out

    def _delta(self, delta: dict[str, Any]) -> list[ModelChunk]:
        out: list[ModelChunk] = []
        content = delta.get("content")
        if isinstance(content, str) and content:
            out.append(TextChunk(content))
        calls = delta.get("tool_calls")
        if isinstance(calls, list) and calls:
            for position, call in enumerate(calls):
                if isinstance(call, dict):
                    index = call.get("index")
                    out += self._call_piece(index if isinstance(index, int) else position, call.get("id"),
                                            call.get("function"))
        elif isinstance(delta.get("function_call"), dict):  # the legacy single-call form
            out += self._call_piece(0, None, delta["function_call"])
        return out

    def _call_piece(self, index: int, call_id: Any, function: Any) -> list[ModelChunk]:
        function = function if isinstance(function, dict) else {}
        name, arguments = function.get("name"), function.get("arguments")
        slot = self.slots.setdefault(index, index)
        if isinstance(call_id, str) and call_id and isinstance(name, str) and name and self.ids.get(slot, call_id) != call_id:
            # A new call (new id and a name) at a used index: Ollama sends each of several calls whole, every one
            # at index 0 (ollama/ollama#15457).
            slot = self.slots[index] = max(self.ids.keys() | self.names.keys() | set(self.slots.values())) + 1
        index = slot
        # Some servers (llama_cpp.server) repeat the id and name in every piece: pass each on only once.
        new_id = call_id if isinstance(call_id, str) and call_id and index not in self.ids else None
        new_name = name if isinstance(name, str) and name and index not in self.names else None
        if new_id:
            self.ids[index] = new_id
        if new_name:
            self.names[index] = new_name
        if isinstance(arguments, dict):
            arguments = json.dumps(arguments, ensure_ascii=False)  # a few servers send parsed arguments
        piece = arguments if isinstance(arguments, str) else ""
        if new_id is None and new_name is None and not piece:
            return []
        return [ToolCallChunk(index=index, id=new_id, name=new_name, arguments=piece)]

    def finish(self, body: dict[str, Any], *, started: float, now: float) -> FinishChunk:
        if self.finish_reason is None:
            raise ModelError(
                f"the stream from {self.url} ended ([DONE]) without a finish_reason: the server aborted the answer "
                "(llama_cpp.server does so when another request arrives unless started with "
                "--interrupt_requests False)"
            )
        reason = _FINISH.get(self.finish_reason, "stop")  # e.g. content_filter: the answer simply stops
        if self.names and reason == "stop":
            reason = "tool_calls"  # some servers (Ollama) say "stop" after calls
        end = now
        first = self.first_delta or end
        usage = self.usage
        if usage is None:
            # The server sent no usage (llama_cpp.server ignores stream_options): approximate it. Servers
            # built on llama.cpp send about one token per delta; prompts average about 4 characters a token.
            prompt_chars = len(json.dumps(body.get("messages", []))) + len(json.dumps(body.get("tools", [])))
            usage = Usage(prompt_tokens=math.ceil(prompt_chars / 4), completion_tokens=self.deltas)
        return FinishChunk(reason=reason, usage=usage, queue_wait=0.0, prefill=first - started, decode=end - first)


def convert_messages(messages: Sequence[Message], *, has_tools: bool) -> list[dict[str, Any]]:
    """agentkit messages -> chat-completions messages. Tool results keep their trust marking as text, and the
    system prompt explains it whenever tools are in play, so a remote model also reads them as data."""
    out: list[dict[str, Any]] = []
    for message in messages:
        if isinstance(message, SystemMessage | UserMessage):
            out.append({"role": message.role, "content": message.content})
        elif isinstance(message, AssistantMessage):
            entry: dict[str, Any] = {"role": "assistant", "content": message.content}
            if message.tool_calls:
                entry["tool_calls"] = [
                    {"id": c.id, "type": "function",
                     "function": {"name": c.name, "arguments": json.dumps(c.arguments, ensure_ascii=False)}}
                    for c in message.tool_calls
                ]
            out.append(entry)
        elif isinstance(message, ToolResultMessage):
            out.append({
                "role": "tool", "tool_call_id": message.tool_call_id,
                "content": render_tool_result(message.name, message.content,
                                              untrusted=message.provenance == "untrusted", is_error=message.is_error),
            })
    if has_tools or any(m["role"] == "tool" for m in out):
        if out and out[0]["role"] == "system":
            out[0] = {**out[0], "content": f"{out[0]['content']}\n\n{DATA_NOTICE}"}
        else:
            out.insert(0, {"role": "system", "content": DATA_NOTICE})
    return out


def _usage(raw: dict[str, Any]) -> Usage:
    def number(value: Any) -> int:
        return value if isinstance(value, int) and value >= 0 else 0

    details = raw.get("prompt_tokens_details")
    cached = number(details.get("cached_tokens")) if isinstance(details, dict) else 0
    return Usage(prompt_tokens=number(raw.get("prompt_tokens")), completion_tokens=number(raw.get("completion_tokens")),
                 cached_prompt_tokens=cached)


def parse_json_data(data: str, url: str) -> Any:
    try:
        return json.loads(data)
    except json.JSONDecodeError as exc:
        raise ModelError(f"the stream from {url} sent a data line that is not JSON ({exc.msg}): {shorten(data)}; "
                         "is base_url an OpenAI-compatible /v1 endpoint?") from None


def server_message(text: str) -> str:
    """The human part of an error body: OpenAI's error.message, FastAPI's detail, or the raw text; truncated."""
    message: Any = text.strip()
    with contextlib.suppress(json.JSONDecodeError):
        document = json.loads(text)
        if isinstance(document, dict):
            error = document.get("error")
            if isinstance(error, dict):
                message = error.get("message") or error
            elif error:
                message = error
            else:
                message = document.get("detail") or document.get("message") or document
    if not isinstance(message, str):
        message = json.dumps(message, ensure_ascii=False)
    return shorten(message, MAX_DETAIL_CHARS)


def shorten(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "..."

