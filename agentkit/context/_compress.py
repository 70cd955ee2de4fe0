"""One build's draft and the compression steps applied to it, in the builder's order, each reported.

Costs are memoized per message and per history unit (keyed by object identity, the objects kept alive for
the build), so a compression move re-adds numbers instead of re-rendering the conversation.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from .._errors import RunError
from .._messages import (
    MESSAGES_ADAPTER,
    AssistantMessage,
    Message,
    SystemMessage,
    ToolResultMessage,
    UserMessage,
)
from .._tools import Tool
from ._blocks import STABLE_BLOCKS, BlockName, Costs, mark_untrusted
from ._files import ContextFile, FileView, display_path, focused_view, relevant_view, render_file, shrink_view
from ._history import extractive_lines, render_summary, trim_text
from ._inflation import Inflation, detect_inflation
from ._memory import Memory, relevance, render_memories

if TYPE_CHECKING:
    from ._builder import ContextBuilder

CompressionStep = Literal["memory", "history", "files", "tool_outputs"]
DEFAULT_COMPRESSION: tuple[CompressionStep, ...] = ("memory", "history", "files", "tool_outputs")


class ContextOverflow(RunError):
    """The blocks that are never dropped (system, developer, policy, current request, current turn) do not
    fit the token budget even after every allowed compression."""


@dataclass
class DraftFile:
    spec: ContextFile
    source: str
    view: FileView | None  # None: dropped


@dataclass
class Draft:
    system: list[Message]
    fixed: list[tuple[BlockName, SystemMessage]]
    memories: list[Memory]
    files: list[DraftFile]
    units: list[list[Message]]
    request: Message | None
    turn: list[Message]
    summary: SystemMessage | None = None
    trims: dict[int, str] = field(default_factory=dict)  # id(tool result) -> trimmed content

    def tail(self) -> list[Message]:
        return [m for unit in self.units for m in unit] + ([self.request] if self.request else []) + self.turn


class Compression:
    """One build: the draft, its running cost, and the compression steps applied to it."""

    def __init__(self, builder: ContextBuilder, draft: Draft, costs: Costs, tools: Sequence[Tool],
                 target: int) -> None:
        self.builder = builder
        self.draft = draft
        self.costs = costs
        self.tools = tools
        self.target = target
        self.notes: list[str] = []
        self.applied: list[str] = []
        self._memo: dict[tuple[object, ...], int] = {}
        self._trim_version = 0
        self._lines: dict[int, list[tuple[str, int]]] = {}
        self._alive: list[object] = []  # what the memo keys by id stays referenced, so no id is reused

    # -- cost ----------------------------------------------------------------------------------------------
    def assemble(self) -> list[tuple[BlockName, Message]]:
        d = self.draft
        out: list[tuple[BlockName, Message]] = []
        for message in d.system:
            out.append(("system", _marked(message)))
        out.extend(d.fixed)
        if d.memories:
            out.append(("memory", SystemMessage(content=render_memories(d.memories))))
        for item in d.files:
            if item.view is not None:
                out.append(("files", SystemMessage(content=render_file(item.spec.path, item.view),
                                                   provenance="untrusted")))
        if d.summary is not None:
            out.append(("summary", d.summary))
        for unit in d.units:
            out.extend((_block_of(m, "history"), self._trimmed(m)) for m in unit)
        if d.request is not None:
            out.append(("request", _marked(d.request)))
        out.extend((_block_of(m, "turn"), self._trimmed(m)) for m in d.turn)
        return out

    def _trimmed(self, message: Message) -> Message:
        content = self.draft.trims.get(id(message))
        if content is not None and isinstance(message, ToolResultMessage):
            return message.model_copy(update={"content": content})
        return _marked(message)

    def block_tokens(self, out: list[tuple[BlockName, Message]]) -> dict[BlockName, int]:
        tokens: dict[BlockName, int] = {"template": self.costs.base}
        first_is_system = bool(out) and isinstance(out[0][1], SystemMessage)
        tokens["tools"] = self.costs.tools(self.tools, has_system=first_is_system)
        for position, (block, message) in enumerate(out):
            content, template = self.costs.message(message, merged_system=first_is_system and position > 0)
            tokens[block] = tokens.get(block, 0) + content
            tokens["template"] += template
        return tokens

    def total(self) -> int:
        """The estimate of `block_tokens(assemble())`, from memoized per-message and per-unit costs (a build
        calls it after every compression move, so it must not re-render the conversation)."""
        d = self.draft
        first = next(iter((*d.system, *(m for _, m in d.fixed))), None)
        has_memory_or_files = bool(d.memories) or any(f.view is not None for f in d.files)
        if first is None and not has_memory_or_files and d.summary is None:
            lead = d.units[0][0] if d.units else d.request or (d.turn[0] if d.turn else None)
            first_is_system = isinstance(lead, SystemMessage)
        else:
            first_is_system = True
        total = self.costs.base + self.costs.tools(self.tools, has_system=first_is_system)
        if first_is_system:
            total += self.costs.per_message - 1  # the first system message pays role markers, not a join
        total += sum(self._cost(m, first_is_system) for m in d.system)
        total += sum(self._cost(m, first_is_system) for _, m in d.fixed)
        if d.memories:
            key = ("memory", *(m.id for m in d.memories))
            if key not in self._memo:
                self._memo[key] = self.costs.counter.count(render_memories(d.memories)) + 1
            total += self._memo[key]
        for item in d.files:
            if item.view is not None:
                key = ("file", id(item.view))
                if key not in self._memo:
                    self._memo[key] = self.costs.counter.count(render_file(item.spec.path, item.view)) + 1
                    self._alive.append(item.view)
                total += self._memo[key]
        if d.summary is not None:
            total += self.costs.counter.count(d.summary.content) + (1 if first_is_system else self.costs.per_message)
        total += sum(self._unit_cost(unit, first_is_system) for unit in d.units)
        if d.request is not None:
            total += self._cost(d.request, first_is_system)
        total += sum(self._cost(m, first_is_system) for m in d.turn)
        return total

    def _cost(self, message: Message, first_is_system: bool) -> int:
        trim = self.draft.trims.get(id(message))
        key = ("message", id(message), first_is_system, trim)
        cost = self._memo.get(key)
        if cost is None:
            sent = message.model_copy(update={"content": trim}) if trim is not None else _marked(message)
            cost = sum(self.costs.message(sent, merged_system=first_is_system))
            self._memo[key] = cost
            self._alive.append(message)
        return cost

    def _unit_cost(self, unit: list[Message], first_is_system: bool) -> int:
        key = ("unit", id(unit), first_is_system, self._trim_version)
        cost = self._memo.get(key)
        if cost is None:
            cost = sum(self._cost(m, first_is_system) for m in unit)
            self._memo[key] = cost
            self._alive.append(unit)
        return cost

    def _trim(self, message: ToolResultMessage, content: str) -> None:
        self.draft.trims[id(message)] = content
        self._trim_version += 1

    def over(self) -> int:
        return self.total() - self.target

    # -- steps ---------------------------------------------------------------------------------------------
    def compress(self) -> None:
        steps = {"memory": self._memory, "history": self._history, "files": self._files,
                 "tool_outputs": self._tool_outputs}
        for name in self.builder.compress:
            if self.over() <= 0:
                return
            steps[name]()
        if self.over() > 0 and self.draft.summary is not None:
            self.draft.summary = None
            self.notes.append("history: dropped the summary of earlier messages too (last resort)")
        if self.over() > 0 and "tool_outputs" in self.builder.compress:
            self._latest_tool_outputs()
        excess = self.over()
        if excess > 0:
            tokens = self.block_tokens(self.assemble())
            shown = ", ".join(f"{name} {tokens[name]}" for name in ("system", "tools", "developer", "policy",
                              "request", "turn", "tool_outputs") if tokens.get(name))
            raise ContextOverflow(
                f"the prompt needs {self.target + excess} tokens but only {self.target} fit (context window minus "
                f"the tokens reserved for the answer), after {', '.join(self.applied) or 'no'} compression; "
                f"what cannot be dropped: {shown}. Shorten the request or the rules, raise the context window "
                "(n_ctx / context_window), or lower max_tokens"
            )

    def _memory(self) -> None:
        d = self.draft
        if not d.memories:
            return
        query = d.request.content if isinstance(d.request, UserMessage) else ""
        scores = relevance(d.memories, query)
        total = len(d.memories)
        dropped: list[int] = []
        for memory in sorted(d.memories, key=lambda m: (scores[m.id], m.id)):
            if self.over() <= 0:
                break
            d.memories = [m for m in d.memories if m.id != memory.id]
            dropped.append(memory.id)
        self.applied.append("memory")
        self.notes.append(f"memory: dropped {len(dropped)} of {total} memories, least relevant to the request "
                          f"first (ids {', '.join(map(str, dropped))})")

    def _history(self) -> None:
        d = self.draft
        units = d.units
        if not units:
            return
        unit_costs = [self._unit_cost(unit, True) for unit in units]
        chunk = max(1, int(self.target * self.builder.history_chunk_share))
        cumulative = [0]
        for cost in unit_costs:
            cumulative.append(cumulative[-1] + cost)
        # Cut only where the dropped span crosses a multiple of `chunk`: those points depend on old messages
        # only, so the same cut (and the same summary, hence the same prefix) holds for the next steps.
        cuts = sorted({c for c in range(1, len(units) + 1) if cumulative[c] // chunk > cumulative[c - 1] // chunk}
                      | {len(units)})
        cap = max(16, int(self.target * self.builder.summary_share))
        custom = self.builder.summarizer is not None
        reserve = cap + self.costs.counter.count(render_summary("")) + 2 if custom else 0
        for cut in cuts:
            d.units = units[cut:]
            # a custom summarizer (maybe a model call) runs once, for the chosen cut: until then its
            # summary is assumed to take its whole cap
            d.summary = None if custom else self._extractive(units, cut, cap)
            if self.over() + reserve <= 0:
                break
        cut = len(units) - len(d.units)
        if custom:
            dropped = [m for unit in units[:cut] for m in unit]
            found = self.builder.custom_summary(dropped, cap, self.costs.counter) if dropped else None
            d.summary = _summary_message(*found) if found else None
        how = ("a summary (" + ("custom summarizer" if custom else "extractive") + ")"
               if d.summary is not None else "nothing (no summary fits)")
        self.applied.append("history")
        self.notes.append(
            f"history: dropped the {sum(len(u) for u in units[:cut])} oldest messages ({cut} exchanges, "
            f"{cumulative[cut]} tokens), replaced by {how}"
        )

    def _extractive(self, units: list[list[Message]], cut: int, cap: int) -> SystemMessage | None:
        """The extractive summary of units[:cut]: its most recent lines that fit in `cap` tokens."""
        kept: list[str] = []
        used = 0
        for unit in reversed(units[:cut]):
            lines = self._lines.get(id(unit))
            if lines is None:
                lines = [(line, self.costs.counter.count(line) + 1) for line in extractive_lines(unit)]
                self._lines[id(unit)] = lines
            for line, cost in reversed(lines):
                if used + cost > cap:
                    return _summary_message("\n".join(reversed(kept)), False) if kept else None
                kept.append(line)
                used += cost
        return _summary_message("\n".join(reversed(kept)), False) if kept else None

    def _files(self) -> None:
        d = self.draft
        present = [f for f in d.files if f.view is not None]
        if not present:
            return
        counter = self.costs.counter
        size = {id(f): counter.count(f.source) for f in present}
        words = _request_words(d.request)
        for item in sorted(present, key=lambda f: -size[id(f)]):
            if self.over() <= 0:
                break
            before = item.view
            assert before is not None
            focused = focused_view(item.spec, item.source) if before.kind == "full" else None
            if focused is not None:
                item.view = focused
            if self.over() > 0:
                current = item.view or before
                tokens = counter.count(render_file(item.spec.path, current))
                per_line = max(1.0, tokens / max(1, current.lines_shown))
                lines = int((tokens - self.over()) / per_line)
                for _ in range(4):
                    if lines < 3:
                        item.view = None
                        break
                    item.view = (relevant_view(item.source, words, lines) if current.kind == "full"
                                 else shrink_view(current, lines))
                    if self.over() <= 0:
                        break
                    lines = int(lines * 0.7)
            after = item.view
            self.notes.append(
                f"files: {display_path(item.spec.path)} dropped" if after is None else
                f"files: {display_path(item.spec.path)} reduced to {after.kind} "
                f"({after.lines_shown} of {after.lines_total} lines)"
            )
        self.applied.append("files")

    def _tool_outputs(self) -> None:
        """Trim the older tool outputs (those not answering the latest calls), oldest first."""
        old, _latest = self._tool_results()
        trimmed: set[int] = set()
        for keep in (self.builder.trimmed_tool_chars, 0):
            for message in old:
                if self.over() <= 0:
                    break
                current = self.draft.trims.get(id(message), message.content)
                shorter = trim_text(message.content, keep)
                if len(shorter) < len(current):
                    self._trim(message, shorter)
                    trimmed.add(id(message))
        if trimmed:
            self.applied.append("tool_outputs")
            self.notes.append(f"tool_outputs: trimmed {len(trimmed)} older tool outputs, oldest first")

    def _latest_tool_outputs(self) -> None:
        """Last resort: cut the latest tool outputs (largest first) to what still fits."""
        _old, latest = self._tool_results()
        counter = self.costs.counter
        cut = 0
        for message in sorted(latest, key=lambda m: -len(m.content)):
            if self.over() <= 0:
                break
            cut += 1
            per_char = max(1e-3, counter.count(message.content) / max(1, len(message.content)))
            keep = len(message.content)
            for _ in range(6):  # the trim marker costs tokens too: converge in a few rounds
                excess = self.over()
                if excess <= 0 or keep == 0:
                    break
                keep = max(0, keep - int(excess / per_char) - 8)
                self._trim(message, trim_text(message.content, keep))
        if cut:
            self.applied.append("tool_outputs")
            self.notes.append(f"tool_outputs: cut {cut} of the latest tool outputs to fit (last resort)")

    def _tool_results(self) -> tuple[list[ToolResultMessage], list[ToolResultMessage]]:
        """(older results, results of the latest assistant calls), in conversation order."""
        tail = self.draft.tail()
        results = [m for m in tail if isinstance(m, ToolResultMessage)]
        last_call = next((m for m in reversed(tail) if isinstance(m, AssistantMessage) and m.tool_calls), None)
        latest_ids = {c.id for c in last_call.tool_calls} if last_call else set()
        return ([m for m in results if m.tool_call_id not in latest_ids],
                [m for m in results if m.tool_call_id in latest_ids])

    # -- report --------------------------------------------------------------------------------------------
    def report(self, out: list[tuple[BlockName, Message]], *, budget: int, window: int, reserve: int,
               exact: int | None) -> dict[str, Any]:
        tokens = self.block_tokens(out)
        stable = [m for block, m in out if block in STABLE_BLOCKS]
        digest = hashlib.sha256(MESSAGES_ADAPTER.dump_json(stable)).hexdigest()[:16]
        counter = self.costs.counter
        return {
            "budget": budget,
            "context_window": window,
            "reserved_output": reserve,
            "counting": counter.counting,
            "prompt_tokens": sum(tokens.values()),
            "prompt_tokens_exact": exact,
            "blocks": {name: count for name, count in tokens.items() if count},
            "stable_prefix_tokens": sum(tokens.get(name, 0) for name in STABLE_BLOCKS),
            "stable_prefix_sha256": digest,
            "compressed": list(self.applied),
            "warnings": self._warnings(out),
            "cache": {"hits": counter.hits, "misses": counter.misses},
        }

    def _warnings(self, out: list[tuple[BlockName, Message]]) -> list[dict[str, Any]]:
        warnings: list[dict[str, Any]] = []
        counter = self.costs.counter
        for block, message in out:
            if block in ("system", "developer", "policy", "memory", "summary"):
                continue
            tokens = counter.count(message.content)
            if tokens < self.builder.inflation_min_tokens:
                continue
            for finding in _cached_inflation(message.content):
                source = (f"tool {message.name} ({message.tool_call_id})" if isinstance(message, ToolResultMessage)
                          else _file_path(message.content) if block == "files" else f"{message.role} message")
                warnings.append({"block": block, "source": source, "kind": finding.kind, "tokens": tokens,
                                 "share": round(finding.share, 2), "advice": finding.advice})
        return warnings


_INFLATION_CACHE: dict[str, list[Inflation]] = {}


def _cached_inflation(text: str) -> list[Inflation]:
    key = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()
    if key not in _INFLATION_CACHE:
        if len(_INFLATION_CACHE) > 4096:
            _INFLATION_CACHE.clear()
        _INFLATION_CACHE[key] = detect_inflation(text)
    return _INFLATION_CACHE[key]


def _summary_message(body: str, untrusted: bool) -> SystemMessage:
    text = render_summary(mark_untrusted(body) if untrusted else body)
    return SystemMessage(content=text, provenance="untrusted" if untrusted else "trusted")


def _file_path(content: str) -> str:
    match = re.match(r'<file path="([^"]*)"', content)
    return f"file {match.group(1)}" if match else "file"


def _block_of(message: Message, default: BlockName) -> BlockName:
    return "tool_outputs" if isinstance(message, ToolResultMessage) else default


def _marked(message: Message) -> Message:
    """Untrusted user/system text reads as data (tool results are marked by the renderer)."""
    if message.provenance == "untrusted" and isinstance(message, UserMessage | SystemMessage):
        return message.model_copy(update={"content": mark_untrusted(message.content)})
    return message


def _request_words(request: Message | None) -> set[str]:
    if not isinstance(request, UserMessage):
        return set()
    words = re.findall(r"[A-Za-z_][A-Za-z0-9_]{3,}", request.content)
    return {w.lower() for w in words}
