"""Saved KV states for llama.cpp, so a conversation's shared prefix is never prefilled twice.

llama.cpp reuses the prefix of the immediately preceding prompt by itself; when several conversations take
turns on one model (a server), each turn evicts the previous one's KV. This cache keeps the KV state left by
each generation, keyed by the tokens it holds, and before a prompt is evaluated restores the entry sharing
the longest prefix with it, when that beats what is already in the context.

Memory is bounded by bytes (least recently used out). `Llama.save_state` also copies up to n_batch rows of
logits (96 MiB for SmolLM2): that copy is skipped here, which is safe because after a restore llama.cpp
always re-evaluates at least one token (`_requires_eval`) before it samples.
"""

from __future__ import annotations

import ctypes
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

DEFAULT_KV_CACHE_BYTES = 128 * 1024 * 1024
MIN_SAVED_TOKENS = 32
"""States shorter than this are cheaper to prefill again than to keep."""
MIN_GAIN_TOKENS = 16
"""Restore only when the saved prefix beats the live one by at least this many tokens."""


@dataclass(frozen=True)
class _Entry:
    tokens: npt.NDArray[np.intc]
    state: bytes


def common_prefix(a: npt.NDArray[np.intc], b: npt.NDArray[np.intc]) -> int:
    n = min(len(a), len(b))
    if n == 0:
        return 0
    differ = np.flatnonzero(a[:n] != b[:n])
    return int(differ[0]) if len(differ) else n


class KVStateCache:
    """Byte-bounded LRU of KV states for one loaded model. Only called on the model's own thread."""

    def __init__(self, capacity_bytes: int) -> None:
        self.capacity_bytes = capacity_bytes
        self._entries: OrderedDict[int, _Entry] = OrderedDict()
        self._next_id = 0
        self._lock = threading.Lock()
        self.bytes_used = 0
        self.hits = 0
        self.restored_tokens = 0

    def grow(self, capacity_bytes: int) -> None:
        """Several LlamaCppModel objects may share one load: the largest budget asked for wins."""
        self.capacity_bytes = max(self.capacity_bytes, capacity_bytes)

    def __len__(self) -> int:
        return len(self._entries)

    def restore(self, llm: Any, tokens: list[int], live_prefix: int) -> int:
        """Load the saved state sharing the longest prefix with `tokens`, if it beats the live context.
        Returns the number of prompt tokens now in the KV cache thanks to the restore (0 if none)."""
        if not self._entries:
            return 0
        wanted = np.asarray(tokens, dtype=np.intc)
        with self._lock:
            best_id, best = -1, live_prefix + MIN_GAIN_TOKENS - 1
            for entry_id, entry in self._entries.items():
                shared = common_prefix(entry.tokens, wanted)
                if shared > best:
                    best_id, best = entry_id, shared
            if best_id < 0:
                return 0
            entry = self._entries[best_id]
            self._entries.move_to_end(best_id)
        _load_state(llm, entry)
        self.hits += 1
        self.restored_tokens += best
        return best

    def save(self, llm: Any) -> None:
        """Keep the state the last generation left (prompt + answer), unless the budget is 0 or it is tiny."""
        n_tokens = int(llm.n_tokens)
        if self.capacity_bytes <= 0 or n_tokens < MIN_SAVED_TOKENS:
            return
        tokens = np.array(llm.input_ids[:n_tokens], dtype=np.intc)
        with self._lock:
            for entry_id, entry in list(self._entries.items()):
                shared = common_prefix(entry.tokens, tokens)
                if shared == len(tokens) and len(entry.tokens) >= len(tokens):
                    self._entries.move_to_end(entry_id)
                    return  # an entry already covers this state
                if shared == len(entry.tokens):
                    self._drop(entry_id)  # the new state extends this one
        state = _state_bytes(llm)
        if state is None or len(state) > self.capacity_bytes:
            return
        with self._lock:
            self._entries[self._next_id] = _Entry(tokens, state)
            self._next_id += 1
            self.bytes_used += len(state)
            while self.bytes_used > self.capacity_bytes and self._entries:
                self._drop(next(iter(self._entries)))

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self.bytes_used = 0

    def _drop(self, entry_id: int) -> None:
        entry = self._entries.pop(entry_id)
        self.bytes_used -= len(entry.state)


def _state_bytes(llm: Any) -> bytes | None:
    import llama_cpp

    ctx = llm._ctx.ctx
    size = int(llama_cpp.llama_state_get_size(ctx))
    buffer = (ctypes.c_uint8 * size)()
    written = int(llama_cpp.llama_state_get_data(ctx, buffer, size))
    if written <= 0 or written > size:
        return None
    return ctypes.string_at(buffer, written)


def _load_state(llm: Any, entry: _Entry) -> None:
    import llama_cpp

    size = len(entry.state)
    buffer = (ctypes.c_uint8 * size).from_buffer_copy(entry.state)
    if int(llama_cpp.llama_state_set_data(llm._ctx.ctx, buffer, size)) != size:
        raise RuntimeError("llama.cpp could not restore a saved KV state")
    n_tokens = len(entry.tokens)
    llm.input_ids[:n_tokens] = entry.tokens
    llm.n_tokens = n_tokens
    llm._requires_eval = True
