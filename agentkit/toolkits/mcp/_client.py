"""MCP servers' tools as agentkit tools.

One `McpConnection` per server. A background thread runs its own event loop and one task that owns the MCP
session from start to close (the `mcp` package uses anyio task groups, which must be entered and left by
the same task); tool calls from any event loop are handed to that task and awaited. Closing the connection
(explicitly, by leaving a `with`/`async with` block, or at interpreter exit) ends the session, which stops a
stdio server's process: no process outlives its connection.

Each remote tool becomes an `McpTool`: its JSON schema is the server's inputSchema, arguments are validated
against it with jsonschema before the policy gate sees the call, and its effect comes from configuration.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import json
import logging
import math
import re
import threading
from collections.abc import Awaitable
from contextlib import AsyncExitStack
from typing import Any, TypeVar

import anyio
import mcp_types
from jsonschema import Draft202012Validator, SchemaError
from jsonschema.protocols import Validator
from jsonschema.validators import validator_for
from pydantic import BaseModel, RootModel, ValidationError
from pydantic_core import InitErrorDetails, PydanticCustomError
from referencing.exceptions import Unresolvable

from ..._errors import AgentkitError, UserError
from ..._tools import Effect, RunContext, Tool, _strip_titles
from ._config import Config, McpServerConfig

logger = logging.getLogger("agentkit.mcp")

T = TypeVar("T")


class McpConnectionError(AgentkitError):
    """An MCP server could not be started, reached or listed, or its connection is closed."""


class McpToolError(AgentkitError):
    """A remote tool reported an error, timed out, or its server went away during the call."""


class _Arguments(RootModel[dict[str, Any]]):
    """Arguments already validated against the remote inputSchema."""


def _leaf(exc: BaseException) -> BaseException:
    """The first real error inside anyio's exception groups."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc


