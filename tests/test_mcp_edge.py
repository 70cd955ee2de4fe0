"""MCP servers whose tool lists are odd (a name declared twice, a dangling `$ref`): agentkit stays usable."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from agentkit import Agent
from agentkit.testing import ScriptedModel, call, text
from agentkit.toolkits.mcp import McpConnection, McpServerConfig

pytestmark = pytest.mark.server

ODD = str(Path(__file__).with_name("mcp_odd_server.py"))


@pytest.fixture(scope="module")
def odd() -> Iterator[McpConnection]:
    config = McpServerConfig(name="odd", command=sys.executable, args=[ODD], default_effect="read")
    with McpConnection(config) as connection:
        yield connection


def test_a_name_declared_twice_keeps_the_first_and_warns(caplog: pytest.LogCaptureFixture) -> None:
    config = McpServerConfig(name="odd", command=sys.executable, args=[ODD], default_effect="read")
    with caplog.at_level(logging.WARNING, logger="agentkit.mcp"), McpConnection(config) as connection:
        assert sorted(t.name for t in connection.tools) == ["dangling", "lookup"]
        lookup = next(t for t in connection.tools if t.name == "lookup")
        assert lookup.description == "Look a word up."
    assert "declares 'lookup' twice" in caplog.text


async def test_a_dangling_ref_is_a_correction_not_a_crash(odd: McpConnection) -> None:
    model = ScriptedModel([call("dangling", {"item": {"id": 1}}), call("lookup", {"word": "llama"}), text("done")])
    result = await Agent(model, tools=odd.tools).run("look it up")
    assert result.output == "done"
    refused = next(m for m in result.messages if m.role == "tool" and m.name == "dangling")
    assert refused.is_error
    assert "its inputSchema cannot be resolved" in refused.content
    assert "#/$defs/Item" in refused.content
    assert result.messages[-2].content == 'lookup {"word": "llama"}'
