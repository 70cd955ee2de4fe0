"""Typed output beside tools: the synthetic `final_result` tool whose arguments are the requested output."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from ._tools import Tool

FINAL_TOOL = "final_result"


class FinalResultTool(Tool):
    """A synthetic read tool whose arguments are the requested output: how typed output works alongside tools.

    Object schemas are the arguments themselves; anything else is wrapped as {"result": ...} with its `$defs`
    hoisted so references still resolve. The loop validates the payload with the output type itself.
    """

    def __init__(self, schema: dict[str, Any]) -> None:
        def final_result() -> str:
            return "accepted"

        super().__init__(
            final_result, name=FINAL_TOOL, effect="read", output_provenance="trusted",
            description="Give the final answer in the required structure. Call this once you know the answer.",
        )
        if schema.get("type") == "object":
            self.parameters_schema = schema
        else:
            inner = {k: v for k, v in schema.items() if k != "$defs"}
            self.parameters_schema = {"type": "object", "properties": {"result": inner}, "required": ["result"]}
            if "$defs" in schema:
                self.parameters_schema["$defs"] = schema["$defs"]

    def validate(self, arguments: dict[str, Any]) -> BaseModel:
        return _AnyArguments.model_validate(arguments)


class _AnyArguments(BaseModel):
    model_config = ConfigDict(extra="allow")
