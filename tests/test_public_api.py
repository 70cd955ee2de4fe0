"""The public API is what `__all__` says: sorted, importable, and pinned here so changes are deliberate."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import agentkit

TOP_LEVEL = [
    "PRESETS", "Agent", "AgentkitError", "AssistantMessage", "AuditSink", "Confirmation", "ConfirmationRequest",
    "ConfirmationRequired", "ConfirmationResolved", "Confirmer", "ContextBuilt", "CorrectionSent",
    "DecodingSettings", "Effect", "EffectGate", "Event", "FinalOutput", "Gate", "GateContext", "Message",
    "ModelError", "ModelNotFoundError", "ModelRequestsBlocked", "ModelResponded", "ModelRetry",
    "ModelTimeoutError", "OutputValidationError", "PendingCall", "PolicyDecided", "PolicyDecision", "PresetName",
    "Provenance", "RetryBudgetExhausted", "RunContext", "RunError", "RunFailed", "RunPaused", "RunResult",
    "RunStarted", "RunState", "RunUsage", "SystemMessage", "TextDelta", "Timings", "Tool", "ToolCall",
    "ToolCallDelta", "ToolCallProposed", "ToolResult", "ToolResultMessage", "ToolReturn", "UsageLimitExceeded", "UsageLimits",
    "UserError", "UserMessage", "__version__", "approve_all", "deny_all", "preset", "tool",
]


def _public_packages() -> list[str]:
    names = ["agentkit", "agentkit.testing"]
    for info in pkgutil.walk_packages(agentkit.__path__, "agentkit."):
        leaf = info.name.rsplit(".", 1)[-1]
        if info.ispkg and not any(part.startswith("_") for part in info.name.split(".")[1:]):
            names.append(info.name)
        del leaf
    return names


def isort_key(name: str) -> tuple[int, str]:
    """ruff's RUF022 order: CONSTANTS, then Classes, then functions and the rest."""
    group = 0 if name.isupper() and len(name) > 1 else 1 if name[:1].isupper() else 2
    return group, name


def test_top_level_api_is_pinned() -> None:
    assert agentkit.__all__ == TOP_LEVEL


@pytest.mark.parametrize("module_name", _public_packages())
def test_all_is_sorted_and_importable(module_name: str) -> None:
    module = importlib.import_module(module_name)
    exported = getattr(module, "__all__", None)
    assert exported is not None, f"{module_name} has no __all__"
    assert list(exported) == sorted(exported, key=isort_key), f"{module_name}.__all__ is not sorted"
    assert len(set(exported)) == len(exported)
    for name in exported:
        assert getattr(module, name, None) is not None or name == "__version__", f"{module_name}.{name} missing"
