"""Nothing acts before its policy decision: a write pauses the run, the state is saved, and the run resumes
later (another process could do it) with the person's decision bound to that exact call.

    python examples/confirm_and_resume.py
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from agentkit import Agent, RunState, tool
from agentkit.models import Model

NOTES = Path(tempfile.gettempdir()) / "agentkit-example-notes.txt"


@tool(effect="write")
def save_note(text: str) -> str:
    """Append a note to the notes file.

    Args:
        text: The note, one line.
    """
    with NOTES.open("a", encoding="utf-8") as handle:
        handle.write(text.strip() + "\n")
    return f"saved to {NOTES}"


@save_note.preview
def _preview(arguments: dict[str, Any]) -> str:
    return f"append to {NOTES}: {arguments.get('text', '')!r}"


def main(model: Model | None = None, *, approve: bool = True) -> str:
    agent = Agent(model, tools=[save_note], tool_choice="required", preset="precise")
    paused = agent.run_sync("Save a note: buy oat milk")
    if paused.state is None:  # the model answered without calling the tool
        print(paused.output)
        return str(paused.output)
    saved = paused.state.dump()  # JSON: keep it anywhere, resume in any process
    pending = paused.state.pending[0]
    print(f"paused: {pending.call.name} needs confirmation ({pending.reason})\npreview: {pending.preview}")
    decision = "approve" if approve else "deny"
    print(f"decision: {decision} {pending.fingerprint[:12]}...")
    result = agent.run_sync(state=RunState.load(saved), decisions={pending.fingerprint: decision})
    print(result.output)
    return str(result.output)


if __name__ == "__main__":
    main()
