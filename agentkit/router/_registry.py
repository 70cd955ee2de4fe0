"""The models an agent may use, with their capabilities, and the choice of the smallest sufficient one.

    models:
      - name: smollm2
        kind: gguf
        path: default                 # the embedded default model; or a path to any .gguf file
        context_length: 4096
        tool_calling: basic
        reasoning: none
        size_b: 0.135
      - name: qwen-32b
        kind: openai
        base_url: http://127.0.0.1:8080/v1
        remote_model: qwen2.5-32b-instruct
        context_length: 32768
        tool_calling: good
        reasoning: strong
        cost_per_million_tokens: 0.4
        capable_router: true          # may settle routing when the rules and the classifier are unsure

"Smallest sufficient" = among the profiles that meet the request's needs (context length, tool-calling
quality, reasoning), the cheapest, then the smallest, then the fastest. A greeting never wakes the largest
model; a long file goes to one whose context holds it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from .._errors import UserError
from ..models._base import Model

Level = Literal["none", "basic", "good", "strong"]
LEVELS: tuple[Level, ...] = ("none", "basic", "good", "strong")


def level_rank(level: Level) -> int:
    return LEVELS.index(level)


class ModelProfile(BaseModel):
    """One model and what it is good for. `path: default` is the embedded default model."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=100)
    kind: Literal["gguf", "openai"]
    path: str | None = Field(default=None, description="GGUF file (kind gguf); 'default' for the embedded model.")
    base_url: str | None = Field(default=None, description="OpenAI-compatible base URL, e.g. http://host:8080/v1.")
    remote_model: str | None = Field(default=None, description="Model name sent to the server (kind openai).")
    context_length: int = Field(default=4096, ge=256)
    tool_calling: Level = "basic"
    reasoning: Level = "basic"
    tokens_per_second: float | None = Field(default=None, gt=0)
    cost_per_million_tokens: float = Field(default=0.0, ge=0)
    size_b: float | None = Field(default=None, gt=0, description="Parameters, in billions (orders equal-cost models).")
    capable_router: bool = Field(default=False, description="Trusted to settle routing when the first tiers are unsure.")

    @model_validator(mode="after")
    def _where(self) -> ModelProfile:
        if self.kind == "gguf" and not self.path:
            raise ValueError("a gguf profile needs `path` (a .gguf file, or 'default' for the embedded model)")
        if self.kind == "openai" and not (self.base_url and self.base_url.startswith(("http://", "https://"))):
            raise ValueError("an openai profile needs `base_url` starting with http:// or https://")
        return self

    def sort_key(self) -> tuple[float, float, float]:
        return (self.cost_per_million_tokens, self.size_b or math.inf, -(self.tokens_per_second or 0.0))


class Requirements(BaseModel):
    """What one request needs from a model."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    context_tokens: int
    tool_calling: Level
    reasoning: Level


class ModelRegistry:
    """An ordered set of profiles; resolves a profile to a live `Model` once and reuses it."""

    def __init__(self, profiles: Iterable[ModelProfile], *, instances: Mapping[str, Model] | None = None) -> None:
        self.profiles: dict[str, ModelProfile] = {}
        for profile in profiles:
            if profile.name in self.profiles:
                raise UserError(f"two model profiles are named {profile.name!r}; give each a unique name")
            self.profiles[profile.name] = profile
        if not self.profiles:
            raise UserError("a model registry needs at least one profile")
        self._models: dict[str, Model] = dict(instances or {})
        unknown = set(self._models) - set(self.profiles)
        if unknown:
            raise UserError(f"instances given for unknown profiles {sorted(unknown)}; add a profile for each")

    @classmethod
    def default(cls) -> ModelRegistry:
        """Only the embedded default model (SmolLM2-135M): tiny, no reasoning, basic tool calling."""
        from ..models import DEFAULT_MODEL_NAME

        return cls([ModelProfile(
            name=DEFAULT_MODEL_NAME, kind="gguf", path="default", context_length=4096, tool_calling="basic",
            reasoning="none", tokens_per_second=60.0, size_b=0.135,
        )])

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | Sequence[Any]) -> ModelRegistry:
        """From `{"models": [profile, ...]}` (a bare list of profiles is accepted too)."""
        items = data.get("models") if isinstance(data, Mapping) else data
        if not isinstance(items, Sequence) or isinstance(items, str):
            raise UserError("a model registry is a mapping with a `models:` list of profiles")
        profiles: list[ModelProfile] = []
        for position, item in enumerate(items):
            try:
                profiles.append(ModelProfile.model_validate(item))
            except ValidationError as exc:
                problems = "; ".join(
                    f"{'.'.join(str(p) for p in e['loc']) or '(profile)'}: {e['msg']}"
                    for e in exc.errors(include_url=False)
                )
                raise UserError(f"model profile #{position + 1} is invalid: {problems}") from None
        return cls(profiles)

    @classmethod
    def from_yaml(cls, path: str | Path) -> ModelRegistry:
        try:
            data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise UserError(f"no model registry file at {path}") from None
        except yaml.YAMLError as exc:
            raise UserError(f"{path} is not valid YAML: {exc}") from None
        if data is None:
            raise UserError(f"{path} is empty; list the models under `models:`")
        return cls.from_dict(data)

    @property
    def router_profile(self) -> ModelProfile | None:
        """The cheapest profile flagged `capable_router`, if any."""
        capable = [p for p in self.profiles.values() if p.capable_router]
        return min(capable, key=ModelProfile.sort_key) if capable else None

    def choose(self, needs: Requirements) -> tuple[ModelProfile, str]:
        """The smallest sufficient profile and why; the closest one when none suffices."""
        def fits(p: ModelProfile) -> bool:
            return (p.context_length >= needs.context_tokens
                    and level_rank(p.tool_calling) >= level_rank(needs.tool_calling)
                    and level_rank(p.reasoning) >= level_rank(needs.reasoning))

        wanted = (f"context >= {needs.context_tokens} tokens, tool calling >= {needs.tool_calling}, "
                  f"reasoning >= {needs.reasoning}")
        sufficient = sorted((p for p in self.profiles.values() if fits(p)), key=ModelProfile.sort_key)
        if sufficient:
            return sufficient[0], f"smallest sufficient for {wanted}"

        def shortfall(p: ModelProfile) -> tuple[int, int, int, tuple[float, float, float]]:
            return (
                int(p.context_length < needs.context_tokens),
                max(level_rank(needs.reasoning) - level_rank(p.reasoning), 0)
                + max(level_rank(needs.tool_calling) - level_rank(p.tool_calling), 0),
                -p.context_length if p.context_length < needs.context_tokens else 0,
                p.sort_key(),
            )

        closest = min(self.profiles.values(), key=shortfall)
        return closest, f"no model meets {wanted}; closest is {closest.name}"

    def resolve(self, name: str) -> Model:
        """The live model of a profile, created on first use and cached."""
        if name in self._models:
            return self._models[name]
        try:
            profile = self.profiles[name]
        except KeyError:
            raise UserError(f"no model profile named {name!r}; known: {', '.join(self.profiles)}") from None
        model: Model
        from ..models import LlamaCppModel, default_model, resolve_model

        if profile.kind == "gguf":
            if profile.path == "default":
                model = default_model()
            else:
                model = LlamaCppModel(profile.path or "", n_ctx=profile.context_length, name=profile.name)
        else:
            base = profile.base_url or ""
            model = resolve_model(f"{base}#{profile.remote_model}" if profile.remote_model else base)
        self._models[name] = model
        return model
