"""Router edge cases found by a defect hunt: empty and whitespace-only requests."""

from __future__ import annotations

from datetime import date

import pytest

from agentkit import Agent, UserMessage
from agentkit._events import Refused
from agentkit.router import Router
from agentkit.testing import ScriptedModel

TODAY = date(2026, 11, 29)


@pytest.mark.parametrize("prompt", ["", "   ", "\n\t  \n"])
def test_empty_request_asks_what_to_do(prompt: str) -> None:
    decision = Router(today=TODAY, use_model=False).route(prompt)
    assert decision.abstain
    assert decision.clarifying_question is not None
    assert decision.clarifying_question.startswith("What would you like me to do?")
    assert decision.tool_names == []


def test_empty_request_after_a_conversation_is_not_an_abstention() -> None:
    history = [UserMessage(content="Summarise notes.txt")]
    assert not Router(today=TODAY, use_model=False).route("  ", history=history).abstain


async def test_agent_does_not_send_an_empty_request_to_the_model() -> None:
    model = ScriptedModel([])
    agent = Agent(model, router=Router(today=TODAY, use_model=False))
    events = [e async for e in agent.run_stream("   ")]
    refused = next(e for e in events if isinstance(e, Refused))
    assert refused.kind == "clarification"
    assert model.requests == []
