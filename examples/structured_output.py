"""A typed answer: `output_type` becomes a JSON schema, enforced by a grammar on llama.cpp and validated.

    python examples/structured_output.py
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from agentkit import Agent
from agentkit.models import Model


class Contact(BaseModel):
    name: str = Field(max_length=60)
    email: str = Field(max_length=80)
    city: str = Field(max_length=40)


TEXT = "Hi, I'm Ana Lopez from Lyon. Write to me at ana.lopez@example.org about the order."


def main(model: Model | None = None) -> Contact:
    agent = Agent(model, output_type=Contact, preset="precise",
                  system="Extract the contact details from the user's text.")
    result = agent.run_sync(TEXT)
    contact: Contact = result.output
    print(contact.model_dump_json(indent=2))
    print(f"({result.usage.completion_tokens} tokens, {result.timings.total:.2f} s)")
    return contact


if __name__ == "__main__":
    main()
