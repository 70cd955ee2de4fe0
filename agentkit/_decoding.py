"""Decoding settings and named presets.

Presets follow the guide's table (0.0 stable, ~0.2-0.4 code, 0.7 natural, 1.0+ creative). A run merges
preset <- agent settings <- per-run overrides, each layer replacing only what it sets.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ._errors import UserError

PresetName = Literal["precise", "code", "balanced", "creative"]


class DecodingSettings(BaseModel):
    """How the next token is chosen. `None` means "the backend's default"."""

    model_config = ConfigDict(extra="forbid")

    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    top_p: float | None = Field(default=None, gt=0.0, le=1.0)
    top_k: int | None = Field(default=None, ge=0)
    min_p: float | None = Field(default=None, ge=0.0, le=1.0)
    repeat_penalty: float | None = Field(default=None, gt=0.0)
    max_tokens: int | None = Field(default=None, ge=1, description="per response; unset = 1024 on llama.cpp")
    stop: list[str] | None = None
    seed: int | None = None
    parallel_tool_calls: bool | None = Field(
        default=None, description="Allow several calls in one turn (default: yes). Small models do better with no."
    )
    response_schema: dict[str, Any] | None = Field(
        default=None, description="JSON schema the final answer must follow (grammar-constrained on llama.cpp)."
    )

    def merged(self, override: DecodingSettings | None) -> DecodingSettings:
        """Self with every field that `override` sets replaced."""
        if override is None:
            return self
        return self.model_copy(update=override.model_dump(exclude_unset=True))


PRESETS: dict[PresetName, DecodingSettings] = {
    "precise": DecodingSettings(temperature=0.0, top_p=1.0, top_k=1, repeat_penalty=1.0),
    "code": DecodingSettings(temperature=0.3, top_p=0.9, top_k=40, min_p=0.05, repeat_penalty=1.05),
    "balanced": DecodingSettings(temperature=0.7, top_p=0.95, top_k=40, min_p=0.05, repeat_penalty=1.1),
    "creative": DecodingSettings(temperature=1.0, top_p=0.98, top_k=100, min_p=0.02, repeat_penalty=1.1),
}


def preset(name: str) -> DecodingSettings:
    """A copy of the named preset; unknown names list the valid ones."""
    try:
        return PRESETS[name].model_copy()  # type: ignore[index]
    except KeyError:
        raise UserError(f"unknown decoding preset {name!r}; choose one of {', '.join(PRESETS)}") from None
