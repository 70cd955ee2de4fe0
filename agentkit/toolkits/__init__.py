"""Built-in toolkits, loaded by name (CLI `--tools`, YAML agents) or imported directly.

Each toolkit module exposes a pydantic `Config` (its options, extra fields forbidden) and
`toolkit(config) -> list[Tool]`. `_REGISTRY` maps a toolkit name to its module; modules are imported lazily
so that loading one toolkit never pays for another's dependencies.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ValidationError

from .._errors import UserError
from .._tools import Tool

__all__ = ["available_toolkits", "load_toolkit", "load_toolkits", "toolkit_config"]

_REGISTRY: dict[str, str] = {
    # name -> module exposing `Config` and `toolkit(config)`; keep sorted
    "calc": "agentkit.toolkits._calc",
    "calendar": "agentkit.toolkits.calendar",
    "code": "agentkit.toolkits.code",
    "files": "agentkit.toolkits.files",
    "mail": "agentkit.toolkits.mail",
    "mcp": "agentkit.toolkits.mcp",
    "python": "agentkit.toolkits.sandbox",
    "web": "agentkit.toolkits.web",
}


def available_toolkits() -> list[str]:
    return sorted(_REGISTRY)


def _module(name: str) -> Any:
    try:
        return importlib.import_module(_REGISTRY[name])
    except KeyError:
        raise UserError(f"unknown toolkit {name!r}; available: {', '.join(available_toolkits()) or '(none)'}") from None


def toolkit_config(name: str) -> type[BaseModel]:
    """The options model of a toolkit (for validation and the agent-file JSON schema)."""
    config: type[BaseModel] = _module(name).Config
    return config


def load_toolkit(name: str, options: Mapping[str, Any] | None = None) -> list[Tool]:
    module = _module(name)
    try:
        config = module.Config.model_validate(dict(options or {}))
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(options)'}: {e['msg']}" for e in exc.errors(include_url=False)
        )
        raise UserError(f"invalid options for toolkit {name!r}: {problems}") from None
    tools: list[Tool] = module.toolkit(config)
    return tools


def load_toolkits(names: Sequence[str], options: Mapping[str, Mapping[str, Any]] | None = None) -> list[Tool]:
    tools: list[Tool] = []
    for name in names:
        tools.extend(load_toolkit(name, (options or {}).get(name)))
    return tools
