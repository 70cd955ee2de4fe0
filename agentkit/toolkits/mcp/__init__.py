"""The "mcp" toolkit: tools of Model Context Protocol servers as agentkit tools, and agentkit tools as an MCP server.

    from agentkit.toolkits.mcp import McpConnection, McpServerConfig
    server = McpServerConfig(name="notes", command="python", args=["notes_server.py"], effects={"search": "read"})
    async with McpConnection(server) as notes:
        result = await Agent(model, tools=notes.tools).run("find my notes on llamas")

Effects come from configuration, never from the server; a tool not named there is "destructive".
`agentkit mcp serve --tools calc --policy default` serves toolkits; calls the gate does not allow are refused.

Names are imported on first use: the `mcp` package is an optional extra and slow to import, and the CLI
loads this package's `_cli` module on every start.

Errors:

    AgentkitError
    ├── McpConnectionError   a server could not be started, reached or listed, or its connection is closed
    └── McpToolError         a remote tool reported an error, timed out, or lost its server mid-call
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ..._errors import UserError
from ._config import Config, McpServerConfig

if TYPE_CHECKING:
    from ._client import (
        McpConnection,
        McpConnectionError,
        McpTool,
        McpToolError,
        connect_all,
        render_call_result,
        toolkit,
    )
    from ._server import GATES, ReadOnlyGate, ToolServer, gate_named

__all__ = [
    "GATES",
    "Config",
    "McpConnection",
    "McpConnectionError",
    "McpServerConfig",
    "McpTool",
    "McpToolError",
    "ReadOnlyGate",
    "ToolServer",
    "connect_all",
    "gate_named",
    "render_call_result",
    "toolkit",
]

_LAZY: dict[str, str] = {
    "GATES": "._server",
    "McpConnection": "._client",
    "McpConnectionError": "._client",
    "McpTool": "._client",
    "McpToolError": "._client",
    "ReadOnlyGate": "._server",
    "ToolServer": "._server",
    "connect_all": "._client",
    "gate_named": "._server",
    "render_call_result": "._client",
    "toolkit": "._client",
}


def __getattr__(name: str) -> Any:
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    try:
        module = importlib.import_module(module_name, __name__)
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.split(".")[0] in ("mcp", "mcp_types"):
            raise UserError("the mcp toolkit needs the `mcp` package: pip install 'agentkit[mcp]'") from None
        raise
    value = getattr(module, name)
    globals()[name] = value
    return value
