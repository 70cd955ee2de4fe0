"""The policy layer: decide before acting, know where data came from, ask a person, keep a record.

    from agentkit import Agent
    from agentkit.policy import AuditLog, PolicyEngine, SafetyGuard, interactive_confirmer

    agent = Agent(
        tools=[...],
        gate=PolicyEngine("default"),            # policies/default.yaml: reads run, the rest is confirmed
        confirmer=interactive_confirmer(),        # or None: the run pauses with a resumable RunState
        guards=[SafetyGuard()],                   # refuse critical requests, redact secrets in the output
        audit=AuditLog("audit.jsonl"),            # hash-chained, fsynced, `agentkit audit verify audit.jsonl`
    )

Packs live in `policies/` (see policies/README.md); `agentkit policy check PACK` validates one.
"""

from __future__ import annotations

from .._yaml import Problem
from ._audit import AuditLog, VerifyReport, verify
from ._confirm import (
    callback_confirmer,
    claim_state,
    decisions_for,
    interactive_confirmer,
    load_state,
    save_state,
)
from ._engine import Evaluation, PolicyEngine, RuleHit
from ._guard import SafetyGuard, refusal_message
from ._loader import available_packs, load_policy, load_policy_text, resolve_pack
from ._pack import ArgCondition, PolicyError, PolicyPack, Rule, TrustedLists, When
from ._provenance import ProvenanceIndex, ValueProvenance
from ._redact import SecretRedactor, contains_secret, find_secrets, redact_text, redact_tool_output
from ._risk import RiskAssessment, score_risk

__all__ = [
    "ArgCondition",
    "AuditLog",
    "Evaluation",
    "PolicyEngine",
    "PolicyError",
    "PolicyPack",
    "Problem",
    "ProvenanceIndex",
    "RiskAssessment",
    "Rule",
    "RuleHit",
    "SafetyGuard",
    "SecretRedactor",
    "TrustedLists",
    "ValueProvenance",
    "VerifyReport",
    "When",
    "available_packs",
    "callback_confirmer",
    "claim_state",
    "contains_secret",
    "decisions_for",
    "find_secrets",
    "interactive_confirmer",
    "load_policy",
    "load_policy_text",
    "load_state",
    "redact_text",
    "redact_tool_output",
    "refusal_message",
    "resolve_pack",
    "save_state",
    "score_risk",
    "verify",
]
