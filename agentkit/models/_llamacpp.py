"""llama.cpp in process (llama-cpp-python), with agentkit's own tool calling.

One `Llama` per (file, settings) is loaded once and shared (see `_llamacpp_load`). A `Llama` object must never
be used by two threads at once (it crashes) nor by two interleaved streams (they corrupt each other), so each loaded model
has one lock held for a whole generation, stream included. Generation runs in a worker thread and is fed to
the event loop chunk by chunk; closing the stream stops generation at the next token and frees the lock.
"""

from __future__ import annotations

import asyncio
import os
import re
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

from .._errors import ModelError, UserError
from ._base import (
    FinishChunk,
    FinishReason,
    ModelChunk,
    ModelRequest,
    TextChunk,
    ToolCallChunk,
    Usage,
    check_model_requests_allowed,
)
from ._llamacpp_load import LoadedModel, check_gguf, cpu_count, gpu_offload_supported, is_loaded, load_model
from ._toolcall import (
    CLOSE,
    OPEN,
    CallStreamParser,
    call_grammar,
    render_messages_for_template,
    schema_grammar,
)

DEFAULT_MAX_TOKENS = 1024  # per response when settings.max_tokens is unset: a looping small model must stop somewhere


class LlamaCppModel:
    """A GGUF model run in process. Threads default to the real core count; layers go to the GPU when the
    build supports it (`n_gpu_layers=-1`), else stay on the CPU."""

    def __init__(
        self, path: str | os.PathLike[str], *, n_ctx: int = 4096, n_threads: int | None = None,
        n_gpu_layers: int | None = None, seed: int = 0, verbose: bool = False, name: str | None = None,
        prompt_lookup: int = 0, kv_cache_bytes: int = 0, parallel_calls: bool = True,
    ) -> None:
        """`parallel_calls`: whether a constrained turn may hold several calls when the request's settings
        do not say (`parallel_tool_calls`); tiny models do better with one call a turn."""
        self.path = Path(path).expanduser()
        check_gguf(self.path)
        if not isinstance(prompt_lookup, int) or prompt_lookup < 0:
            raise UserError(f"prompt_lookup is a number of draft tokens (0 = off, ~10 for edits); got {prompt_lookup!r}")
        if not isinstance(kv_cache_bytes, int) or kv_cache_bytes < 0:
            raise UserError(f"kv_cache_bytes must be an integer >= 0 (0 = no session cache); got {kv_cache_bytes!r}")
        self.prompt_lookup = prompt_lookup
        self.kv_cache_bytes = kv_cache_bytes
        self.n_ctx = n_ctx
        self.n_threads = n_threads or cpu_count()
        self._n_gpu_layers = n_gpu_layers
        self.seed = seed
        self.parallel_calls = parallel_calls
        self.verbose = verbose
        self._name = name or self.path.stem

    @property
    def name(self) -> str:
        return self._name

    @property
    def n_gpu_layers(self) -> int:
        if self._n_gpu_layers is not None:
            return self._n_gpu_layers
        return -1 if gpu_offload_supported() else 0

    def load(self) -> LoadedModel:
        """Load now (the first request would otherwise). Returns the shared handle."""
        return load_model(
            self.path, self.n_ctx, self.n_threads, self.n_gpu_layers, self.seed, self.verbose,
            prompt_lookup=self.prompt_lookup, kv_cache_bytes=self.kv_cache_bytes,
        )

    def with_prompt_lookup(self, draft_tokens: int = 10) -> LlamaCppModel:
        """The same model decoding with prompt-lookup drafts: for edits and patches, which copy their input.

        llama-cpp-python verifies drafts from every position's logits, so this variant is a separate load with
        `logits_all` (n_ctx x vocabulary floats: ~400 MB for SmolLM2 at n_ctx 2048). A router picks it for
        the `patch`/`code` output formats through `model_for`.
        """
        return LlamaCppModel(
            self.path, n_ctx=self.n_ctx, n_threads=self.n_threads, n_gpu_layers=self._n_gpu_layers, seed=self.seed,
            verbose=self.verbose, name=f"{self.name}+lookup", prompt_lookup=draft_tokens,
            kv_cache_bytes=self.kv_cache_bytes,
        )

    @property
    def is_loaded(self) -> bool:
        return is_loaded(self.path)

    def count_tokens(self, text: str) -> int:
        return len(self.load().llm.tokenize(text.encode(), add_bos=False, special=True))

    def render_prompt(self, request: ModelRequest) -> str:
        loaded = self.load()
        choice = request.tool_choice if request.tools else "none"
        messages = render_messages_for_template(
            request.messages, request.tools, str(choice), tool_role=loaded.tool_role
        )
        try:
            return str(loaded.formatter(messages=messages).prompt)
        except Exception as exc:
            raise ModelError(f"the chat template of {self.name} could not render the conversation: {exc}") from exc

    def stream(self, request: ModelRequest) -> AsyncIterator[ModelChunk]:
        check_model_requests_allowed(self.name)
        return self._stream(request)

    async def _stream(self, request: ModelRequest) -> AsyncIterator[ModelChunk]:
        loaded = await asyncio.to_thread(self.load)
        prompt = self.render_prompt(request)
        tools = list(request.tools)
        choice = str(request.tool_choice) if tools else "none"
        grammar_text: str | None = None
        if tools and choice not in ("auto", "none"):
            parallel = request.settings.parallel_tool_calls
            grammar_text = call_grammar(tools, choice, parallel=self.parallel_calls if parallel is None else parallel)
        elif request.settings.response_schema is not None and choice in ("none", "auto") and not tools:
            # Not llama_cpp's json_schema_to_gbnf: its strings admit raw newlines (see _toolcall.JSON_STRING_CHAR).
            grammar_text = schema_grammar(request.settings.response_schema)
        parser = CallStreamParser()
        tool_index_seen: set[int] = set()
        queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        loop = asyncio.get_running_loop()
        stop = threading.Event()
        worker = loop.run_in_executor(
            loaded.executor, self._generate, loaded, prompt, request, grammar_text, tools, choice, stop,
            lambda item: loop.call_soon_threadsafe(queue.put_nowait, item), time.perf_counter(),
        )
        try:
            while True:
                kind, payload = await queue.get()
                if kind == "piece":
                    for event in parser.feed(payload):
                        for chunk in _to_chunks(event, tool_index_seen):
                            yield chunk
                elif kind == "done":
                    for event in parser.finish():
                        for chunk in _to_chunks(event, tool_index_seen):
                            yield chunk
                    reason: FinishReason = payload["reason"]
                    if parser.is_calls and reason == "stop":
                        reason = "tool_calls"
                    if parser.is_calls and any(not c["complete"] for c in parser.raw_calls()):
                        reason = "length"
                    yield FinishChunk(
                        reason=reason, usage=payload["usage"], queue_wait=payload["queue_wait"],
                        prefill=payload["prefill"], decode=payload["decode"],
                    )
                    return
                elif kind == "error":
                    raise payload
        finally:
            stop.set()
            await asyncio.shield(worker) if not worker.done() else None

    def _generate(
        self, loaded: LoadedModel, prompt: str, request: ModelRequest, grammar_text: str | None,
        tools: list[Any], choice: str, stop: threading.Event, emit: Any, submitted: float,
    ) -> None:
        """The model's thread: hold its lock for the whole generation. Queue wait counts from submission."""
        with loaded.lock:
            queue_wait = time.perf_counter() - submitted
            if stop.is_set():
                return
            try:
                self._generate_locked(loaded, prompt, request, grammar_text, tools, choice, stop, emit, queue_wait)
            except Exception as exc:  # surfaced in the event loop as a ModelError
                error = exc if isinstance(exc, ModelError) else ModelError(f"llama.cpp generation failed: {exc}")
                emit(("error", error))

    def _generate_locked(
        self, loaded: LoadedModel, prompt: str, request: ModelRequest, grammar_text: str | None,
        tools: list[Any], choice: str, stop: threading.Event, emit: Any, queue_wait: float,
    ) -> None:

        llm = loaded.llm
        tokens = llm.tokenize(prompt.encode(), add_bos=not prompt.startswith(loaded.bos_text or "\0"), special=True)
        budget = self.n_ctx - len(tokens)
        if budget <= 0:
            raise ModelError(
                f"the prompt has {len(tokens)} tokens, more than the context window ({self.n_ctx}); "
                "shorten the conversation or load the model with a larger n_ctx"
            )
        cached = int(llm.longest_token_prefix(llm._input_ids.tolist(), tokens)) if llm.n_tokens else 0
        cached = max(cached, loaded.kv_cache.restore(llm, tokens, cached))
        settings = request.settings
        max_tokens = min(settings.max_tokens or DEFAULT_MAX_TOKENS, budget)
        started = time.perf_counter()
        first: float | None = None
        completion = 0
        reason: FinishReason = "stop"
        grammar = _compile_grammar(grammar_text) if grammar_text else None
        # Text is never slowed by a grammar: in "auto" the turn runs free, and only if it opens with the call
        # tag is it redone under the call grammar (the prompt is still cached, so only the call is decoded).
        probing = grammar is None and bool(tools) and choice == "auto"
        held = ""
        calls_text = ""
        for _attempt in range(2):
            restart = False
            for piece, finish in self._completion(loaded, tokens, settings, max_tokens, grammar, stop, tools_offered=bool(tools)):
                first = first or time.perf_counter()
                if finish is not None:
                    reason = finish
                if not piece:
                    continue
                completion += 1
                if not probing:
                    emit(("piece", piece))
                    calls_text += piece
                    if grammar is not None and piece.rstrip().endswith(">") and _repeats_a_call(calls_text):
                        reason = "stop"
                        break  # a tiny model re-emitting the same call: the rest would only burn tokens
                    continue
                held += piece
                head = held.lstrip()
                if head.startswith(OPEN):
                    restart = True
                    break
                if head and not OPEN.startswith(head):
                    probing = False
                    emit(("piece", held))
                    held = ""
            if not restart:
                if held:
                    emit(("piece", held))
                break
            parallel = request.settings.parallel_tool_calls is not False
            grammar = _compile_grammar(call_grammar(tools, "required", parallel=parallel))
            probing, held, reason = False, "", "stop"
        end = time.perf_counter()
        loaded.kv_cache.save(llm)
        if stop.is_set():
            reason = "cancelled"
        first = first or end
        emit(("done", {
            "reason": reason,
            "usage": Usage(prompt_tokens=len(tokens), completion_tokens=completion, cached_prompt_tokens=cached),
            "queue_wait": queue_wait, "prefill": first - started, "decode": end - first,
        }))

    def _completion(
        self, loaded: LoadedModel, tokens: list[int], settings: Any, max_tokens: int, grammar: Any, stop: threading.Event,
        *, tools_offered: bool,
    ) -> Iterator[tuple[str, FinishReason | None]]:
        llm = loaded.llm
        kwargs: dict[str, Any] = {
            "max_tokens": max_tokens, "stream": True, "grammar": grammar,
            "temperature": 0.8 if settings.temperature is None else settings.temperature,
            "top_p": 0.95 if settings.top_p is None else settings.top_p,
            "top_k": 40 if settings.top_k is None else settings.top_k,
            "min_p": 0.05 if settings.min_p is None else settings.min_p,
        }
        if grammar is not None:
            # Under a grammar, truncate nothing; temperature alone decides (0 = greedy over the allowed tokens).
            # (llama-cpp-python 0.3.36 chains penalties -> grammar -> top_k/top_p/min_p -> temp/dist, or greedy at
            # temperature 0. The "forbidden tokens" once blamed on truncation were raw newlines inside strings,
            # which llama-cpp-python's string rule admitted: see _toolcall.JSON_STRING_CHAR.)
            kwargs.update(top_k=0, top_p=1.0, min_p=0.0)
        kwargs |= {
            # No repeat penalty under a grammar: measured 5/60 invalid calls at 1.1, 0/60 at 1.0 (before strings
            # were made strict, so those were probably raw newlines too); JSON repeats its punctuation anyway.
            "repeat_penalty": 1.0 if grammar is not None or settings.repeat_penalty is None else settings.repeat_penalty,
            # A model imitating the tool-result tags is hallucinating a tool's answer: cut it there.
            "stop": [*(settings.stop or []), *(["<tool_response"] if tools_offered else [])],
        }
        if settings.seed is not None:
            kwargs["seed"] = settings.seed
        if grammar is not None and llm.draft_model is None:
            # (With prompt-lookup drafts llama-cpp-python samples positions behind the last evaluated token, so
            # "the previous token" is not known there; that variant goes without the guard.)
            kwargs["logits_processor"] = _key_space_guard(loaded)
        if grammar is not None and llm.n_tokens and llm.longest_token_prefix(llm._input_ids.tolist(), tokens) >= len(tokens):
            # llama-cpp-python 0.3.36: when the whole prompt is already in the cache (a retry, or a turn redone
            # under the grammar), it replays the last token alone, whose logits differ slightly from the batched
            # prefill's; at temperature 0 that flipped `"expression":` + ` "` to ` ` + `"}` (the derailment
            # _key_space_guard describes). The grammar itself was enforced. Start clean so that the same request
            # gives the same answer.
            llm.reset()
        stream = llm.create_completion(tokens, **kwargs)
        try:
            for chunk in stream:
                if stop.is_set():
                    return
                choice = chunk["choices"][0]
                finish = choice.get("finish_reason")
                yield choice.get("text", ""), ("length" if finish == "length" else "stop") if finish else None
        finally:
            stream.close()


