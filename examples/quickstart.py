"""The smallest agent: one typed tool, the embedded default model, the answer streamed as it is written.

    python examples/quickstart.py
"""

from __future__ import annotations

import asyncio

from agentkit import Agent, TextDelta, ToolCallProposed, ToolResult, tool
from agentkit.models import Model


@tool(effect="read")
def add(a: float, b: float) -> float:
    """Add two numbers.

    Args:
        a: The first number.
        b: The second number.
    """
    return a + b


async def main(model: Model | None = None) -> str:
    agent = Agent(model, tools=[add], tool_choice="required", preset="precise")
    answer: list[str] = []
    async for event in agent.run_stream("What is 2.5 + 4?"):
        if isinstance(event, ToolCallProposed):
            print(f"-> {event.call.name}({event.call.arguments})")
        elif isinstance(event, ToolResult):
            print(f"<- {event.content}")
        elif isinstance(event, TextDelta):
            answer.append(event.text)
            print(event.text, end="", flush=True)
    print()
    return "".join(answer)


if __name__ == "__main__":
    asyncio.run(main())
