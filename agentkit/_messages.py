"""Provider-neutral messages.

Every message says where its content came from (`provenance`): the system, developer and user speak with
authority (`trusted`); whatever a tool brings back (web pages, files, mail) is `untrusted` data. The policy
layer and the prompt renderer rely on this, so it is part of the message, not a side table.
"""

from __future__ import annotations

import hashlib
import json
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

Provenance = Literal["trusted", "untrusted"]


def canonical_json(value: Any) -> str:
    """One spelling per value: sorted keys, no spaces, UTF-8 kept (used for hashing and loop detection)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


class ToolCall(BaseModel):
    """A call the model proposed: a tool name and its (already JSON-decoded) arguments."""

    model_config = ConfigDict(frozen=True)

    id: str
    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)

    def fingerprint(self) -> str:
        """Hash of the tool name and canonical arguments: an approval binds to exactly this call.

        Computed every time, never cached: `model_copy(update=...)` would carry a cache over to an edited copy.
        """
        # surrogatepass: a lone surrogate (a JSON `\ud800` escape from a server) still hashes, and distinctly
        digest = hashlib.sha256(f"{self.name}\n{canonical_json(self.arguments)}".encode(errors="surrogatepass"))
        return digest.hexdigest()


class SystemMessage(BaseModel):
    role: Literal["system"] = "system"
    content: str
    provenance: Provenance = "trusted"


class UserMessage(BaseModel):
    role: Literal["user"] = "user"
    content: str
    provenance: Provenance = "trusted"
    kind: Literal["request", "correction"] = Field(
        default="request", description="'correction': written by the loop to fix the model's last turn"
    )


class AssistantMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str = ""
    tool_calls: list[ToolCall] = Field(default_factory=list)
    provenance: Provenance = "trusted"


class ToolResultMessage(BaseModel):
    """What a tool returned (or the correction sent instead), tied to the call it answers."""

    role: Literal["tool"] = "tool"
    tool_call_id: str
    name: str
    content: str
    is_error: bool = False
    provenance: Provenance = "untrusted"
    # Values the tool vouches the account owner chose (see `ToolReturn`); provenance rules read them.
    vouched: list[str] = Field(default_factory=list)


Message = Annotated[
    SystemMessage | UserMessage | AssistantMessage | ToolResultMessage,
    Field(discriminator="role"),
]

MESSAGES_ADAPTER: TypeAdapter[list[Message]] = TypeAdapter(list[Message])
