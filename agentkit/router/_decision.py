"""The typed routing decision: what the router concluded, and what the loop applies.

`RoutingDecision` satisfies `agentkit._hooks.RoutePlan`: the loop reads `tool_names`, `preset`, `tool_choice`,
`risk`, `clarifying_question` and `refusal`; everything else explains the decision (events, audit log, CLI).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from .._decoding import PresetName
from .._hooks import Risk
from .._tools import Effect

Intent = Literal["code", "file", "web", "calculation", "mail", "calendar", "chat", "unsupported"]
"""What the user wants. `web` covers fresh facts; `chat` covers conversation and explanations; `unsupported`
is a capability no tool provides here (image, video, audio, phone, purchases, payments, smart home)."""

INTENTS: tuple[Intent, ...] = ("code", "file", "web", "calculation", "mail", "calendar", "chat", "unsupported")

OutputFormat = Literal["prose", "short_answer", "list", "table", "json", "code", "patch", "email", "event"]
"""`patch` means BEFORE/AFTER blocks for each change; `short_answer` a number or one line."""

Tier = Literal["rules", "classifier", "model"]
"""Which tier settled the intent: lexical rules, the shipped classifier, or the configured capable model."""

Language = Literal["en", "fr"]

ToolChoicePlan = Literal["auto", "required", "none"]

RISKS: tuple[Risk, ...] = ("low", "medium", "high", "critical")


class IntentScore(BaseModel):
    """One candidate intent and the router's confidence in it (0..1, the scores of a decision sum to ~1)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    intent: Intent
    confidence: float = Field(ge=0.0, le=1.0)


class RoutingDecision(BaseModel):
    """How one request will be served. Built by `Router.route`; applied by the loop through `RoutePlan`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    intent: Intent = Field(description="The primary intent (the first of `intents`).")
    intents: list[IntentScore] = Field(description="Candidate intents, most likely first.")
    language: Language
    needs_fresh_data: bool = Field(description="The answer depends on facts that change (news, prices, laws...).")
    risk: Risk
    risk_reasons: list[str] = Field(default_factory=list)
    actions: list[Effect] = Field(
        default_factory=lambda: list[Effect](["read"]), description="What the request asks to do, as tool effects."
    )
    model: str | None = Field(default=None, description="Name of the chosen model profile; None keeps the agent's.")
    model_reason: str | None = None
    tool_names: list[str] | None = Field(
        default=None, description="Tools to offer the model; None offers every tool of the agent."
    )
    tool_choice: ToolChoicePlan | None = Field(default=None, description="None keeps the agent's own choice.")
    output_format: OutputFormat = "prose"
    preset: PresetName = "balanced"
    tier: Tier
    abstain: bool = False
    clarifying_question: str | None = None
    refusal: str | None = Field(
        default=None, description="Set when the request must not be served (critical risk) or cannot be (unsupported)."
    )
    unsupported_capability: str | None = None
    signals: list[str] = Field(default_factory=list, description="The lexical signals and tier notes behind it.")
