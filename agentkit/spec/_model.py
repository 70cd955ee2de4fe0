"""`AgentSpec`: everything an agent file may say, as one validated pydantic model.

    name: triage
    model: default                     # a .gguf path, http://host:port/v1#name, or a name from `models:`
    tools: [calc, {toolkit: mail, options: {backend: {path: ./mail}}}, {manifest: ../tools/search.yaml}]
    policy: {pack: default}
    system: You sort e-mail.
    preset: precise
    limits: {max_steps: 6}

Shorthands (a string for `model`, a toolkit name for a tool, a pack name for `policy`) are normalised before
validation; the exported JSON schema (`_schema`) accepts both forms. Secrets are never fields: remote models take
`api_key_env` (the variable's name) and any string may use `${env:NAME}`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from .._decoding import DecodingSettings, PresetName
from .._tools import Effect
from ..policy import Rule, TrustedLists
from ..router import ModelProfile

Action = Literal["allow", "confirm", "deny"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ModelSpec(_Strict):
    """Which model answers. `source` is 'default', a .gguf path, an http(s) base URL, or a profile name."""

    source: str = Field("default", min_length=1, description="'default' (the embedded model), a .gguf path "
                        "(relative to the agent file), an OpenAI-compatible base URL (http://host:port/v1, "
                        "optionally #model), or the name of a profile under `models:`")
    n_ctx: int | None = Field(None, ge=256, description="context window (GGUF models)")
    n_gpu_layers: int | None = Field(None, ge=-1, description="layers offloaded to the GPU; -1 for all (GGUF)")
    remote_model: str | None = Field(None, description="model name sent to the server (URL sources)")
    api_key_env: str | None = Field(None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
                                    description="environment variable holding the API key (URL sources)")
    timeout_s: float | None = Field(None, gt=0, description="seconds to wait for a remote answer")

    @property
    def is_url(self) -> bool:
        return self.source.startswith(("http://", "https://"))

    @model_validator(mode="after")
    def _options_fit_source(self) -> ModelSpec:
        if not self.is_url and (self.remote_model or self.api_key_env or self.timeout_s):
            raise ValueError("remote_model, api_key_env and timeout_s apply only to an http(s) source")
        if self.is_url and (self.n_ctx or self.n_gpu_layers is not None):
            raise ValueError("n_ctx and n_gpu_layers apply only to a GGUF source, not to a server")
        return self


def _model_shorthand(value: Any) -> Any:
    return {"source": value} if isinstance(value, str) else value


ModelField = Annotated[
    ModelSpec,
    BeforeValidator(_model_shorthand),
]


class RouterSpec(_Strict):
    """Routing before the model runs (agentkit.router): intent, risk, tools, preset, model choice."""

    enabled: bool = True
    use_classifier: bool = True
    use_model: bool = Field(True, description="consult a `capable_router` profile when the first tiers are unsure")
    unsure_below: float = Field(0.6, ge=0.0, le=1.0)
    choose_model: bool = Field(False, description="let the router pick a model among `models:`; else keep `model`")


class ToolEntry(_Strict):
    """Tools from a built-in toolkit (`toolkit` + `options`) or from a manifest file under tools/."""

    toolkit: str | None = Field(None, description="a built-in toolkit: calc, calendar, code, files, mail, mcp, "
                                "python, web")
    manifest: str | None = Field(None, description="a tool manifest (YAML), relative to the agent file")
    options: dict[str, Any] = Field(default_factory=dict, description="the toolkit's options (its Config)")
    only: list[str] | None = Field(None, description="offer only these tools of the toolkit")

    @model_validator(mode="after")
    def _one_source(self) -> ToolEntry:
        if (self.toolkit is None) == (self.manifest is None):
            raise ValueError("give exactly one of `toolkit:` (a built-in toolkit) or `manifest:` (a tools/ file)")
        if self.manifest is not None and self.options:
            raise ValueError("options belong in the manifest file; a manifest entry takes only `only:`")
        return self


def _tool_shorthand(value: Any) -> Any:
    return {"toolkit": value} if isinstance(value, str) else value


ToolField = Annotated[
    ToolEntry,
    BeforeValidator(_tool_shorthand),
]


class PolicyOverrides(_Strict):
    """Changes to the pack, written as a pack that `extends` it would write them."""

    defaults: dict[Effect, Action] = Field(default_factory=dict)
    trusted: TrustedLists = Field(default_factory=TrustedLists)
    disable: list[str] = Field(default_factory=list, description="ids of the pack's rules to switch off")
    rules: list[Rule] = Field(default_factory=list)


class PolicySpec(_Strict):
    """The policy pack deciding every call (allow / confirm / deny), plus local overrides."""

    pack: str = Field("default", description="default, strict, readonly, autonomous, or a pack file path")
    trusted: list[str] = Field(default_factory=list, description="extra values counted as trusted")
    overrides: PolicyOverrides | None = None
    audit: str | None = Field(None, description="append-only audit log file (JSON lines, hash-chained)")
    safety_guard: bool = Field(True, description="refuse critical requests and redact secrets in the output")


def _policy_shorthand(value: Any) -> Any:
    return {"pack": value} if isinstance(value, str) else value


PolicyField = Annotated[
    PolicySpec,
    BeforeValidator(_policy_shorthand),
]


class LimitsSpec(_Strict):
    """Bounds on one run (agentkit.UsageLimits)."""

    max_steps: int = Field(10, ge=1)
    max_tokens: int | None = Field(None, ge=1)
    max_tool_calls: int | None = Field(None, ge=1)
    max_seconds: float | None = Field(None, gt=0)
    max_retries: int = Field(3, ge=0)
    max_identical_calls: int = Field(2, ge=1)


class MemorySpec(_Strict):
    """Persistent memories injected into the context (agentkit.context.MemoryStore)."""

    path: str | None = Field(None, description="SQLite file, relative to the agent file; default: the user store")
    user: str | None = Field(None, description="whose user memories to use (default: the current user)")
    project: str | None = Field(None, description="a project whose memories to use as well")


class ContextSpec(_Strict):
    """How the prompt is built (agentkit.context.ContextBuilder)."""

    files: list[str] = Field(default_factory=list, description="files shown to the model, relative to the agent file")
    context_window: int | None = Field(None, ge=16, description="tokens, when the model does not say")
    reserved_output: int = Field(512, ge=1, description="tokens kept free for the answer")


class OutputSpec(_Strict):
    """A structured final answer: a JSON schema the output must follow (grammar-constrained on llama.cpp)."""

    json_schema: dict[str, Any] = Field(alias="schema", description="JSON schema of the final answer")

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class AgentSpec(_Strict):
    """An agent file. Only `name` is required; everything else has a safe default."""

    schema_ref: str | None = Field(None, alias="$schema", description="editor hint: the JSON schema's location")
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$", description="letters, digits, '_', '-', '.'")
    description: str = ""
    model: ModelField = Field(default_factory=ModelSpec)
    models: list[ModelProfile] = Field(default_factory=list, description="named model profiles (a registry)")
    router: RouterSpec | None = None
    tools: list[ToolField] = Field(default_factory=list)
    tool_choice: str = Field("auto", description="auto, required, none, or one tool's name")
    policy: PolicyField = Field(default_factory=PolicySpec)
    system: str | None = Field(None, description="the system prompt: who the agent is")
    developer: str | None = Field(None, description="developer rules, placed after the system prompt")
    preset: PresetName | None = Field(None, description="decoding preset: precise, code, balanced, creative")
    decoding: DecodingSettings | None = Field(None, description="decoding settings over the preset")
    limits: LimitsSpec = Field(default_factory=LimitsSpec)
    memory: MemorySpec | None = None
    context: ContextSpec | None = None
    output: OutputSpec | None = None

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
