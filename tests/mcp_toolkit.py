"""A small toolkit of the MCP tests' own, served by `agentkit mcp serve --tools tests.mcp_toolkit:tools`."""

from __future__ import annotations

import os
from pathlib import Path

from agentkit import ModelRetry, Tool, tool


@tool(effect="read")
def add(a: float, b: float) -> float:
    """Add two numbers.

    Args:
        a: The first number.
        b: The second number.
    """
    return a + b


@tool(effect="write")
def write_note(text: str) -> str:
    """Append a note to the marker file (a write: the default policy must refuse it over MCP)."""
    marker = os.environ.get("MCP_TOOLKIT_MARKER")
    if marker:
        with Path(marker).open("a", encoding="utf-8") as file:
            file.write(text + "\n")
    return "written"


@tool(effect="read")
def explode(message: str) -> str:
    """Raise an error, to test error results."""
    raise RuntimeError(message)


@tool(effect="read")
def picky(word: str) -> str:
    """Accept only the word 'please'; otherwise ask for a retry."""
    if word != "please":
        raise ModelRetry("say please")
    return "thank you"


def tools() -> list[Tool]:
    return [add, write_note, explode, picky]
