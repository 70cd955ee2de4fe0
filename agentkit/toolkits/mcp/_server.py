"""agentkit toolkits served over MCP, every call passing an agentkit Gate first.

MCP has no way to ask the person at the other end for a confirmation, so a call the gate does not
allow outright (`confirm` or `deny`) is refused: the client gets an error result naming the rule and the
reason, and nothing runs. Arguments are validated with the tool's own model before the gate sees them.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from typing import Any

import mcp_types
from mcp.server import Server, ServerRequestContext
from mcp.shared.exceptions import MCPError
from pydantic import ValidationError

from ..._errors import ModelRetry, UserError
from ..._gate import EffectGate, Gate, GateContext, PolicyDecision
from ..._messages import ToolCall
from ..._tools import RunContext, Tool, as_tools, format_validation_error, render_result

logger = logging.getLogger("agentkit.mcp")


class ReadOnlyGate:
    """Reads run; everything else is denied (not merely unconfirmed)."""

    async def decide(self, call: ToolCall, tool: Tool, ctx: GateContext) -> PolicyDecision:
        if tool.effect == "read":
            return PolicyDecision("allow", "read-only tool", "read_only.read")
        return PolicyDecision("deny", f"{tool.effect} tools are not served by this server", f"read_only.{tool.effect}")


GATES: dict[str, Callable[[], Gate]] = {"default": EffectGate, "read-only": ReadOnlyGate}


def gate_named(name: str) -> Gate:
    try:
        return GATES[name]()
    except KeyError:
        raise UserError(f"unknown policy {name!r}; choose one of: {', '.join(sorted(GATES))}") from None


class ToolServer:
    """Serves `tools` to MCP clients; each call is validated, gated, then executed."""

    def __init__(self, tools: Sequence[Tool], *, gate: Gate | None = None, name: str = "agentkit") -> None:
        self.tools = as_tools(tools)
        self.gate: Gate = gate or EffectGate()
        self.session_id = "mcp_" + uuid.uuid4().hex[:16]
        self.calls = 0
        self.server: Server[Any] = Server(
            name, version=_version(), instructions="agentkit tools; calls pass agentkit's policy gate.",
            on_list_tools=self._list_tools, on_call_tool=self._call_tool,
            get_tool_input_schema=self._input_schema,
        )

    def _input_schema(self, name: str) -> dict[str, Any] | None:
        tool = self.tools.get(name)
        return tool.parameters_schema if tool is not None else None

    def describe(self, tool: Tool) -> mcp_types.Tool:
        return mcp_types.Tool(
            name=tool.name, description=tool.description, input_schema=tool.parameters_schema,
            annotations=mcp_types.ToolAnnotations(
                read_only_hint=tool.effect == "read", destructive_hint=tool.effect == "destructive",
                open_world_hint=tool.effect == "send" or None,
            ),
        )

    async def _list_tools(
        self, ctx: ServerRequestContext[Any], params: mcp_types.PaginatedRequestParams | None,
    ) -> mcp_types.ListToolsResult:
        return mcp_types.ListToolsResult(tools=[self.describe(t) for t in self.tools.values()])

    async def _call_tool(
        self, ctx: ServerRequestContext[Any], params: mcp_types.CallToolRequestParams,
    ) -> mcp_types.CallToolResult:
        tool = self.tools.get(params.name)
        if tool is None:
            raise MCPError(
                mcp_types.INVALID_PARAMS, f"unknown tool {params.name!r}; this server offers: {', '.join(self.tools)}"
            )
        return await self.call(tool, dict(params.arguments or {}))

    async def call(self, tool: Tool, arguments: dict[str, Any]) -> mcp_types.CallToolResult:
        """Validate, gate and run one call; every outcome is a CallToolResult the client can show."""
        self.calls += 1
        call = ToolCall(id=f"{self.session_id}_{self.calls}", name=tool.name, arguments=arguments)
        try:
            validated = tool.validate(arguments)
        except ValidationError as exc:
            return _error(format_validation_error(tool.name, exc))
        decision = await self.gate.decide(call, tool, GateContext(run_id=self.session_id, messages=[]))
        logger.info("call %s (%s): %s by %s: %s", tool.name, tool.effect, decision.action, decision.rule, decision.reason)
        if decision.action != "allow":
            why = "needs a confirmation, which MCP cannot ask for" if decision.action == "confirm" else "is denied"
            return _error(
                f"Refused by agentkit policy: {tool.name} ({tool.effect}) {why}. Rule {decision.rule}: "
                f"{decision.reason}. Nothing was executed.",
                structured={"refused": True, "action": decision.action, "rule": decision.rule,
                            "reason": decision.reason, "effect": tool.effect},
            )
        ctx = RunContext(run_id=self.session_id, step=self.calls)
        try:
            value = await tool.execute(validated, ctx)
        except ModelRetry as retry:
            return _error(retry.message)
        except Exception as exc:  # the tool's failure is the caller's information, not the server's crash
            return _error(f"Tool {tool.name} failed: {type(exc).__name__}: {exc}")
        return mcp_types.CallToolResult(content=[mcp_types.TextContent(type="text", text=render_result(value))])

    async def serve_stdio(self) -> None:
        """Serve one client on this process's stdin/stdout until it disconnects."""
        from mcp.server.stdio import stdio_server

        async with stdio_server() as (read_stream, write_stream):
            await self.server.run(read_stream, write_stream, self.server.create_initialization_options())

    async def serve_http(self, *, host: str = "127.0.0.1", port: int = 8765, path: str = "/mcp") -> None:
        """Serve streamable HTTP on a loopback address (the endpoint has no authentication)."""
        import uvicorn

        if host not in ("127.0.0.1", "::1", "localhost"):
            raise UserError(f"refusing to serve MCP on {host}: the endpoint has no authentication; use 127.0.0.1")
        app = self.server.streamable_http_app(streamable_http_path=path, host=host)
        config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="on")
        await uvicorn.Server(config).serve()


def _error(text: str, *, structured: dict[str, Any] | None = None) -> mcp_types.CallToolResult:
    return mcp_types.CallToolResult(
        content=[mcp_types.TextContent(type="text", text=text)], is_error=True, structured_content=structured,
    )


def _version() -> str:
    from ... import __version__

    return __version__
