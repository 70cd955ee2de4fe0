"""The router: rules first, the shipped classifier when the rules are unsure, the capable model last.

    from agentkit import Agent
    from agentkit.router import Router

    agent = Agent(tools=[...], router=Router())
    Router().route("Corrige ce bug dans views.py : KeyError 'email'")   # a RoutingDecision

Each tier runs only when the one before it is unsure: most requests are settled by lexical rules in well
under a millisecond; the classifier (also sub-millisecond) settles most of the rest; the model is asked only
when both are unsure AND the registry flags a profile `capable_router`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

from .._decoding import PresetName
from .._hooks import Risk, RoutePlan
from .._messages import Message
from .._tools import Effect, Tool
from ..models._base import Model
from . import _replies as replies
from ._classifier import IntentClassifier, default_classifier
from ._decision import (
    INTENTS,
    RISKS,
    Intent,
    IntentScore,
    OutputFormat,
    RoutingDecision,
    Tier,
    ToolChoicePlan,
)
from ._model_tier import ModelVerdict, ask_model, run_blocking
from ._registry import Level, ModelRegistry, Requirements
from ._rules import Analysis, analyze, risk_level
from ._toolmap import CATALOGUE, ToolMap

RULES_DECISIVE_SCORE = 3.0
"""The rules settle a request alone when the best intent scores at least this much..."""
RULES_DECISIVE_MARGIN = 1.5
"""...and leads the runner-up by at least this much."""
RULES_WEIGHT = 1.0
"""How much the rules' scores count next to the classifier's log-probabilities when they combine."""
SECONDARY_SCORE = 3.0
CHARS_PER_TOKEN = 3.0
"""Conservative (English averages ~4, French and code less): better to pick a model with room to spare."""
OUTPUT_RESERVE_TOKENS = 1024
TOKENS_PER_TOOL = 120


@dataclass
class Draft:
    """What the first two tiers concluded, before the model tier and before the plan is built."""

    analysis: Analysis
    probabilities: dict[Intent, float]
    tier: Tier
    unsure: bool
    notes: list[str] = field(default_factory=list)

    @property
    def intent(self) -> Intent:
        return max(self.probabilities, key=self.probabilities.__getitem__)


def _softmax(values: dict[Intent, float]) -> dict[Intent, float]:
    top = max(values.values())
    exps = {k: math.exp(v - top) for k, v in values.items()}
    total = sum(exps.values())
    return {k: v / total for k, v in exps.items()}


class Router:
    """Satisfies `agentkit._hooks.Router`. Every argument is optional.

    `models`: the registry to choose from; None keeps the agent's own model (the decision's `model` is None).
    `tool_map`: intent -> tools (see `ToolMap`); `classifier`: tier 2 (None: the shipped one);
    `use_classifier` / `use_model`: switch tiers off; `unsure_below`: confidence under which the model tier is
    consulted; `today`: the date that makes "2026" recent (tests pin it).
    """

    def __init__(
        self, *, models: ModelRegistry | None = None, tool_map: ToolMap | None = None,
        classifier: IntentClassifier | None = None, use_classifier: bool = True, use_model: bool = True,
        unsure_below: float = 0.6, today: date | None = None,
    ) -> None:
        self.models = models
        self.tool_map = tool_map or ToolMap.default()
        self._classifier = classifier
        self.use_classifier = use_classifier
        self.use_model = use_model
        self.unsure_below = unsure_below
        self.today = today

    @property
    def classifier(self) -> IntentClassifier:
        if self._classifier is None:
            self._classifier = default_classifier()
        return self._classifier

    # -- public API ----------------------------------------------------------------------------------------
    def route(
        self, prompt: str, *, tools: Sequence[Tool] | None = None, history: Sequence[Message] = (),
    ) -> RoutingDecision:
        """Decide how to serve `prompt`. Without `tools`, plans against the built-in tool catalogue."""
        draft = self.first_tiers(prompt, history=history)
        verdict, note = None, None
        model = self._router_model(draft)
        if model is not None:
            verdict, note = run_blocking(self._ask(model, prompt))
        return self._decide(draft, verdict, note, tools, history)

    async def aroute(
        self, prompt: str, *, tools: Sequence[Tool] | None = None, history: Sequence[Message] = (),
    ) -> RoutingDecision:
        """`route` for async callers: the model tier is awaited instead of run on a worker thread."""
        draft = self.first_tiers(prompt, history=history)
        verdict, note = None, None
        model = self._router_model(draft)
        if model is not None:
            verdict, note = await self._ask(model, prompt)
        return self._decide(draft, verdict, note, tools, history)

    def model_for(self, plan: RoutePlan) -> Model | None:
        """The chosen profile's model (cached by the registry); None when no model runs or none was chosen."""
        if self.models is None or not isinstance(plan, RoutingDecision) or plan.model is None:
            return None
        if plan.refusal or plan.clarifying_question:
            return None
        return self.models.resolve(plan.model)

    # -- tiers 1 and 2 -------------------------------------------------------------------------------------
    def first_tiers(self, prompt: str, *, history: Sequence[Message] = ()) -> Draft:
        """Rules, then the classifier if the rules are unsure. Never calls a model."""
        year = (self.today or date.today()).year
        has_history = any(getattr(m, "content", "") for m in history)
        analysis = analyze(prompt, year=year, has_history=has_history)
        scores = analysis.scores
        if analysis.vague:
            probabilities = dict.fromkeys(INTENTS, 0.0)
            probabilities[analysis.vague_guess] = 1.0
            return Draft(analysis, probabilities, "rules", unsure=False)
        ranked = sorted(scores.values(), reverse=True)
        decisive = ranked[0] >= RULES_DECISIVE_SCORE and ranked[0] - ranked[1] >= RULES_DECISIVE_MARGIN
        if decisive or analysis.critical or not self.use_classifier:
            probabilities = _softmax(scores)
            tier: Tier = "rules"
        else:
            predicted = self.classifier.predict(analysis.text)
            combined = {
                intent: math.log(max(predicted.get(intent, 0.0), 1e-6)) + RULES_WEIGHT * scores[intent]
                for intent in INTENTS
            }
            probabilities = _softmax(combined)
            tier = "classifier"
        best = sorted(probabilities.values(), reverse=True)
        unsure = not decisive and (best[0] < self.unsure_below or best[0] - best[1] < 0.15)
        return Draft(analysis, probabilities, tier, unsure=unsure and analysis.critical is None)

    # -- tier 3 ----------------------------------------------------------------------------------------------
    def _router_model(self, draft: Draft) -> Model | None:
        if not (draft.unsure and self.use_model and self.models is not None):
            return None
        profile = self.models.router_profile
        return self.models.resolve(profile.name) if profile is not None else None

    async def _ask(self, model: Model, prompt: str) -> tuple[ModelVerdict | None, str]:
        from .._errors import AgentkitError

        try:
            return await ask_model(model, prompt), f"model tier: {model.name}"
        except AgentkitError as exc:
            return None, f"model tier failed ({type(exc).__name__}: {str(exc)[:200]}); first tiers kept"

    # -- the decision ----------------------------------------------------------------------------------------
    def _decide(
        self, draft: Draft, verdict: ModelVerdict | None, note: str | None, tools: Sequence[Tool] | None,
        history: Sequence[Message],
    ) -> RoutingDecision:
        a = draft.analysis
        probabilities = dict(draft.probabilities)
        tier = draft.tier
        signals = a.signals() + draft.notes + ([note] if note else [])
        if verdict is not None:
            probabilities = {k: 0.15 * v for k, v in probabilities.items()}
            probabilities[verdict.intent] += 0.85
            tier = "model"
        intent = max(probabilities, key=probabilities.__getitem__)
        intents = [
            IntentScore(intent=k, confidence=round(v, 3))
            for k, v in sorted(probabilities.items(), key=lambda kv: -kv[1]) if v >= 0.01 or k == intent
        ]
        risk, risk_reasons = risk_level(a, intent)
        if verdict is not None and RISKS.index(verdict.risk) > RISKS.index(risk):
            risk, risk_reasons = verdict.risk, [*risk_reasons, f"{verdict.risk}:model"]
        fresh = self._freshness(a, intent) or bool(verdict and verdict.needs_fresh_data and intent == "web")
        actions: list[Effect] = ["read", *sorted(a.actions - {"read"})]
        common = {
            "intent": intent, "intents": intents, "language": a.language, "needs_fresh_data": fresh, "risk": risk,
            "risk_reasons": risk_reasons, "actions": actions, "tier": tier, "signals": signals,
        }
        if risk == "critical":
            return RoutingDecision(
                **common, tool_names=[], output_format="prose", preset="precise",
                refusal=replies.refusal(a.critical, a.language),
            )
        if a.vague or (verdict is not None and verdict.vague and not history):
            return RoutingDecision(
                **common, tool_names=[], output_format="prose", preset="precise", abstain=True,
                clarifying_question=replies.clarify(intent, a.language),
            )
        needed = self._needed_intents(a, intent, fresh)
        effects = {t.name: t.effect for t in tools} if tools is not None else dict(CATALOGUE)
        refusal_text: str | None = None
        capability: str | None = None
        if intent == "unsupported":
            capability = a.capability or "other"
            names = [n for n in effects if any(w in n.lower() for w in replies.CAPABILITY_TOOL_WORDS.get(capability, ()))]
            if not names or tools is None:
                refusal_text = replies.unsupported(capability, a.language)
                names = []
        else:
            names = self.tool_map.select(needed, a.actions, tools)
        tool_choice = self._tool_choice(a, intent, fresh, names, effects)
        fmt = self._output_format(a, intent)
        preset = self._preset(a, intent)
        model_name, model_reason = None, None
        if self.models is not None and refusal_text is None:
            needs = self._requirements(a, intent, risk, needed, names, history)
            profile, model_reason = self.models.choose(needs)
            model_name = profile.name
        return RoutingDecision(
            **common, tool_names=names, tool_choice=tool_choice, output_format=fmt, preset=preset,
            model=model_name, model_reason=model_reason, refusal=refusal_text, unsupported_capability=capability,
        )

    @staticmethod
    def _freshness(a: Analysis, intent: Intent) -> bool:
        if intent == "web":
            return not (a.reference_lookup and not a.fresh_strong and not a.recent_year)
        if intent == "calculation":
            return a.temporal_currency
        if intent == "chat":
            return a.fresh_strong or a.recent_year
        return False

    @staticmethod
    def _needed_intents(a: Analysis, intent: Intent, fresh: bool) -> list[Intent]:
        needed: list[Intent] = [intent]
        top = max(a.scores.values())
        for other, score in sorted(a.scores.items(), key=lambda kv: -kv[1]):
            if other not in needed and other not in ("chat", "unsupported") and score >= SECONDARY_SCORE \
                    and score >= 0.6 * top:
                needed.append(other)
        if fresh and "web" not in needed:
            needed.append("web")
        if intent == "chat":
            needed.remove("chat")
        return needed

    def _tool_choice(
        self, a: Analysis, intent: Intent, fresh: bool, names: list[str], effects: dict[str, Effect],
    ) -> ToolChoicePlan | None:
        if not any(self.tool_map.serves(n, effects[n], intent) for n in names):
            return None
        if intent in ("calculation", "mail", "calendar"):
            return "required"
        if intent == "web" and (fresh or a.has("web", "search_online")):
            return "required"
        if intent in ("file", "code") and a.file_reference:
            return "required"
        return None

    @staticmethod
    def _output_format(a: Analysis, intent: Intent) -> OutputFormat:
        if a.format_cue is not None and not (a.format_cue == "patch" and intent != "code"):
            return a.format_cue
        writes = bool(a.actions & {"write", "send"})
        if intent == "code":
            repair = a.has("code", "error_class") or a.has("code", "crash") or (
                writes and (a.has("code", "code_file") or a.has("code", "repair_verb")))
            if repair:
                return "patch"
            return "code" if a.has("code", "code_request") or a.has("code", "code_syntax") else "prose"
        if intent == "calculation":
            return "short_answer"
        if intent == "mail":
            return "email" if writes else "prose"
        if intent == "calendar":
            return "event" if writes else "list"
        return "prose"

    @staticmethod
    def _preset(a: Analysis, intent: Intent) -> PresetName:
        if intent == "code":
            return "code"
        if intent == "chat":
            return "creative" if a.creative else "balanced"
        if intent == "mail" and a.actions & {"write", "send"}:
            return "balanced"
        return "precise"

    @staticmethod
    def _requirements(
        a: Analysis, intent: Intent, risk: Risk, needed: list[Intent], names: list[str], history: Sequence[Message],
    ) -> Requirements:
        chars = a.length + sum(len(getattr(m, "content", "") or "") for m in history)
        context = math.ceil(chars / CHARS_PER_TOKEN) + OUTPUT_RESERVE_TOKENS + TOKENS_PER_TOOL * len(names) + 200
        reasoning: Level = "basic"
        if intent == "chat" and a.greeting:
            reasoning = "none"
        if intent == "code" or risk in ("high", "critical") or len(needed) >= 3:
            reasoning = "good"
        tool_calling: Level = "none"
        if names:
            multi = len([i for i in needed if i != "chat"]) >= 2
            tool_calling = "good" if multi or a.actions & {"send", "destructive"} else "basic"
        return Requirements(context_tokens=context, tool_calling=tool_calling, reasoning=reasoning)

