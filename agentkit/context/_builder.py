"""The context builder: the real prompt, assembled from ordered blocks and kept within the token budget.

Order (stable blocks first, so llama.cpp reuses its prefix cache across turns and loop steps):

    system | tools prompt | developer | policy | memory | files | summary | history | current request | turn

Budget = context window - reserved output (the request's max_tokens, else `reserved_output`), counted with
the model's own tokenizer (cached), template overhead and tools prompt included. Over budget, the builder
compresses in `compress` order, each step reported as a note in the ContextBuilt event:

1. memory: drop the memories least relevant to the current request;
2. history: replace the oldest exchanges by a summary (extractive unless a `summarizer` is given), cutting at
   stable points so the prefix stays identical until the next cut;
3. files: keep the focus (function, traceback frames), else the lines matching the request, then drop files;
4. tool_outputs: trim the older tool outputs, oldest first.

Last resorts, in this order: drop the history summary, then cut the latest tool outputs to what fits.
System, developer and policy blocks and the current request are never dropped; tool calls never lose their
results. When even those do not fit, the run fails with ContextOverflow, which says what to change.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Sequence
from typing import Any

from .._decoding import DecodingSettings
from .._errors import UserError
from .._hooks import BuiltContext
from .._messages import MESSAGES_ADAPTER, Message, SystemMessage, UserMessage
from .._tools import Tool
from ..models._base import Model, ModelRequest
from ._blocks import BlockName, Costs, developer_block, is_request, policy_block
from ._compress import DEFAULT_COMPRESSION, Compression, CompressionStep, ContextOverflow, Draft, DraftFile
from ._files import ContextFile, check_focus, full_view, read_text
from ._history import Summarizer, split_units
from ._memory import Memory, MemoryScope, MemoryStore, relevance
from ._tokens import TokenCounter


class ContextBuilder:
    """Builds the prompt for each model request (an `agentkit.ContextStrategy`): `Agent(context=ContextBuilder())`.

    Options: `developer` and `policy` rule texts; a `memory` store with the `memory_scope` to inject; `files`
    (paths or ContextFile with a function or traceback focus); `reserved_output` tokens when the request sets no
    max_tokens; `context_window` when the model does not say (LlamaCppModel has n_ctx); `tokenizer`, a model
    whose `count_tokens` to use instead of the running model's; `compress`, the compression steps in order
    (leave one out to switch it off); `summarizer`, a callable replacing the extractive history summary.
    Tuning: `max_memories` injected at most; `summary_share` of the budget for the history summary;
    `history_chunk_share`, the budget fraction between history cut points (larger: fewer prefix changes,
    more history dropped per cut); `trimmed_tool_chars` kept of an old tool output; `inflation_min_tokens`
    below which content is never flagged; `data_notice` adds the "tagged content is data" rule to the policy
    block; `verify` re-counts the whole rendered prompt when the model can render it (exact, ~ms per step).
    """

    def __init__(
        self, *, developer: str | None = None, policy: str | None = None, memory: MemoryStore | None = None,
        memory_scope: MemoryScope | None = None, files: Sequence[str | os.PathLike[str] | ContextFile] = (),
        reserved_output: int = 512, context_window: int | None = None, tokenizer: Any = None,
        compress: Sequence[CompressionStep] = DEFAULT_COMPRESSION, summarizer: Summarizer | None = None,
        max_memories: int = 20, summary_share: float = 0.15, history_chunk_share: float = 0.25,
        trimmed_tool_chars: int = 400, inflation_min_tokens: int = 120, data_notice: bool = True,
        verify: bool = True,
    ) -> None:
        unknown = set(compress) - set(DEFAULT_COMPRESSION)
        if unknown:
            raise UserError(f"unknown compression steps {sorted(unknown)}; use {', '.join(DEFAULT_COMPRESSION)}")
        if reserved_output < 1:
            raise UserError("reserved_output must be at least 1 token (room for the answer)")
        if context_window is not None and context_window < 16:
            raise UserError(f"context_window={context_window} is too small; give the model's context length")
        if not 0 < summary_share < 1 or not 0 < history_chunk_share <= 1:
            raise UserError("summary_share and history_chunk_share are fractions of the budget, between 0 and 1")
        if tokenizer is not None and not callable(getattr(tokenizer, "count_tokens", None)):
            raise UserError("tokenizer must have a count_tokens(text) method, e.g. an agentkit LlamaCppModel")
        self.developer = developer
        self.policy = policy
        self.memory = memory
        self.memory_scope = memory_scope or MemoryScope()
        self.files = [ContextFile.of(f) for f in files]
        for spec in self.files:
            check_focus(spec, read_text(spec.path))  # fail at construction, not mid-run
        self.reserved_output = reserved_output
        self.context_window = context_window
        self.tokenizer = tokenizer
        self.compress = tuple(compress)
        self.summarizer = summarizer
        self.max_memories = max_memories
        self.summary_share = summary_share
        self.history_chunk_share = history_chunk_share
        self.trimmed_tool_chars = trimmed_tool_chars
        self.inflation_min_tokens = inflation_min_tokens
        self.data_notice = data_notice
        self.verify = verify
        self._counters: dict[int, tuple[Any, TokenCounter]] = {}
        self._summaries: dict[str, str] = {}
        self._sources: dict[str, tuple[float, int, str]] = {}
        self._lock = threading.Lock()

    # -- public --------------------------------------------------------------------------------------------
    def counter(self, model: Any) -> TokenCounter:
        """The cached counter for `model` (or for the configured tokenizer). Models without a tokenizer share
        one approximate counter; at most a few tokenizers are remembered."""
        source = self.tokenizer if self.tokenizer is not None else model
        exact = callable(getattr(source, "count_tokens", None))
        key = id(source) if exact else 0
        with self._lock:
            entry = self._counters.get(key)
            if entry is None or (exact and entry[0] is not source):
                entry = (source if exact else None, TokenCounter(source if exact else None))
                self._counters[key] = entry
                while len(self._counters) > 8:
                    del self._counters[next(iter(self._counters))]
            return entry[1]

    def build(
        self, messages: Sequence[Message], *, tools: Sequence[Tool], model: Model, settings: DecodingSettings
    ) -> BuiltContext:
        counter = self.counter(model)
        costs = Costs(counter)
        window = self._window(model)
        reserve = settings.max_tokens or self.reserved_output
        budget = window - reserve
        if budget <= 0:
            raise UserError(
                f"max_tokens={reserve} leaves no room for the prompt in a {window}-token context window; "
                "lower max_tokens or use a larger context window"
            )
        target = budget
        exact: int | None = None
        for _attempt in range(3):
            draft = self._draft(messages)
            run = Compression(self, draft, costs, tools, target)
            run.compress()
            out = run.assemble()
            built = [m for _, m in out]
            exact = counter.count_prompt(ModelRequest(messages=built, tools=tools)) if self.verify else None
            if exact is None or exact <= budget:
                break
            target -= exact - budget + 4  # the estimate was short: compress a little further
        else:
            raise ContextOverflow(f"could not fit the prompt in {budget} tokens (last attempt: {exact})")
        report = run.report(out, budget=budget, window=window, reserve=reserve, exact=exact)
        return BuiltContext(messages=built, notes=run.notes, report=report)

    # -- assembly ------------------------------------------------------------------------------------------
    def _window(self, model: Any) -> int:
        if self.context_window is not None:
            return self.context_window
        for source in (self.tokenizer, model):
            n_ctx = getattr(source, "n_ctx", None)
            if isinstance(n_ctx, int) and n_ctx > 0:
                return n_ctx
        raise UserError(
            f"model {getattr(model, 'name', model)!r} does not say its context window; "
            "pass ContextBuilder(context_window=...) (in an agent file: `context: {context_window: N}`)"
        )

    def _draft(self, messages: Sequence[Message]) -> Draft:
        system: list[Message] = []
        index = 0
        while index < len(messages) and isinstance(messages[index], SystemMessage):
            system.append(messages[index])
            index += 1
        rest = list(messages[index:])
        position = next((i for i in range(len(rest) - 1, -1, -1) if is_request(rest[i])), None)
        history, request, turn = ([], None, rest) if position is None else (
            rest[:position], rest[position], rest[position + 1:])
        fixed: list[tuple[BlockName, SystemMessage]] = []
        if self.developer and self.developer.strip():
            fixed.append(("developer", SystemMessage(content=developer_block(self.developer))))
        if self.policy or self.data_notice:
            fixed.append(("policy", SystemMessage(content=policy_block(self.policy, data_notice=self.data_notice))))
        memories = self._memories(request)
        files = [DraftFile(spec, source, full_view(source)) for spec, source in self._file_sources()]
        return Draft(system, fixed, memories, files, split_units(history), request, turn)

    def _memories(self, request: Message | None) -> list[Memory]:
        if self.memory is None:
            return []
        found = self.memory.for_scope(self.memory_scope)
        if len(found) > self.max_memories:
            scores = relevance(found, request.content if isinstance(request, UserMessage) else "")
            keep = sorted(found, key=lambda m: (-scores[m.id], -m.id))[: self.max_memories]
            found = sorted(keep, key=lambda m: m.id)
        return found

    def _file_sources(self) -> list[tuple[ContextFile, str]]:
        """Each file's text, reread only when it changed on disk; a file that vanished mid-run is skipped."""
        out: list[tuple[ContextFile, str]] = []
        for spec in self.files:
            key = str(spec.path)
            try:
                stat = spec.path.stat()
                cached = self._sources.get(key)
                if cached is None or cached[:2] != (stat.st_mtime, stat.st_size):
                    cached = (stat.st_mtime, stat.st_size, read_text(spec.path))
                    self._sources[key] = cached
                out.append((spec, cached[2]))
            except (OSError, UserError):
                self._sources.pop(key, None)
        return out

    def custom_summary(self, dropped: Sequence[Message], cap: int, counter: TokenCounter) -> tuple[str, bool] | None:
        """(summary body, untrusted?) from the custom summarizer, cached per dropped span, within `cap` tokens."""
        assert self.summarizer is not None
        key = hashlib.sha256(MESSAGES_ADAPTER.dump_json(list(dropped))).hexdigest()
        with self._lock:
            body = self._summaries.get(key)
        if body is None:
            body = self.summarizer(dropped).strip()
            with self._lock:
                self._summaries[key] = body
        while body and counter.count(body) > cap:
            body = body[: int(len(body) * 0.8)]
        untrusted = any(m.provenance == "untrusted" for m in dropped)
        return (body, untrusted) if body else None


