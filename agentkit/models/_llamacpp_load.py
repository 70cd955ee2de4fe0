"""Finding, loading and sharing GGUF files: one `Llama` per (file, settings), each with its own thread.

Loading is separate from generation (`_llamacpp.py`): what a load costs, which files are valid, and how loaded
models are shared and freed are one concern; how a turn is generated under a grammar is another.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._errors import ModelError, ModelNotFoundError, UserError
from ._kvcache import KVStateCache

GGUF_MAGIC = b"GGUF"

# llama.cpp's CPU backend runs on OpenMP, whose idle threads spin briefly before sleeping. Measured here: on an
# idle machine spinning decodes ~100 tok/s vs ~25 tok/s with OMP_WAIT_POLICY=PASSIVE; next to another busy
# process it is the reverse (38 vs 49). We keep OpenMP's default; set OMP_WAIT_POLICY=PASSIVE (before starting
# Python) on machines shared with other heavy work.


def cpu_count() -> int:
    """Cores this process may use (affinity-aware), not half of them as llama.cpp assumes."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - non-Linux
        return max(1, os.cpu_count() or 1)


def check_gguf(path: Path) -> None:
    if not path.exists():
        raise ModelNotFoundError(f"model file {path} does not exist; give the path of a .gguf file")
    if not path.is_file():
        raise ModelNotFoundError(f"model path {path} is not a file; give the path of a .gguf file")
    with path.open("rb") as handle:
        magic = handle.read(4)
    if magic != GGUF_MAGIC:
        raise ModelNotFoundError(
            f"{path} is not a GGUF model (starts with {magic!r}, expected b'GGUF'); convert it with llama.cpp's "
            "convert_hf_to_gguf.py or download a .gguf build"
        )


def gpu_offload_supported() -> bool:
    import llama_cpp

    return bool(llama_cpp.llama_supports_gpu_offload())


@dataclass
class LoadedModel:
    """A loaded model and the one thread that runs it.

    llama.cpp's CPU backend uses OpenMP: every thread that calls into it gets its own team of workers, and idle
    teams spin. Decoding from a different pool thread each time made generation ~3x slower on 2 cores than
    from a single thread, so all work on a model happens on its own dedicated thread.
    """

    llm: Any
    lock: threading.Lock
    executor: ThreadPoolExecutor
    formatter: Any
    tool_role: str
    load_seconds: float
    bos_text: str
    kv_cache: KVStateCache
    key_space_guard: Any = None  # built on the first constrained turn: see _key_space_guard


_CACHE: dict[tuple[Any, ...], LoadedModel] = {}
_CACHE_LOCK = threading.Lock()


@atexit.register
def _close_all() -> None:
    """Free models before interpreter teardown; llama-cpp-python's own __del__ fails once globals are gone."""
    with _CACHE_LOCK:
        for loaded in _CACHE.values():
            with contextlib.suppress(Exception):  # best effort at exit
                loaded.llm.close()
        _CACHE.clear()
    # llama-cpp-python keeps two /dev/null handles open for the process lifetime; close them quietly at exit.
    utils = sys.modules.get("llama_cpp._utils")
    for handle_name in ("outnull_file", "errnull_file"):
        handle = getattr(utils, handle_name, None)
        if handle is not None:
            handle.close()


def load_model(
    path: Path, n_ctx: int, n_threads: int, n_gpu_layers: int, seed: int, verbose: bool, *,
    prompt_lookup: int = 0, kv_cache_bytes: int = 0,
) -> LoadedModel:
    key = (str(path.resolve()), n_ctx, n_threads, n_gpu_layers, prompt_lookup)
    with _CACHE_LOCK:
        if key in _CACHE:
            loaded = _CACHE[key]
            loaded.kv_cache.grow(kv_cache_bytes)
            return loaded
        check_gguf(path)
        try:
            import llama_cpp
            from llama_cpp.llama_chat_format import Jinja2ChatFormatter
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise UserError("llama-cpp-python is not installed; run `make setup` (see README)") from exc
        t0 = time.perf_counter()
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"llama-{path.stem[:20]}")
        draft: Any = None
        if prompt_lookup:
            from llama_cpp.llama_speculative import LlamaPromptLookupDecoding

            draft = LlamaPromptLookupDecoding(num_pred_tokens=prompt_lookup)
        try:
            llm = executor.submit(
                llama_cpp.Llama, model_path=str(path), n_ctx=n_ctx, n_threads=n_threads, n_threads_batch=n_threads,
                n_gpu_layers=n_gpu_layers, seed=seed, verbose=verbose, draft_model=draft,
            ).result()
        except (ValueError, RuntimeError) as exc:
            executor.shutdown(wait=False)
            raise ModelError(f"llama.cpp could not load {path}: {exc} (is the file complete and a supported GGUF?)") from exc
        template = llm.metadata.get("tokenizer.chat_template")
        if not template:
            raise UserError(
                f"{path.name} has no chat template in its metadata (a base model, not a chat model); "
                "use an instruction-tuned GGUF"
            )
        eos = llm._model.token_get_text(llm.token_eos()) if llm.token_eos() >= 0 else ""
        bos = llm._model.token_get_text(llm.token_bos()) if llm.token_bos() >= 0 else ""
        formatter = Jinja2ChatFormatter(template=template, eos_token=eos, bos_token=bos)
        tool_role = "tool" if "tool" in template else "user"
        loaded = LoadedModel(
            llm, threading.Lock(), executor, formatter, tool_role, time.perf_counter() - t0, bos,
            KVStateCache(kv_cache_bytes),
        )
        _CACHE[key] = loaded
        return loaded


def is_loaded(path: Path) -> bool:
    """Whether some load of this file is held in the cache (whatever its settings)."""
    resolved = str(path.resolve())
    with _CACHE_LOCK:
        return any(key[0] == resolved for key in _CACHE)


def unload_all() -> None:
    """Forget every loaded model (their memory is freed when no run still holds them)."""
    with _CACHE_LOCK:
        _CACHE.clear()