class McpConnection:
    """A live session with one MCP server; `tools` are ready once `start()` returns."""

    def __init__(self, config: McpServerConfig) -> None:
        self.config = config
        self.tools: list[McpTool] = []
        self.server_name: str | None = None
        self._specs: list[mcp_types.Tool] = []
        self._client: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._closed = False

    # -- lifecycle -----------------------------------------------------------------------------------------
    def start(self) -> McpConnection:
        """Start (or connect to) the server and list its tools; blocks until ready or failed."""
        if self._thread is not None:
            raise UserError(f"MCP connection {self.config.name!r} was already started; create a new one")
        self._thread = threading.Thread(target=self._thread_main, name=f"agentkit-mcp-{self.config.name}", daemon=True)
        self._thread.start()
        if not self._ready.wait(self.config.connect_timeout + 10):
            self.close()
            raise McpConnectionError(f"MCP server {self.config.name!r} did not become ready in time")
        if self._error is not None:
            self.close()
            raise self._error
        self.tools = self._build_tools()
        atexit.register(self.close)
        return self

    def close(self) -> None:
        """End the session (stopping a stdio server's process) and the owner thread. Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop ended on its own (the server died)
                loop.call_soon_threadsafe(stop.set)
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=15)
        atexit.unregister(self.close)

    def __enter__(self) -> McpConnection:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.close()

    async def __aenter__(self) -> McpConnection:
        return await asyncio.to_thread(self.start)

    async def __aexit__(self, *_: object) -> None:
        await asyncio.to_thread(self.close)

    @property
    def is_open(self) -> bool:
        return self._ready.is_set() and self._error is None and not self._closed

    # -- the owner task ------------------------------------------------------------------------------------
    def _thread_main(self) -> None:
        try:
            asyncio.run(self._own())
        except BaseException as exc:  # recorded for start() and later calls; never raised in this thread
            if self._error is None:
                self._error = self._connection_error(exc)
            if self._ready.is_set():
                logger.warning("MCP server %r: session ended: %s", self.config.name, self._error)
        finally:
            self._ready.set()

    async def _own(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        with anyio.CancelScope() as scope:
            scope.deadline = anyio.current_time() + self.config.connect_timeout
            async with AsyncExitStack() as stack:
                client = await self._open(stack)
                self._specs = await self._list_tools(client)
                info = client.server_info
                self.server_name = info.name if info is not None else None
                scope.deadline = math.inf
                self._client = client
                self._ready.set()
                await self._stop.wait()
        if scope.cancelled_caught:
            self._error = McpConnectionError(
                f"MCP server {self.config.name!r} did not answer within connect_timeout={self.config.connect_timeout:g} s"
            )

    async def _open(self, stack: AsyncExitStack) -> Any:
        from mcp import Client, StdioServerParameters

        config = self.config
        if config.command is not None:
            params = StdioServerParameters(
                command=config.command, args=config.args, env=config.env or None, cwd=config.cwd,
            )
            return await stack.enter_async_context(Client(params))
        from mcp.client.streamable_http import streamable_http_client
        from mcp.shared._httpx_utils import create_mcp_http_client

        assert config.url is not None
        http = await stack.enter_async_context(create_mcp_http_client(headers=config.headers or None))
        return await stack.enter_async_context(Client(streamable_http_client(config.url, http_client=http)))

    async def _list_tools(self, client: Any) -> list[mcp_types.Tool]:
        specs: list[mcp_types.Tool] = []
        cursor: str | None = None
        for _page in range(100):
            page = await client.list_tools(cursor=cursor)
            specs.extend(page.tools)
            cursor = page.next_cursor
            if cursor is None:
                break
        return specs

    def _connection_error(self, exc: BaseException) -> McpConnectionError:
        leaf = _leaf(exc)
        if isinstance(leaf, McpConnectionError):
            return leaf
        where = (f"command {self.config.command!r}" if self.config.command is not None else f"url {self.config.url}")
        hint = "check the command and its arguments" if self.config.command is not None else "is the server running?"
        return McpConnectionError(
            f"cannot connect to MCP server {self.config.name!r} ({where}): {type(leaf).__name__}: {leaf}; {hint}"
        )

    # -- calls ---------------------------------------------------------------------------------------------
    async def _submit(self, make: Awaitable[T]) -> T:
        loop = self._loop
        if not self.is_open or loop is None or loop.is_closed():
            if asyncio.iscoroutine(make):
                make.close()
            raise McpToolError(f"the connection to MCP server {self.config.name!r} is closed")
        future = asyncio.run_coroutine_threadsafe(_as_coroutine(make), loop)
        return await asyncio.wrap_future(future)

    async def call_tool(self, name: str, arguments: dict[str, Any]) -> mcp_types.CallToolResult:
        """Call remote tool `name` (its server-side name); raises McpToolError on timeout or a lost session."""
        timeout = self.config.call_timeout

        async def call() -> mcp_types.CallToolResult:
            with anyio.fail_after(timeout):
                result: mcp_types.CallToolResult = await self._client.call_tool(name, arguments)
                return result

        try:
            return await self._submit(call())
        except TimeoutError:
            raise McpToolError(f"{self.config.name}.{name} did not answer within call_timeout={timeout:g} s") from None
        except McpToolError:
            raise
        except Exception as exc:
            leaf = _leaf(exc)
            raise McpToolError(f"calling {self.config.name}.{name} failed: {type(leaf).__name__}: {leaf}") from None

    # -- tools ---------------------------------------------------------------------------------------------
    def _build_tools(self) -> list[McpTool]:
        config = self.config
        offered = {spec.name for spec in self._specs}
        unknown = sorted((set(config.effects) | set(config.include or [])) - offered)
        if unknown:
            self.close()
            raise UserError(
                f"MCP server {config.name!r} has no tool named {', '.join(map(repr, unknown))} (named in its "
                f"effects/include); it offers: {', '.join(sorted(offered)) or '(none)'}"
            )
        tools: list[McpTool] = []
        seen: dict[str, str] = {}
        for spec in self._specs:
            if config.include is not None and spec.name not in config.include:
                continue
            if spec.name in seen.values():  # no configuration can tell two tools of one name apart: keep the first
                logger.warning("MCP server %r declares %r twice; the second declaration is skipped",
                               config.name, spec.name)
                continue
            local = config.prefix + _safe_name(spec.name)
            if len(local) > 64:
                local = local[:64]
            if local in seen:
                self.close()
                raise UserError(
                    f"MCP server {config.name!r}: tools {seen[local]!r} and {spec.name!r} both become {local!r}; "
                    "offer one of them with include=[...]"
                )
            try:
                tool = McpTool(self, spec, name=local, effect=config.effect_of(spec.name))
            except SchemaError as exc:
                logger.warning("MCP server %r: tool %r skipped, its inputSchema is invalid: %s",
                               config.name, spec.name, exc.message)
                continue
            seen[local] = spec.name
            tools.append(tool)
        return tools


async def _as_coroutine(awaitable: Awaitable[T]) -> T:
    return await awaitable


def _safe_name(name: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9_\-]", "_", name) or "tool"
    return cleaned if re.match(r"[A-Za-z_]", cleaned) else "_" + cleaned


class McpTool(Tool):
    """A remote MCP tool: schema from the server, effect from configuration, execution over the session."""

    def __init__(self, connection: McpConnection, spec: mcp_types.Tool, *, name: str, effect: Effect) -> None:
        async def remote() -> str:  # stands in for a Python signature; the schema below is the real one
            raise UserError("call an MCP tool through an agent, or with `await tool.call_remote({...})`")

        description = (spec.description or spec.title or "").strip()
        super().__init__(remote, name=name, description=description or f"{spec.name} (MCP tool)", effect=effect)
        schema = dict(spec.input_schema or {})
        schema.setdefault("type", "object")
        schema.setdefault("properties", {})
        validator_class = validator_for(schema, default=Draft202012Validator)
        validator_class.check_schema(schema)
        self._validator: Validator = validator_class(schema)
        self.parameters_schema = _strip_titles(schema)  # what the model reads; validation keeps the original
        self.connection = connection
        self.remote_name = spec.name
        self.server = connection.config.name

    def validate(self, arguments: dict[str, Any]) -> BaseModel:
        """Validate against the server's inputSchema; errors come back as pydantic's ValidationError."""
        try:
            errors = sorted(self._validator.iter_errors(arguments), key=lambda e: [str(p) for p in e.absolute_path])
        except Unresolvable as exc:  # the server's schema points at nothing (nothing is ever fetched)
            reason = (f"its inputSchema cannot be resolved ({str(exc)[:200]}), "
                      f"so {self.server}.{self.remote_name} cannot be called; do without this tool")
            detail = InitErrorDetails(type=PydanticCustomError("jsonschema", "{reason}", {"reason": reason}),
                                      loc=(), input=arguments)
            raise ValidationError.from_exception_data(f"{self.name}_arguments", [detail]) from None
        if errors:
            details = [
                InitErrorDetails(
                    type=PydanticCustomError("jsonschema", "{reason}", {"reason": error.message[:300]}),
                    loc=tuple(str(p) for p in error.absolute_path),
                    input=error.instance,
                )
                for error in errors[:10]
            ]
            raise ValidationError.from_exception_data(f"{self.name}_arguments", details)
        return _Arguments(dict(arguments))

    async def execute(self, arguments: BaseModel, ctx: RunContext) -> Any:
        payload = arguments.root if isinstance(arguments, _Arguments) else arguments.model_dump()
        return await self.call_remote(payload)

    async def call_remote(self, arguments: dict[str, Any]) -> str:
        """Call the remote tool (no policy gate here: the agent loop gates before `execute`)."""
        result = await self.connection.call_tool(self.remote_name, arguments)
        text = render_call_result(result)
        if result.is_error:
            raise McpToolError(text or f"{self.server}.{self.remote_name} reported an error without a message")
        return text

    def __repr__(self) -> str:
        return f"McpTool({self.name!r}, server={self.server!r}, effect={self.effect!r})"


def render_call_result(result: mcp_types.CallToolResult) -> str:
    """MCP content blocks -> the text the model reads (binary blocks are described, not inlined)."""
    parts: list[str] = []
    for block in result.content:
        kind = getattr(block, "type", "")
        if kind == "text":
            parts.append(str(getattr(block, "text", "")))
        elif kind in ("image", "audio"):
            data = str(getattr(block, "data", ""))
            parts.append(f"[{kind} {getattr(block, 'mime_type', '?')}, {len(data) * 3 // 4} bytes, not shown]")
        elif kind == "resource_link":
            parts.append(f"[resource {getattr(block, 'name', '')}: {getattr(block, 'uri', '')}]")
        elif kind == "resource":
            resource = getattr(block, "resource", None)
            text = getattr(resource, "text", None)
            uri = getattr(resource, "uri", "")
            parts.append(str(text) if text is not None else f"[binary resource {uri}, not shown]")
    if not parts and result.structured_content is not None:
        parts.append(json.dumps(result.structured_content, ensure_ascii=False, default=str))
    return "\n".join(parts)


def connect_all(config: Config) -> list[McpConnection]:
    """Start every configured server; on a failure, close the ones already started and raise."""
    connections: list[McpConnection] = []
    try:
        for server in config.servers:
            connections.append(McpConnection(server).start())
    except BaseException:
        for connection in connections:
            connection.close()
        raise
    return connections


def toolkit(config: Config) -> list[Tool]:
    """Start the configured servers and return their tools; the sessions close at interpreter exit."""
    connections = connect_all(config)
    tools: list[Tool] = []
    owners: dict[str, str] = {}
    for connection in connections:
        for tool in connection.tools:
            if tool.name in owners:
                for c in connections:
                    c.close()
                raise UserError(
                    f"MCP servers {owners[tool.name]!r} and {connection.config.name!r} both offer {tool.name!r}; "
                    "give one of them a prefix"
                )
            owners[tool.name] = connection.config.name
            tools.append(tool)
    return tools
