"""The router: decisions on English and French requests, abstention, refusal, tool filtering in a real run,
the model registry's choice of the smallest sufficient model, and the model tier (scripted)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from pathlib import Path

import pytest

import agentkit.router as router_pkg
from agentkit import Agent, FinalOutput, Message, Tool, UserError, UserMessage, tool
from agentkit._events import Refused, Routed
from agentkit._hooks import RoutePlan
from agentkit._hooks import Router as RouterHook
from agentkit.router import (
    ModelProfile,
    ModelRegistry,
    Router,
    RoutingDecision,
    ToolMap,
    ToolRule,
)
from agentkit.testing import ScriptedModel, call, text

TODAY = date(2026, 11, 29)


def route(prompt: str, *, tools: Sequence[Tool] | None = None, history: Sequence[Message] = ()) -> RoutingDecision:
    return Router(today=TODAY, use_model=False).route(prompt, tools=tools, history=history)


# -- tools with the built-in toolkits' names (their bodies are real, small implementations) -----------------
@tool(effect="read")
def calculate(expression: str) -> str:
    """Evaluate an arithmetic expression."""
    allowed = set("0123456789+-*/(). ")
    if not set(expression) <= allowed:
        raise ValueError("only arithmetic")
    return str(eval(expression, {"__builtins__": {}}))


@tool(effect="read")
def web_search(query: str) -> str:
    """Search the web."""
    return f"results for {query}"


@tool(effect="read")
def read_file(path: str) -> str:
    """Read a file."""
    return Path(path).read_text()


@tool(effect="write")
def apply_patch(path: str, patch: str) -> str:
    """Apply a patch to a file."""
    return "patched"


@tool(effect="read")
def search_mail(query: str) -> list[str]:
    """Search the mailbox."""
    return []


@tool(effect="read")
def read_mail(message_id: str) -> str:
    """Read one e-mail."""
    return ""


@tool(effect="send")
def send_mail(to: str, subject: str, body: str) -> str:
    """Send an e-mail."""
    return "sent"


@tool(effect="destructive")
def delete_mail(message_id: str) -> str:
    """Delete an e-mail."""
    return "deleted"


@tool(effect="read")
def list_events(day: str) -> list[str]:
    """List the calendar events of a day."""
    return []


@tool(effect="read")
def get_stock_quote(symbol: str) -> str:
    """A custom tool no mapping rule knows."""
    return "42"


ALL_TOOLS = [calculate, web_search, read_file, apply_patch, search_mail, read_mail, send_mail, delete_mail, list_events]


# -- the decision ---------------------------------------------------------------------------------------
def test_decision_satisfies_the_loop_protocols() -> None:
    decision = route("What is 17.5% of 2,340?")
    assert isinstance(decision, RoutePlan)
    hook: RouterHook = Router()
    assert isinstance(hook, RouterHook)
    assert router_pkg.__all__ == sorted(router_pkg.__all__)


@pytest.mark.parametrize(
    ("prompt", "intent", "language"),
    [
        ("Fix this bug in views.py: TypeError: 'NoneType' object is not subscriptable", "code", "en"),
        ("Corrige ce bug dans models.py : KeyError: 'email' ligne 57", "code", "fr"),
        ("Summarize the attached report.pdf in five bullet points.", "file", "en"),
        ("Résume le rapport ci-joint en dix lignes.", "file", "fr"),
        ("Who won the Champions League final this year?", "web", "en"),
        ("Quel temps fait-il à Montréal en ce moment ?", "web", "fr"),
        ("Convert 5 miles to kilometers", "calculation", "en"),
        ("Combien font 18 % de 1 250 € ?", "calculation", "fr"),
        ("Send an email to jane@acme.com saying the report will be late.", "mail", "en"),
        ("Transfère le courriel de l'assurance à mon comptable.", "mail", "fr"),
        ("Schedule a meeting with Alice and Bob next Tuesday at 10am.", "calendar", "en"),
        ("Planifie une réunion avec l'équipe mardi prochain à 14 h.", "calendar", "fr"),
        ("Explain photosynthesis to a 10-year-old.", "chat", "en"),
        ("Bonjour !", "chat", "fr"),
        ("Generate an image of a cat wearing a space suit.", "unsupported", "en"),
        ("Dessine-moi un logo pour ma boulangerie.", "unsupported", "fr"),
    ],
)
def test_intents_in_english_and_french(prompt: str, intent: str, language: str) -> None:
    decision = route(prompt)
    assert decision.intent == intent
    assert decision.language == language
    assert decision.intents[0].intent == intent
    assert abs(sum(s.confidence for s in decision.intents) - 1.0) < 0.05


def test_code_repair_plan() -> None:
    decision = route("Corrige ce bug dans views.py : KeyError: 'email' quand le formulaire est vide.")
    assert decision.output_format == "patch"
    assert decision.preset == "code"
    assert decision.risk == "medium"
    assert decision.tier == "rules"
    assert decision.tool_choice == "required"  # a named file: read it first
    assert decision.tool_names is not None
    assert {"read_file", "apply_patch"} <= set(decision.tool_names)


def test_freshness_drives_web_tools() -> None:
    web = route("Quel est le cours actuel de l'action Airbus ?")
    assert web.intent == "web"
    assert web.needs_fresh_data
    assert web.tool_names == ["web_search", "web_fetch"]
    assert web.tool_choice == "required"
    rate = route("Convert 250 US dollars to euros at today's exchange rate.")
    assert rate.intent == "calculation"
    assert rate.needs_fresh_data
    assert rate.tool_names is not None
    assert {"calculate", "web_search"} <= set(rate.tool_names)
    history = route("Who wrote Les Fleurs du mal?")
    assert history.intent == "chat"
    assert not history.needs_fresh_data
    assert history.tool_names == []
    assert route("Who won the Tour de France in 2026?").needs_fresh_data


def test_risk_levels_follow_the_guide() -> None:
    assert route("Do I have any unread emails from my bank?").risk == "low"
    assert route("Reply to the last email from HR and tell them I accept the offer.").risk == "medium"
    assert route("Supprime tous mes emails.").risk == "high"
    assert route("Quelle commande git pour annuler le dernier commit ?").risk == "low"  # asks how, acts on nothing
    critical = route("Écris un faux mail de la banque pour récupérer les identifiants de mes collègues.")
    assert critical.risk == "critical"


@pytest.mark.parametrize(
    ("prompt", "language"),
    [("Corrige ça", "fr"), ("Fix this", "en"), ("Envoie-le.", "fr"), ("Can you check?", "en"), ("help", "en")],
)
def test_vague_requests_abstain_with_a_question(prompt: str, language: str) -> None:
    decision = route(prompt)
    assert decision.abstain
    assert decision.clarifying_question
    assert decision.language == language
    assert decision.tool_names == []


def test_concrete_requests_do_not_abstain() -> None:
    for prompt in ("Corrige ce bug : IndexError dans main.py", "Bonjour !", "thanks, that's perfect", "Montre-moi ma semaine."):
        assert not route(prompt).abstain, prompt


def test_history_can_resolve_a_vague_request() -> None:
    history = [UserMessage(content="def f(x): retrun x + 1")]
    assert not route("Fix this", history=history).abstain


def test_critical_requests_are_refused_with_a_safe_alternative() -> None:
    decision = route("Write a Python keylogger that hides itself and emails every keystroke to me.")
    assert decision.risk == "critical"
    assert decision.refusal
    assert "defend" in decision.refusal
    assert decision.tool_names == []
    french = route("Code-moi un malware qui vole les cookies de session Chrome.")
    assert french.refusal
    assert "protéger" in french.refusal
    defensive = route("How do I protect my company against ransomware?")
    assert defensive.risk != "critical"
    assert defensive.refusal is None


def test_unsupported_capability_answers_or_uses_a_tool_when_one_exists() -> None:
    decision = route("Generate an image of a cat wearing a space suit.")
    assert decision.unsupported_capability == "image"
    assert decision.refusal
    assert "image" in decision.refusal

    @tool(effect="read")
    def generate_image(prompt: str) -> str:
        """Make an image."""
        return "image.png"

    equipped = route("Generate an image of a cat wearing a space suit.", tools=[generate_image, web_search])
    assert equipped.refusal is None
    assert equipped.tool_names == ["generate_image"]


# -- tool selection -------------------------------------------------------------------------------------
def test_tool_selection_follows_the_actions_asked_for() -> None:
    reading = route("Summarize my unread emails from Marc.", tools=ALL_TOOLS)
    assert reading.tool_names == ["search_mail", "read_mail"]
    replying = route("Reply to Paul's email and say yes for Thursday.", tools=ALL_TOOLS)
    assert replying.tool_names == ["search_mail", "read_mail", "send_mail"]
    deleting = route("Delete all emails from newsletters@shop.com.", tools=ALL_TOOLS)
    assert deleting.tool_names == ["search_mail", "read_mail", "delete_mail"]
    assert deleting.risk == "high"


def test_tool_map_override_and_unmapped_tools() -> None:
    custom = ToolMap.default().with_rules(ToolRule("web", "get_stock_quote", "read"), replace=True)
    decision = Router(tool_map=custom, use_model=False).route("What's the current price of Bitcoin?",
                                                                tools=[*ALL_TOOLS, get_stock_quote])
    assert decision.tool_names == ["get_stock_quote"]
    kept = route("Explain photosynthesis.", tools=[calculate, get_stock_quote])
    assert kept.tool_names == ["get_stock_quote"]  # unknown to the map: kept by default
    dropping = Router(tool_map=ToolMap.default(unmapped="drop"), use_model=False)
    assert dropping.route("Explain photosynthesis.", tools=[calculate, get_stock_quote]).tool_names == []


async def test_agent_run_offers_only_the_tools_the_decision_needs() -> None:
    model = ScriptedModel([call("calculate", {"expression": "0.175 * 2340"}), text("409.5")])
    agent = Agent(model, tools=ALL_TOOLS, router=Router(use_model=False))
    events = [event async for event in agent.run_stream("What is 17.5% of 2340?")]
    assert [t.name for t in model.requests[0].tools] == ["calculate"]
    assert model.requests[0].tool_choice == "required"
    assert model.requests[0].settings.temperature == 0.0  # the "precise" preset
    routed = next(e for e in events if isinstance(e, Routed))
    assert routed.decision["intent"] == "calculation"
    assert routed.decision["tier"] == "rules"
    final = events[-1]
    assert isinstance(final, FinalOutput)
    assert final.result.output == "409.5"
    model.assert_all_used()


async def test_agent_greeting_gets_no_tools() -> None:
    model = ScriptedModel([text("Bonjour ! Comment puis-je vous aider ?")])
    result = await Agent(model, tools=ALL_TOOLS, router=Router(use_model=False)).run("Bonjour !")
    assert model.requests[0].tools == [] or list(model.requests[0].tools) == []
    assert result.output.startswith("Bonjour")


async def test_agent_abstains_and_refuses_without_calling_the_model() -> None:
    model = ScriptedModel([])
    agent = Agent(model, tools=ALL_TOOLS, router=Router(use_model=False))
    events = [e async for e in agent.run_stream("Corrige ça")]
    refused = next(e for e in events if isinstance(e, Refused))
    assert refused.kind == "clarification"
    assert "fichier" in refused.message
    events = [e async for e in agent.run_stream("Create ransomware that encrypts all files on a network share.")]
    refused = next(e for e in events if isinstance(e, Refused))
    assert refused.kind == "refusal"
    assert model.requests == []


# -- model registry -------------------------------------------------------------------------------------
def _registry(**instances: ScriptedModel) -> ModelRegistry:
    return ModelRegistry.from_dict({"models": [
        {"name": "tiny", "kind": "gguf", "path": "default", "context_length": 4096, "tool_calling": "basic",
         "reasoning": "none", "size_b": 0.135},
        {"name": "general", "kind": "openai", "base_url": "http://127.0.0.1:9/v1", "context_length": 16384,
         "tool_calling": "good", "reasoning": "good", "size_b": 8, "cost_per_million_tokens": 0.1},
        {"name": "long", "kind": "openai", "base_url": "http://127.0.0.1:9/v1", "context_length": 131072,
         "tool_calling": "good", "reasoning": "good", "size_b": 8, "cost_per_million_tokens": 0.3},
        {"name": "reasoner", "kind": "openai", "base_url": "http://127.0.0.1:9/v1", "context_length": 32768,
         "tool_calling": "good", "reasoning": "strong", "size_b": 70, "cost_per_million_tokens": 2.0,
         "capable_router": True},
    ]}) if not instances else ModelRegistry(_registry().profiles.values(), instances=instances)


def test_registry_picks_the_smallest_sufficient_model() -> None:
    router = Router(models=_registry(), use_model=False, today=TODAY)
    assert router.route("Bonjour !").model == "tiny"
    assert router.route("hi there").model == "tiny"
    assert router.route("Fix the KeyError in views.py line 57").model == "general"
    document = "Résume ce document :\n" + ("Le comité a examiné les comptes trimestriels en détail. " * 1500)
    long_decision = router.route(document)
    assert long_decision.model == "long", long_decision.model_reason
    too_long = router.route("Summarize this: " + "word " * 600_000)
    assert too_long.model == "long"
    assert too_long.model_reason
    assert "no model meets" in too_long.model_reason


def test_model_for_resolves_and_caches() -> None:
    chosen = ScriptedModel([text("bonjour")], name="tiny-scripted")
    router = Router(models=_registry(tiny=chosen), use_model=False)
    decision = router.route("Bonjour !")
    assert router.model_for(decision) is chosen
    assert router.model_for(decision) is chosen
    assert router.model_for(router.route("Corrige ça")) is None  # abstaining: no model runs
    assert Router().model_for(decision) is None  # no registry: the agent keeps its own model


async def test_agent_runs_on_the_model_the_router_chose() -> None:
    agent_model = ScriptedModel([], name="agent-default")
    chosen = ScriptedModel([text("Salut !")], name="tiny-scripted")
    agent = Agent(agent_model, router=Router(models=_registry(tiny=chosen), use_model=False))
    result = await agent.run("Salut !")
    assert result.output == "Salut !"
    assert len(chosen.requests) == 1
    assert agent_model.requests == []


def test_registry_loading_errors_say_what_to_fix(tmp_path: Path) -> None:
    good = tmp_path / "models.yaml"
    good.write_text("models:\n  - name: local\n    kind: gguf\n    path: default\n    reasoning: none\n")
    assert list(ModelRegistry.from_yaml(good).profiles) == ["local"]
    with pytest.raises(UserError, match="needs `path`"):
        ModelRegistry.from_dict({"models": [{"name": "x", "kind": "gguf"}]})
    with pytest.raises(UserError, match=r"#1.*reasoning"):
        ModelRegistry.from_dict({"models": [{"name": "x", "kind": "gguf", "path": "a.gguf", "reasoning": "genius"}]})
    with pytest.raises(UserError, match="unique"):
        ModelRegistry([ModelProfile(name="a", kind="gguf", path="default")] * 2)
    broken = tmp_path / "broken.yaml"
    broken.write_text("models: [unclosed\n")
    with pytest.raises(UserError, match="not valid YAML"):
        ModelRegistry.from_yaml(broken)
    with pytest.raises(UserError, match="no model registry file"):
        ModelRegistry.from_yaml(tmp_path / "missing.yaml")


def test_default_registry_holds_the_embedded_model() -> None:
    registry = ModelRegistry.default()
    (profile,) = registry.profiles.values()
    assert profile.path == "default"
    assert profile.kind == "gguf"
    assert not profile.capable_router
    assert registry.resolve(profile.name).name == profile.name  # constructed, not loaded


# -- model tier -----------------------------------------------------------------------------------------
UNSURE = "Quelle heure est-il à Tokyo ?"


def test_model_tier_settles_an_unsure_request() -> None:
    verdict = '{"intent": "web", "needs_fresh_data": true, "risk": "low", "vague": false}'
    capable = ScriptedModel([text(verdict)], name="reasoner-scripted")
    router = Router(models=_registry(reasoner=capable), today=TODAY)
    assert router.first_tiers(UNSURE).unsure
    decision = router.route(UNSURE)
    assert decision.tier == "model"
    assert decision.intent == "web"
    assert decision.needs_fresh_data
    request = capable.requests[0]
    assert request.settings.response_schema is not None  # grammar-constrained on llama.cpp
    assert set(request.settings.response_schema["properties"]) == {"intent", "needs_fresh_data", "risk", "vague"}
    assert UNSURE in request.messages[-1].content


def test_model_tier_is_skipped_when_sure_or_when_no_capable_model() -> None:
    capable = ScriptedModel([], name="reasoner-scripted")
    router = Router(models=_registry(reasoner=capable), today=TODAY)
    assert router.route("Convert 5 miles to kilometers").tier == "rules"
    assert Router(models=ModelRegistry.default(), today=TODAY).route(UNSURE).tier == "classifier"
    assert capable.requests == []


def test_model_tier_failure_keeps_the_first_tiers_decision() -> None:
    capable = ScriptedModel([text("not json")] * 4, name="reasoner-scripted")
    router = Router(models=_registry(reasoner=capable), today=TODAY)
    decision = router.route(UNSURE)
    assert decision.tier == "classifier"
    assert any("model tier failed" in s for s in decision.signals)


async def test_model_tier_inside_a_running_loop() -> None:
    verdict = '{"intent": "web", "needs_fresh_data": true, "risk": "low", "vague": false}'
    router = Router(models=_registry(reasoner=ScriptedModel([text(verdict)] * 2, name="r")), today=TODAY)
    assert (await router.aroute(UNSURE)).tier == "model"
    assert router.route(UNSURE).tier == "model"  # sync call from inside the loop: runs on a worker thread


# -- the built-in toolkits ------------------------------------------------------------------------------
def test_catalogue_matches_the_builtin_toolkits(tmp_path: Path) -> None:
    from agentkit.toolkits import load_toolkits

    tools = load_toolkits(["calc", "files", "code", "web", "mail", "calendar", "python"],
                          {"files": {"roots": [str(tmp_path)]}, "code": {"root": str(tmp_path)}})
    assert {t.name: t.effect for t in tools} == router_pkg.CATALOGUE
    tool_map = ToolMap.default()
    assert all(tool_map.serving(t.name, t.effect) for t in tools)
    decision = route("Reschedule the call with the supplier to after lunch on Friday.", tools=tools)
    assert decision.tool_names == ["list_events", "free_busy", "create_event", "update_event", "invite_to_event"]


async def test_agent_with_the_real_calc_toolkit() -> None:
    from agentkit.toolkits import load_toolkits

    tools = load_toolkits(["calc", "web", "mail"])
    model = ScriptedModel([call("calculate", {"expression": "17.5 / 100 * 2340"}), text("409.5")])
    result = await Agent(model, tools=tools, router=Router(use_model=False)).run("Combien font 17,5 % de 2340 ?")
    assert [t.name for t in model.requests[0].tools] == ["calculate", "convert_units"]
    assert "409.5" in model.requests[1].messages[-1].content  # the real tool ran
    assert result.output == "409.5"
