"""A real MCP server (stdio) whose tool list is odd on purpose: a name declared twice, a dangling `$ref`.

Started as a subprocess by tests/test_mcp_edge.py, never imported by them.
"""

from __future__ import annotations

import json
from typing import Any

import anyio
import mcp_types
from mcp.server import Server, ServerRequestContext
from mcp.server.stdio import stdio_server

TOOLS = [
    mcp_types.Tool(name="lookup", description="Look a word up.",
                   input_schema={"type": "object", "properties": {"word": {"type": "string"}}, "required": ["word"]}),
    mcp_types.Tool(name="lookup", description="The same name again, declared by a careless server.",
                   input_schema={"type": "object", "properties": {"other": {"type": "integer"}}}),
    mcp_types.Tool(name="dangling", description="Its schema points at a definition that does not exist.",
                   input_schema={"type": "object", "properties": {"item": {"$ref": "#/$defs/Item"}}}),
]


async def list_tools(ctx: ServerRequestContext[Any], params: Any) -> mcp_types.ListToolsResult:
    return mcp_types.ListToolsResult(tools=TOOLS)


async def call_tool(ctx: ServerRequestContext[Any], params: mcp_types.CallToolRequestParams) -> mcp_types.CallToolResult:
    text = f"{params.name} {json.dumps(params.arguments or {}, sort_keys=True)}"
    return mcp_types.CallToolResult(content=[mcp_types.TextContent(type="text", text=text)])


async def main() -> None:
    server: Server[Any] = Server("odd", on_list_tools=list_tools, on_call_tool=call_tool)
    async with stdio_server() as (read_stream, write_stream):
        await server.run(read_stream, write_stream, server.create_initialization_options())


if __name__ == "__main__":
    anyio.run(main)
