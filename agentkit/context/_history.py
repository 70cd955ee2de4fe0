"""Conversation history: split into droppable units that keep tool calls with their results, and summarised.

A unit is one exchange: a user message and everything up to the next one, or a run of messages with no user
message. A tool result always follows its call inside a unit, so dropping whole units never leaves a result
without its call nor a call without its result.

The default summary is extractive (no model call): the first sentence of each user and assistant message,
and the names of the tools called, most recent kept first when it must be cut. Untrusted tool output never
goes into it. A custom `Summarizer` (e.g. an LLM call) replaces it; its result is cached per dropped span so it
runs once per span and stays byte-identical across steps.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence

from .._messages import AssistantMessage, Message, SystemMessage, ToolResultMessage, UserMessage

Summarizer = Callable[[Sequence[Message]], str]
"""Turns dropped history into a short text. It must be deterministic for the prompt prefix to stay stable."""

SENTENCE_CHARS = 160

_SENTENCE = re.compile(r"(.+?[.!?…])(\s|$)", re.DOTALL)


def split_units(messages: Sequence[Message]) -> list[list[Message]]:
    """Consecutive units; a new one starts at a user message only when every earlier call has its result."""
    units: list[list[Message]] = []
    open_calls: set[str] = set()
    for message in messages:
        if not units or (isinstance(message, UserMessage) and not open_calls):
            units.append([message])
        else:
            units[-1].append(message)
        if isinstance(message, AssistantMessage):
            open_calls |= {c.id for c in message.tool_calls}
        elif isinstance(message, ToolResultMessage):
            open_calls.discard(message.tool_call_id)
    return units


def first_sentence(text: str, limit: int = SENTENCE_CHARS) -> str:
    flat = " ".join(text.split())
    match = _SENTENCE.match(flat)
    sentence = match.group(1) if match else flat
    return sentence if len(sentence) <= limit else sentence[: limit - 1].rstrip() + "…"


def extractive_lines(messages: Sequence[Message]) -> list[str]:
    """One line per user/assistant message of trusted origin; tool calls by name with short arguments."""
    lines: list[str] = []
    for message in messages:
        if message.provenance != "trusted":
            continue
        if isinstance(message, UserMessage) and message.content.strip():
            lines.append(f"- user: {first_sentence(message.content)}")
        elif isinstance(message, AssistantMessage):
            if message.content.strip():
                lines.append(f"- assistant: {first_sentence(message.content)}")
            for call in message.tool_calls:
                arguments = json.dumps(call.arguments, ensure_ascii=False)
                if len(arguments) > 60:
                    arguments = arguments[:59] + "…"
                lines.append(f"- assistant called {call.name}({arguments})")
        elif isinstance(message, SystemMessage) and message.content.strip():
            lines.append(f"- note: {first_sentence(message.content)}")
    return lines


SUMMARY_HEADER = "Summary of the earlier conversation (older messages were left out to fit the context window):"


def render_summary(body: str) -> str:
    return f"{SUMMARY_HEADER}\n{body}"


def trim_text(text: str, keep_chars: int) -> str:
    """Head of `text` (cut at a line end when possible) and a marker saying how much was left out."""
    if len(text) <= keep_chars:
        return text
    head = text[:keep_chars]
    cut = head.rfind("\n")
    if cut > keep_chars // 2:
        head = head[:cut]
    omitted = len(text) - len(head)
    return f"{head}\n[... {omitted} more characters trimmed to fit the context window; call the tool again for them]"
