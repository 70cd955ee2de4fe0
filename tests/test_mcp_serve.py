"""`agentkit mcp serve`: agentkit tools to MCP clients, every call through the gate.

Driven by the real `mcp` client: over stdio against the CLI in a subprocess, over streamable HTTP on
127.0.0.1, and in process (the mcp package's own in-memory path) for the gate variants.
"""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import mcp_types
import pytest
from mcp import Client

from agentkit import EffectGate, GateContext, PolicyDecision, Tool, ToolCall, UserError
from agentkit._cli import main
from agentkit.toolkits import available_toolkits
from agentkit.toolkits.mcp import McpConnection, McpServerConfig, ReadOnlyGate, ToolServer, gate_named

from . import mcp_toolkit

pytestmark = pytest.mark.server

ROOT = Path(__file__).resolve().parents[1]
SERVE = [sys.executable, "-m", "agentkit._cli", "mcp", "serve", "--tools", "tests.mcp_toolkit:tools"]
HAS_CALC = "calc" in available_toolkits()  # written by another part of agentkit; served too when present


@pytest.fixture(scope="module")
def marker(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("serve") / "marker.txt"


@pytest.fixture(scope="module")
def served(marker: Path) -> Iterator[McpConnection]:
    tools = SERVE[-1] + (",calc" if HAS_CALC else "")
    config = McpServerConfig(
        name="agentkit", command=SERVE[0], args=[*SERVE[1:-1], tools, "--policy", "default"], cwd=ROOT,
        env={"MCP_TOOLKIT_MARKER": str(marker)}, default_effect="read",
    )
    with McpConnection(config) as connection:
        yield connection


def marker_exists(path: Path) -> bool:
    return path.exists()


def only_text(result: mcp_types.CallToolResult) -> str:
    assert len(result.content) == 1
    block = result.content[0]
    assert isinstance(block, mcp_types.TextContent)
    return block.text


def test_serve_lists_the_toolkit_with_its_schemas(served: McpConnection) -> None:
    local = {t.name: t for t in mcp_toolkit.tools()}
    remote = {t.name: t for t in served.tools if t.name in local}
    assert sorted(remote) == sorted(local)
    for name, tool in local.items():
        assert remote[name].parameters_schema == tool.parameters_schema
        assert remote[name].description == tool.description


async def test_serve_runs_allowed_calls_and_refuses_the_rest(served: McpConnection, marker: Path) -> None:
    added = await served.call_tool("add", {"a": 1, "b": 2.5})
    assert (added.is_error, only_text(added)) == (False, "3.5")

    refused = await served.call_tool("write_note", {"text": "should not be written"})
    assert refused.is_error
    assert only_text(refused).startswith(
        "Refused by agentkit policy: write_note (write) needs a confirmation, which MCP cannot ask for. "
        "Rule default.write:"
    )
    assert refused.structured_content == {
        "refused": True, "action": "confirm", "rule": "default.write", "reason": "write tool needs confirmation",
        "effect": "write",
    }
    assert not marker_exists(marker)  # the tool never ran

    invalid = await served.call_tool("add", {"a": "one"})
    assert invalid.is_error
    assert "- a: Input should be a valid number" in only_text(invalid)
    assert "- b: Field required" in only_text(invalid)

    exploded = await served.call_tool("explode", {"message": "kaput"})
    assert (exploded.is_error, only_text(exploded)) == (True, "Tool explode failed: RuntimeError: kaput")
    picky = await served.call_tool("picky", {"word": "now"})
    assert (picky.is_error, only_text(picky)) == (True, "say please")


@pytest.mark.skipif(not HAS_CALC, reason="the calc toolkit is not registered yet")
async def test_calc_toolkit_over_mcp(served: McpConnection) -> None:
    result = await served.call_tool("calculate", {"expression": "(2.5 + 4) * 3"})
    assert (result.is_error, only_text(result)) == (False, "19.5")


async def test_agentkit_client_over_agentkit_server(served: McpConnection) -> None:
    """The two halves together: an agent calls a served tool through its own MCP client."""
    from agentkit import Agent
    from agentkit.testing import ScriptedModel, call, text

    model = ScriptedModel([call("add", {"a": 40, "b": 2}), text("42")])
    result = await Agent(model, tools=served.tools).run("40 + 2?")
    assert result.messages[-2].content == "42.0"
    assert result.output == "42"


async def test_unknown_tool_is_a_protocol_error() -> None:
    server = ToolServer(mcp_toolkit.tools())
    async with Client(server.server) as client:
        with pytest.raises(Exception, match="unknown tool 'nope'"):
            await client.call_tool("nope", {})


class AllowWrites:
    """A gate of the test's own: the server must obey whatever gate it is given."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    async def decide(self, call: ToolCall, tool: Tool, ctx: GateContext) -> PolicyDecision:
        self.calls.append((call.name, dict(call.arguments)))
        assert ctx.run_id.startswith("mcp_")
        return PolicyDecision("allow", "test allows everything", "test.allow")


async def test_the_gate_decides(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    marker = tmp_path / "marker.txt"
    monkeypatch.setenv("MCP_TOOLKIT_MARKER", str(marker))
    gate = AllowWrites()
    async with Client(ToolServer(mcp_toolkit.tools(), gate=gate).server) as client:
        result = await client.call_tool("write_note", {"text": "allowed by the gate"})
    assert not result.is_error
    assert marker.read_text() == "allowed by the gate\n"
    assert gate.calls == [("write_note", {"text": "allowed by the gate"})]

    async with Client(ToolServer(mcp_toolkit.tools(), gate=ReadOnlyGate()).server) as client:
        denied = await client.call_tool("write_note", {"text": "denied"})
        allowed = await client.call_tool("add", {"a": 1, "b": 1})
    assert denied.is_error
    assert "write_note (write) is denied. Rule read_only.write" in only_text(denied)
    assert only_text(allowed) == "2.0"
    assert marker.read_text() == "allowed by the gate\n"
    assert isinstance(gate_named("default"), EffectGate)
    with pytest.raises(UserError, match="unknown policy 'lax'"):
        gate_named("lax")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _start_http_server(port: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [*SERVE, "--transport", "http", "--port", str(port), "--policy", "read-only"], cwd=ROOT,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )


def _wait_for_port(port: int, process: subprocess.Popen[bytes], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the server exited with {process.returncode}")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise AssertionError("the server did not listen in time")


async def test_serve_over_streamable_http(capsys: pytest.CaptureFixture[str]) -> None:
    port = _free_port()
    process = _start_http_server(port)
    try:
        await asyncio.to_thread(_wait_for_port, port, process)
        url = f"http://127.0.0.1:{port}/mcp"
        async with McpConnection(McpServerConfig(name="http", url=url, effects={"add": "read"})) as connection:
            assert sorted(t.name for t in connection.tools) == ["add", "explode", "picky", "write_note"]
            added = await connection.call_tool("add", {"a": 2, "b": 3})
            assert only_text(added) == "5.0"
            denied = await connection.call_tool("write_note", {"text": "x"})
            assert denied.is_error
            assert "is denied" in only_text(denied)
        code = await asyncio.to_thread(main, ["mcp", "tools", "--url", url, "--json"])
        assert code == 0
        listed = json.loads(capsys.readouterr().out)
        assert [row["name"] for row in listed] == ["add", "write_note", "explode", "picky"]
        assert {row["effect_if_unconfigured"] for row in listed} == {"destructive"}
    finally:
        process.terminate()
        process.wait(timeout=15)


def test_serve_cli_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["mcp", "serve", "--tools", "no_such_toolkit"]) == 2
    assert "unknown toolkit 'no_such_toolkit'" in capsys.readouterr().err
    assert main(["mcp", "serve", "--tools", "tests.mcp_toolkit:missing"]) == 2
    assert "cannot load tools from 'tests.mcp_toolkit:missing'" in capsys.readouterr().err
    assert main(["mcp", "serve", "--tools", "tests.mcp_toolkit:tools", "--policy", "lax"]) == 2
    assert main(["mcp", "serve", "--tools", "tests.mcp_toolkit:tools", "--transport", "http",
                 "--host", "0.0.0.0"]) == 2
    assert "no authentication" in capsys.readouterr().err
    assert main(["mcp", "tools"]) == 2
