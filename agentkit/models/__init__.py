"""Model backends: llama.cpp in process, OpenAI-compatible HTTP servers, and the contract they share."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._errors import ModelNotFoundError
from ._base import (
    FinishChunk,
    FinishReason,
    Model,
    ModelChunk,
    ModelRequest,
    TextChunk,
    ToolCallChunk,
    ToolChoice,
    Usage,
)
from ._default import DEFAULT_MODEL_NAME, default_model_path
from ._llamacpp import LlamaCppModel
from ._llamacpp_load import gpu_offload_supported, unload_all

if TYPE_CHECKING:
    from ._openai import HTTPTimeouts, OpenAICompatibleModel

__all__ = [
    "DEFAULT_MODEL_NAME",
    "FinishChunk",
    "FinishReason",
    "HTTPTimeouts",
    "LlamaCppModel",
    "Model",
    "ModelChunk",
    "ModelRequest",
    "OpenAICompatibleModel",
    "TextChunk",
    "ToolCallChunk",
    "ToolChoice",
    "Usage",
    "default_model",
    "default_model_path",
    "gpu_offload_supported",
    "resolve_model",
    "unload_all",
]

_DEFAULT: list[LlamaCppModel] = []
_LAZY = ("HTTPTimeouts", "OpenAICompatibleModel")


def __getattr__(name: str) -> Any:
    """The HTTP backend loads on first use, so `import agentkit` does not pay for importing httpx."""
    if name in _LAZY:
        from . import _openai

        return getattr(_openai, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def default_model() -> LlamaCppModel:
    """The embedded default model (one shared instance)."""
    if not _DEFAULT:
        _DEFAULT.append(LlamaCppModel(default_model_path(), name=DEFAULT_MODEL_NAME, parallel_calls=False))
    return _DEFAULT[0]


def resolve_model(spec: str | None) -> Model:
    """None or "default" -> the embedded model; "http(s)://host/v1[#model]" -> an OpenAI-compatible server;
    anything else -> a GGUF path."""
    if spec is None or spec in ("default", DEFAULT_MODEL_NAME):
        return default_model()
    if spec.startswith(("http://", "https://")):
        from ._openai import OpenAICompatibleModel

        base, _, name = spec.partition("#")
        return OpenAICompatibleModel(base, model=name or "default")
    path = Path(spec).expanduser()
    if path.suffix.lower() != ".gguf" and not path.exists():
        raise ModelNotFoundError(
            f"model {spec!r} is neither 'default', an http(s) URL, nor an existing .gguf file"
        )
    return LlamaCppModel(path)