def _key_space_guard(loaded: LoadedModel) -> Any:
    """Under a JSON grammar, forbid a whitespace-only token right after a token ending in `":` (a key's end).

    Why: vocabularies hold space+quote as one token ` "`, and models write `"key": "value"` as `":` ` "` ...; the
    grammar's optional space also admits a bare ` ` token, after which the quote must come alone or glued to
    what follows, a split the model never saw. Measured on SmolLM2 (the CLI
    demo, and the same request replayed): after `"expression":` the bare ` ` narrowly beats ` "` (it wants a
    number), the forced quote is then best taken as `"}`, the model believes the object closed and writes
    `}} </tool_call> ...` *inside* the string. Without the bare space it takes ` "` and writes "2.5 + 4". No
    value becomes unreachable: the space is optional, so `"key":2` or `"key": "x"` remain.
    """
    if loaded.key_space_guard is None:
        import numpy as np
        from llama_cpp import LogitsProcessorList

        llm = loaded.llm
        texts = [llm.detokenize([i]) for i in range(llm.n_vocab())]
        spaces = np.array([i for i, t in enumerate(texts) if t and not t.strip(b" ")], dtype=np.intc)
        key_ends = frozenset(i for i, t in enumerate(texts) if t.endswith(b'":'))

        def no_space_after_key(input_ids: Any, scores: Any) -> Any:
            if len(input_ids) and int(input_ids[-1]) in key_ends:
                scores[spaces] = -np.inf
            return scores

        loaded.key_space_guard = LogitsProcessorList([no_space_after_key])
    return loaded.key_space_guard


def _compile_grammar(text: str) -> Any:
    from llama_cpp import LlamaGrammar

    try:
        return LlamaGrammar.from_string(text, verbose=False)
    except Exception as exc:
        raise ModelError(
            f"llama.cpp rejected the grammar built from the tool schemas ({exc}); simplify the tools' parameter "
            "schemas (fewer nested unions, smaller bounds)"
        ) from exc


_BLOCK = re.compile(re.escape(OPEN) + r"(.*?)" + re.escape(CLOSE), re.DOTALL)


def _repeats_a_call(text: str) -> bool:
    blocks = [b.strip() for b in _BLOCK.findall(text)]
    return len(blocks) >= 2 and blocks[-1] in blocks[:-1]


def _to_chunks(event: tuple[Any, ...], seen: set[int]) -> Iterator[ModelChunk]:
    if event[0] == "text":
        yield TextChunk(event[1])
    elif event[0] == "start":
        yield ToolCallChunk(index=event[1])
    elif event[0] == "name":
        seen.add(event[1])
        yield ToolCallChunk(index=event[1], name=event[2])
    elif event[0] == "args":
        yield ToolCallChunk(index=event[1], arguments=event[2])
