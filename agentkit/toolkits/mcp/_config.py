"""Configuration of MCP servers whose tools agentkit offers to its models.

What a remote tool may do is not something the remote server gets to say: its effect comes from this
configuration (`effects`), and a tool the configuration does not name gets `default_effect`, the strictest
("destructive") unless the user lowers it. The server's own annotations (readOnlyHint...) are ignored.
"""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ..._tools import Effect


class McpServerConfig(BaseModel):
    """One MCP server: a command to start (stdio) or a streamable HTTP URL, and the effects of its tools."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="a short name for messages and tool-name prefixes, e.g. 'github'")
    command: str | None = Field(default=None, description="stdio: the executable to start")
    args: list[str] = Field(default_factory=list, description="stdio: its arguments")
    env: dict[str, str] = Field(default_factory=dict, description="stdio: extra environment variables")
    cwd: Path | None = Field(default=None, description="stdio: working directory")
    url: str | None = Field(default=None, description="streamable HTTP: the endpoint, e.g. http://127.0.0.1:8000/mcp")
    headers: dict[str, str] = Field(default_factory=dict, description="streamable HTTP: extra headers (auth)")
    effects: dict[str, Effect] = Field(
        default_factory=dict, description="effect per remote tool name: read, write, send or destructive",
    )
    default_effect: Effect = Field(default="destructive", description="effect of tools `effects` does not name")
    include: list[str] | None = Field(default=None, description="offer only these remote tools")
    prefix: str = Field(default="", description="prepended to each tool name, e.g. 'github_'")
    connect_timeout: float = Field(default=30.0, gt=0, description="seconds to start and list tools")
    call_timeout: float = Field(default=120.0, gt=0, description="seconds one tool call may take")

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9_.\-]{1,64}", value):
            raise ValueError("use 1-64 letters, digits, '_', '-' or '.'")
        return value

    @field_validator("prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        if value and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_\-]{0,31}", value):
            raise ValueError("a prefix starts with a letter or '_' and holds letters, digits, '_' or '-' (32 at most)")
        return value

    @model_validator(mode="after")
    def _one_transport(self) -> McpServerConfig:
        if (self.command is None) == (self.url is None):
            raise ValueError(f"MCP server {self.name!r}: give either command (stdio) or url (streamable HTTP)")
        if self.url is not None and not self.url.startswith(("http://", "https://")):
            raise ValueError(f"MCP server {self.name!r}: url must start with http:// or https://")
        if self.url is not None and (self.args or self.env or self.cwd):
            raise ValueError(f"MCP server {self.name!r}: args, env and cwd apply to a command, not to a url")
        if self.command is not None and self.headers:
            raise ValueError(f"MCP server {self.name!r}: headers apply to a url, not to a command")
        return self

    @property
    def transport(self) -> str:
        return "stdio" if self.command is not None else "streamable-http"

    def effect_of(self, remote_name: str) -> Effect:
        return self.effects.get(remote_name, self.default_effect)


class Config(BaseModel):
    """Options of the "mcp" toolkit: the servers whose tools to offer."""

    model_config = ConfigDict(extra="forbid")

    servers: list[McpServerConfig] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_names(self) -> Config:
        names = [s.name for s in self.servers]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"MCP server names must be unique; repeated: {', '.join(duplicates)}")
        return self
