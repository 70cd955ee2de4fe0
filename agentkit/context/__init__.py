"""The context builder, persistent memory and prompt linting.

    from agentkit import Agent
    from agentkit.context import ContextBuilder, MemoryStore

    builder = ContextBuilder(developer="Answer in English.", memory=MemoryStore(), files=["app.py"])
    agent = Agent(context=builder)

`ContextBuilder` orders the prompt's blocks (stable ones first, for the prefix cache), counts tokens with the
model's tokenizer, compresses in a defined order when over budget, and reports tokens per block and inflated
content in every ContextBuilt event. `lint_prompt` scores a request against the guide's checklist.
"""

from __future__ import annotations

from ._blocks import BlockName
from ._builder import ContextBuilder
from ._compress import DEFAULT_COMPRESSION, CompressionStep, ContextOverflow
from ._files import ContextFile
from ._history import Summarizer
from ._inflation import Inflation, InflationKind, detect_inflation
from ._lint import ChecklistItem, LintResult, lint_prompt
from ._memory import Memory, MemoryKind, MemoryScope, MemoryStore, default_memory_path
from ._tokens import TokenCounter, approximate_tokens

__all__ = [
    "DEFAULT_COMPRESSION",
    "BlockName",
    "ChecklistItem",
    "CompressionStep",
    "ContextBuilder",
    "ContextFile",
    "ContextOverflow",
    "Inflation",
    "InflationKind",
    "LintResult",
    "Memory",
    "MemoryKind",
    "MemoryScope",
    "MemoryStore",
    "Summarizer",
    "TokenCounter",
    "approximate_tokens",
    "default_memory_path",
    "detect_inflation",
    "lint_prompt",
]
