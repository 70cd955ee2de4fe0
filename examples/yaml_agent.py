"""An agent file, loaded from Python: the same agent `agentkit run examples/agents/web_researcher.yaml` runs.

    python examples/yaml_agent.py
"""

from __future__ import annotations

from pathlib import Path

from agentkit import ToolResultMessage
from agentkit.models import Model
from agentkit.spec import load_agent, load_spec

AGENT_FILE = Path(__file__).parent / "agents" / "web_researcher.yaml"


def main(model: Model | None = None) -> str:
    spec = load_spec(AGENT_FILE)  # validation only: errors come with file:line:column
    print(f"{spec.name}: {spec.description}")
    agent = load_agent(AGENT_FILE, model=model)
    result = agent.run_sync("What is the GGUF file format?")
    for message in result.messages:
        if isinstance(message, ToolResultMessage):
            print(f"[{message.name}] {message.content[:160]}...")
    print(result.output)
    return str(result.output)


if __name__ == "__main__":
    main()
