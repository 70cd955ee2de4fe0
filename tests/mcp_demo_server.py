"""A tiny real MCP server (stdio) for the MCP client tests: started as a subprocess, never imported by them."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError

app = MCPServer("demo-notes")
NOTES: dict[str, str] = {"llamas": "Llamas hum when they are content.", "alpacas": "Alpacas are smaller than llamas."}


@app.tool()
def search_notes(query: str, limit: int = 5) -> str:
    """Find notes whose title or text contains the query."""
    hits = [f"{title}: {text}" for title, text in NOTES.items() if query.lower() in (title + " " + text).lower()]
    return "\n".join(hits[:limit]) or "no notes match"


@app.tool()
def add_note(title: str, text: str) -> str:
    """Add a note (writes a marker file so the test can see the call really ran)."""
    NOTES[title] = text
    marker = os.environ.get("DEMO_MARKER")
    if marker:
        with Path(marker).open("a", encoding="utf-8") as file:
            file.write(f"add_note {title}\n")
    return f"added {title}"


@app.tool()
def fail(reason: str) -> str:
    """Always fails, to test error results."""
    raise ToolError(f"failed on purpose: {reason}")


@app.tool()
def whoami() -> str:
    """The server's process id and an environment variable, to check process lifecycle and env passing."""
    return f"pid={os.getpid()} DEMO_ENV={os.environ.get('DEMO_ENV', '')}"


@app.tool()
def crash() -> str:
    """Exit the server process at once, to test a server dying mid-session."""
    os._exit(3)


if __name__ == "__main__":
    print("demo-notes MCP server starting", file=sys.stderr)
    app.run("stdio")
