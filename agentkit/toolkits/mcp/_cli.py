"""`agentkit mcp serve` (agentkit toolkits to MCP clients) and `agentkit mcp tools` (list a server's tools).

    agentkit mcp serve --tools calc,files --policy default            # stdio, for desktop MCP clients
    agentkit mcp serve --tools web --transport http --port 8765       # streamable HTTP on 127.0.0.1
    agentkit mcp tools -- python my_server.py                         # what a server offers
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import logging
import sys
from typing import Any

from ..._errors import UserError
from ..._tools import Tool


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    mcp = subparsers.add_parser("mcp", help="Model Context Protocol: serve agentkit toolkits, list a server's tools")
    sub = mcp.add_subparsers(dest="mcp_command", metavar="SUBCOMMAND")
    sub.required = True

    serve = sub.add_parser("serve", help="serve agentkit toolkits to MCP clients, every call through the policy gate")
    serve.add_argument("--tools", "-t", required=True,
                       help="comma-separated toolkits (e.g. calc,files) or module:attribute entries")
    serve.add_argument("--policy", default="default",
                       help="gate: 'default' (reads run, the rest is refused: MCP cannot confirm) or 'read-only'")
    serve.add_argument("--options", default=None, help="JSON object of toolkit options, {toolkit: {...}}")
    serve.add_argument("--transport", choices=["stdio", "http"], default="stdio")
    serve.add_argument("--host", default="127.0.0.1", help="http: loopback address to bind")
    serve.add_argument("--port", type=int, default=8765, help="http: port")
    serve.add_argument("--name", default="agentkit", help="server name announced to clients")
    serve.add_argument("--verbose", "-v", action="store_true", help="log every call and decision to stderr")
    serve.set_defaults(func=cmd_serve)

    tools = sub.add_parser("tools", help="list the tools of an MCP server: a URL, or a command after --")
    tools.add_argument("--url", help="streamable HTTP endpoint, e.g. http://127.0.0.1:8765/mcp")
    tools.add_argument("--json", action="store_true")
    tools.add_argument("server_command", nargs=argparse.REMAINDER, help="-- command args... (stdio server)")
    tools.set_defaults(func=cmd_tools)


def load_tools(spec: str, options: dict[str, Any] | None = None) -> list[Tool]:
    """Toolkit names from the registry, or `module:attribute` naming a Tool, a list of tools, or a factory."""
    from .. import load_toolkit

    tools: list[Tool] = []
    for entry in (part.strip() for part in spec.split(",")):
        if not entry:
            continue
        if ":" not in entry:
            tools.extend(load_toolkit(entry, (options or {}).get(entry)))
            continue
        module_name, _, attribute = entry.partition(":")
        try:
            value = getattr(importlib.import_module(module_name), attribute)
        except (ImportError, AttributeError) as exc:
            raise UserError(f"cannot load tools from {entry!r}: {exc}") from None
        if callable(value) and not isinstance(value, Tool):
            value = value()
        items = [value] if isinstance(value, Tool) else list(value)
        if not all(isinstance(item, Tool) for item in items):
            raise UserError(f"{entry!r} must be a Tool, a list of tools, or a function returning them")
        tools.extend(items)
    if not tools:
        raise UserError("--tools named no tools; e.g. --tools calc,files")
    return tools


def cmd_serve(args: argparse.Namespace) -> int:
    from ._server import ToolServer, gate_named

    if args.verbose:
        logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="agentkit mcp: %(message)s")
    options: dict[str, Any] | None = None
    if args.options:
        try:
            options = json.loads(args.options)
        except ValueError as exc:
            raise UserError(f"--options must be a JSON object: {exc}") from None
        if not isinstance(options, dict):
            raise UserError("--options must be a JSON object of {toolkit: {option: value}}")
    server = ToolServer(load_tools(args.tools, options), gate=gate_named(args.policy), name=args.name)
    names = ", ".join(f"{t.name} ({t.effect})" for t in server.tools.values())
    print(f"agentkit mcp: serving {names} over {args.transport}, policy {args.policy}", file=sys.stderr, flush=True)
    if args.transport == "http":
        asyncio.run(server.serve_http(host=args.host, port=args.port))
    else:
        asyncio.run(server.serve_stdio())
    return 0


def cmd_tools(args: argparse.Namespace) -> int:
    from ._client import McpConnection
    from ._config import McpServerConfig

    command = list(args.server_command)
    if command and command[0] == "--":
        command = command[1:]
    if bool(command) == bool(args.url):
        raise UserError("give either --url URL or a server command after --, e.g. agentkit mcp tools -- python srv.py")
    config = McpServerConfig(name="server", url=args.url) if args.url else McpServerConfig(
        name="server", command=command[0], args=command[1:]
    )
    with McpConnection(config) as connection:
        rows: list[dict[str, Any]] = [
            {"name": t.remote_name, "effect_if_unconfigured": t.effect, "description": t.description,
             "input_schema": t.parameters_schema}
            for t in connection.tools
        ]
    if args.json:
        print(json.dumps(rows, indent=2, ensure_ascii=False))
        return 0
    for row in rows:
        summary = str(row["description"]).splitlines()[0] if row["description"] else ""
        print(f"{row['name']}: {summary}")
    print(f"({len(rows)} tools; effects default to 'destructive' until configured)", file=sys.stderr)
    return 0
