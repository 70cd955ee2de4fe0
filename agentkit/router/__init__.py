"""Routing: decide, before the model runs, what a request needs (intent, freshness, risk) and how to serve it
(model, tools, output format, decoding preset), or that it must be clarified or refused.

    from agentkit import Agent
    from agentkit.router import ModelRegistry, Router

    agent = Agent(tools=[...], router=Router(models=ModelRegistry.from_yaml("models.yaml")))

Tiers, cheapest first: lexical rules (EN/FR), the shipped intent classifier, and, only when both are unsure
and a profile is flagged `capable_router`, that model with a grammar-constrained verdict.
`agentkit route "text"` prints a decision; `agentkit route --jsonl FILE` routes one request per line.
"""

from __future__ import annotations

from ._classifier import IntentClassifier, default_classifier, train
from ._decision import INTENTS, Intent, IntentScore, Language, OutputFormat, RoutingDecision, Tier
from ._model_tier import ModelVerdict
from ._registry import ModelProfile, ModelRegistry, Requirements
from ._router import Router
from ._toolmap import CATALOGUE, ToolMap, ToolRule

__all__ = [
    "CATALOGUE",
    "INTENTS",
    "Intent",
    "IntentClassifier",
    "IntentScore",
    "Language",
    "ModelProfile",
    "ModelRegistry",
    "ModelVerdict",
    "OutputFormat",
    "Requirements",
    "Router",
    "RoutingDecision",
    "Tier",
    "ToolMap",
    "ToolRule",
    "default_classifier",
    "train",
]
