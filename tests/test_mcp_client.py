"""MCP servers' tools as agentkit tools, against a real stdio MCP server (tests/mcp_demo_server.py) in a subprocess."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agentkit import Agent, ConfirmationRequest, Confirmer, ToolResultMessage, UserError
from agentkit.testing import ScriptedModel, call, text
from agentkit.toolkits import load_toolkit
from agentkit.toolkits.mcp import (
    Config,
    McpConnection,
    McpConnectionError,
    McpServerConfig,
    McpTool,
    McpToolError,
)

pytestmark = pytest.mark.server

DEMO = str(Path(__file__).with_name("mcp_demo_server.py"))


def demo_config(**overrides: Any) -> McpServerConfig:
    options: dict[str, Any] = {
        "name": "notes", "command": sys.executable, "args": [DEMO],
        "effects": {"search_notes": "read", "add_note": "write"},
    }
    options.update(overrides)
    return McpServerConfig.model_validate(options)


@pytest.fixture(scope="module")
def marker(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("mcp") / "marker.txt"


@pytest.fixture(scope="module")
def notes(marker: Path) -> Iterator[McpConnection]:
    with McpConnection(demo_config(env={"DEMO_MARKER": str(marker), "DEMO_ENV": "from-config"})) as connection:
        yield connection


def read_marker(path: Path) -> str:
    return path.read_text() if path.exists() else ""


def by_name(connection: McpConnection) -> dict[str, McpTool]:
    return {t.name: t for t in connection.tools}


def test_tools_are_discovered_with_effects_from_configuration(notes: McpConnection) -> None:
    tools = by_name(notes)
    assert sorted(tools) == ["add_note", "crash", "fail", "search_notes", "whoami"]
    assert {n: t.effect for n, t in tools.items()} == {
        "search_notes": "read", "add_note": "write", "fail": "destructive", "whoami": "destructive",
        "crash": "destructive",
    }
    search = tools["search_notes"]
    assert search.description == "Find notes whose title or text contains the query."
    assert search.parameters_schema["required"] == ["query"]
    assert search.parameters_schema["properties"]["limit"]["type"] == "integer"
    assert search.parameters_schema["properties"]["query"] == {"type": "string"}  # server's titles dropped
    assert "title" not in search.parameters_schema
    assert all(t.output_provenance == "untrusted" for t in tools.values())
    assert notes.server_name == "demo-notes"


async def test_agent_calls_a_remote_read_tool(notes: McpConnection) -> None:
    model = ScriptedModel([call("search_notes", {"query": "alpaca"}), text("Alpacas are smaller.")])
    result = await Agent(model, tools=notes.tools).run("alpacas?")
    assert result.output == "Alpacas are smaller."
    tool_message = result.messages[-2]
    assert tool_message.content == "alpacas: Alpacas are smaller than llamas."
    assert tool_message.provenance == "untrusted"


async def test_arguments_are_validated_against_the_input_schema(notes: McpConnection) -> None:
    model = ScriptedModel([
        call("search_notes", {"query": 3}),
        call("search_notes", {"limit": 1}),
        call("search_notes", {"query": "llama", "limit": 1}),
        text("ok"),
    ])
    result = await Agent(model, tools=notes.tools).run("llamas?")
    corrections = [m.content for m in result.messages if m.role == "tool" and m.is_error]
    assert "- query: 3 is not of type 'string' (got 3)" in corrections[0]
    assert "'query' is a required property" in corrections[1]
    assert result.messages[-2].content == "llamas: Llamas hum when they are content."


async def test_write_tool_goes_through_the_gate(notes: McpConnection, marker: Path) -> None:
    args = {"title": "vicuna", "text": "Vicunas are wild."}
    paused = await Agent(ScriptedModel([call("add_note", args)]), tools=notes.tools).run("note it")
    assert paused.status == "awaiting_confirmation"
    assert paused.state is not None
    assert paused.state.pending[0].effect == "write"
    assert "vicuna" not in read_marker(marker)  # nothing ran while unconfirmed

    seen: list[ConfirmationRequest] = []

    def approve(request: ConfirmationRequest) -> bool:
        seen.append(request)
        return True

    confirmer = Confirmer(approve, by="test")
    model = ScriptedModel([call("add_note", args), text("noted")])
    result = await Agent(model, tools=notes.tools, confirmer=confirmer).run("note it")
    assert result.output == "noted"
    assert seen[0].effect == "write"
    assert read_marker(marker) == "add_note vicuna\n"


async def test_remote_errors_and_environment(notes: McpConnection) -> None:
    tools = by_name(notes)
    with pytest.raises(McpToolError, match="failed on purpose: test"):
        await tools["fail"].call_remote({"reason": "test"})
    assert (await tools["whoami"].call_remote({})).endswith("DEMO_ENV=from-config")
    confirmer = Confirmer(lambda _request: True, by="test")
    model = ScriptedModel([call("fail", {"reason": "x"}), text("it failed")])
    result = await Agent(model, tools=notes.tools, confirmer=confirmer).run("try")
    failed = result.messages[-2]
    assert isinstance(failed, ToolResultMessage)
    assert failed.is_error
    assert result.messages[-2].content == "Tool fail failed: McpToolError: Error executing tool fail: failed on purpose: x"


async def test_registry_toolkit_and_clean_shutdown() -> None:
    tools = load_toolkit("mcp", {"servers": [
        {"name": "notes", "command": sys.executable, "args": [DEMO], "prefix": "n_", "include": ["whoami"],
         "effects": {"whoami": "read"}},
    ]})
    assert [(t.name, t.effect) for t in tools] == [("n_whoami", "read")]
    tool = tools[0]
    assert isinstance(tool, McpTool)
    pid = int((await tool.call_remote({})).split()[0].removeprefix("pid="))
    os.kill(pid, 0)  # alive while the connection is open
    tool.connection.close()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # gone (and reaped) once it is closed
    with pytest.raises(McpToolError, match="is closed"):
        await tool.call_remote({})


async def test_a_server_dying_mid_session_is_reported() -> None:
    async with McpConnection(demo_config(include=["whoami", "crash"])) as connection:
        whoami, crash = sorted(connection.tools, key=lambda t: t.name != "whoami")
        pid = int((await whoami.call_remote({})).split()[0].removeprefix("pid="))
        with pytest.raises(McpToolError, match=r"notes\.crash"):
            await crash.call_remote({})
        with pytest.raises(McpToolError):
            await whoami.call_remote({})
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_a_server_that_never_answers_is_stopped(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    script = "import os, sys, time; open(sys.argv[1], 'w').write(str(os.getpid())); time.sleep(60)"
    config = McpServerConfig(name="mute", command=sys.executable, args=["-c", script, str(pid_file)],
                             connect_timeout=1)
    with pytest.raises(McpConnectionError, match="did not answer within connect_timeout=1 s"):
        McpConnection(config).start()
    with pytest.raises(ProcessLookupError):
        os.kill(int(pid_file.read_text()), 0)


def test_configuration_errors_say_what_to_fix() -> None:
    with pytest.raises(McpConnectionError, match="check the command"):
        McpConnection(demo_config(command="/nonexistent/mcp-server", args=[])).start()
    with pytest.raises(UserError, match="has no tool named 'serch_notes'"):
        McpConnection(demo_config(effects={"serch_notes": "read"})).start()
    with pytest.raises(ValueError, match="either command"):
        McpServerConfig(name="x")
    with pytest.raises(ValueError, match="either command"):
        McpServerConfig(name="x", command="a", url="http://127.0.0.1:1/mcp")
    with pytest.raises(ValueError, match="unique"):
        Config.model_validate({"servers": [{"name": "a", "command": "x"}, {"name": "a", "command": "y"}]})
    with pytest.raises(UserError, match="servers"):
        load_toolkit("mcp", {})
    with pytest.raises(McpConnectionError, match="is the server running"):
        McpConnection(McpServerConfig(name="down", url="http://127.0.0.1:9/mcp", connect_timeout=5)).start()
