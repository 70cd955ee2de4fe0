"""Agent files -> `AgentSpec` (validated, every error at file:line:col) -> a ready `Agent`.

Validation never starts anything: it checks the file, each toolkit's options, the manifests it references,
the policy pack and the model reference. Building the agent then creates the toolkits' backends; the model
itself still loads on first use.
"""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from pydantic import ValidationError

from .._agent import Agent
from .._errors import UserError
from .._gate import Confirmer
from .._hooks import ContextStrategy, Guard
from .._loop import UsageLimits
from .._tools import Tool
from .._yaml import Problem
from ..models import Model
from ._document import Document, SpecError, parse_document, read_document, validation_problems
from ._manifest import check_toolkit_options, load_manifest, rebased_options
from ._model import AgentSpec, ToolEntry
from ._output import schema_output_type

if TYPE_CHECKING:
    from ..router import ModelRegistry


@dataclass
class LoadedSpec:
    """A validated agent file: the spec, where it came from, and each tool entry's resolved options."""

    spec: AgentSpec
    source: str
    base_dir: Path
    toolsets: list[tuple[str, dict[str, Any], list[str] | None]] = field(default_factory=list)


def load_spec(path: str | os.PathLike[str]) -> AgentSpec:
    """Validate an agent file; raises SpecError listing every problem at its line and column."""
    return _validate(read_document(Path(path))).spec


def load_spec_text(text: str, *, source: str = "<string>") -> AgentSpec:
    return _validate(parse_document(text, source)).spec


def load_agent(
    path: str | os.PathLike[str], *, model: Model | None = None, confirmer: Confirmer | None = None,
) -> Agent[Any]:
    """Build the agent an agent file describes. `model` replaces the file's model (tests, scripted runs)."""
    return build_agent(_validate(read_document(Path(path))), model=model, confirmer=confirmer)


def load_agent_text(
    text: str, *, source: str = "<string>", model: Model | None = None, confirmer: Confirmer | None = None,
) -> Agent[Any]:
    return build_agent(_validate(parse_document(text, source)), model=model, confirmer=confirmer)


# -- validation -----------------------------------------------------------------------------------------------
def _validate(doc: Document) -> LoadedSpec:
    try:
        spec = AgentSpec.model_validate(doc.data)
    except ValidationError as exc:
        raise SpecError(validation_problems(doc, exc, AgentSpec)) from None
    loaded = LoadedSpec(spec, doc.source, doc.base_dir)
    problems: list[Problem] = []
    for index, entry in enumerate(spec.tools):
        problems.extend(_check_tool(doc, loaded, index, entry))
    problems.extend(_check_model(doc, spec))
    problems.extend(_check_policy(doc, loaded))
    problems.extend(_check_output(doc, spec))
    if spec.tool_choice not in ("auto", "required", "none") and not problems:
        problems.extend(_check_tool_choice(doc, loaded))
    if problems:
        raise SpecError(sorted(problems, key=lambda p: (p.line, p.column)))
    return loaded


def _check_tool(doc: Document, loaded: LoadedSpec, index: int, entry: ToolEntry) -> list[Problem]:
    if entry.toolkit is not None:
        config, problems = check_toolkit_options(doc, entry.toolkit, entry.options, ("tools", index, "options"))
        if config is not None:
            loaded.toolsets.append((entry.toolkit, rebased_options(config, loaded.base_dir), entry.only))
        return problems
    assert entry.manifest is not None
    path = _rebase(entry.manifest, loaded.base_dir)
    if not path.is_file():
        return [doc.problem(("tools", index, "manifest"), f"no tool manifest at {path}; give a path relative to "
                                                          "the agent file, e.g. ../../tools/offline_search.yaml")]
    try:
        manifest, options = load_manifest(path)
    except SpecError as exc:
        return [doc.problem(("tools", index, "manifest"), f"the manifest is invalid: {p}") for p in exc.problems]
    only = entry.only if entry.only is not None else manifest.only
    loaded.toolsets.append((manifest.toolkit, options, only))
    return []


def _check_model(doc: Document, spec: AgentSpec) -> list[Problem]:
    source = spec.model.source
    profiles = [p.name for p in spec.models]
    if spec.model.is_url and (spec.developer or spec.memory or spec.context) and not (
            spec.context and spec.context.context_window):
        return [doc.problem(("model",), "a server does not say its context window; add `context: {context_window: N}` "
                                        "with the server's context size (developer:, memory: and context: need it)")]
    if source == "default" or spec.model.is_url or source in profiles:
        return []
    path = _rebase(source, doc.base_dir)
    if path.suffix.lower() == ".gguf" and path.is_file():
        return []
    close = difflib.get_close_matches(source, profiles, n=1, cutoff=0.6)
    hint = f"did you mean the profile {close[0]!r}? " if close else ""
    if path.suffix.lower() == ".gguf":
        message = f"no GGUF file at {path}; {hint}download it there or fix the path (relative to the agent file)"
    else:
        known = f" or one of the profiles under models: ({', '.join(profiles)})" if profiles else ""
        message = (f"model {source!r} is not 'default', a .gguf file, an http(s) URL{known}; {hint}"
                   "e.g. model: default")
    return [doc.problem(("model",), message)]


def _check_policy(doc: Document, loaded: LoadedSpec) -> list[Problem]:
    from ..policy import PolicyError

    try:
        _policy_pack(loaded)
    except PolicyError as exc:
        where = ("policy", "overrides") if loaded.spec.policy.overrides else ("policy",)
        return [doc.problem(where, f"the policy does not load: {p.message}") for p in exc.problems]
    except UserError as exc:
        return [doc.problem(("policy",), str(exc))]
    return []


def _check_output(doc: Document, spec: AgentSpec) -> list[Problem]:
    if spec.output is None:
        return []
    try:
        schema_output_type(spec.output.json_schema)
    except UserError as exc:
        return [doc.problem(("output", "schema"), str(exc))]
    return []


def _check_tool_choice(doc: Document, loaded: LoadedSpec) -> list[Problem]:
    """A named tool_choice must be a tool the agent offers (known without starting the toolkits)."""
    named = {name for _, _, only in loaded.toolsets for name in (only or [])}
    choice = loaded.spec.tool_choice
    if any(only is None for _, _, only in loaded.toolsets) or choice in named:
        return []  # a whole toolkit is offered: its tool names are checked when the agent is built
    return [doc.problem(("tool_choice",), f"tool_choice {choice!r} is none of auto, required, none or the "
                                          f"tools listed under only: ({', '.join(sorted(named)) or 'none'})")]


# -- building -------------------------------------------------------------------------------------------------
def _rebase(value: str, base: Path) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() else (base / path).resolve()


def _policy_pack(loaded: LoadedSpec) -> Any:
    from ..policy import load_policy, load_policy_text

    policy = loaded.spec.policy
    pack = policy.pack
    if pack.endswith((".yaml", ".yml")) or "/" in pack:
        pack = str(_rebase(pack, loaded.base_dir))
    if policy.overrides is None:
        return load_policy(pack)
    text = yaml.safe_dump({"name": f"{loaded.spec.name}-policy", "extends": pack,
                           **policy.overrides.model_dump(mode="json", exclude_defaults=True)}, sort_keys=False)
    return load_policy_text(text, source=f"{loaded.source} (policy.overrides)")


def _model(loaded: LoadedSpec) -> Model | None:
    spec = loaded.spec.model
    if spec.is_url:
        from ..models import OpenAICompatibleModel

        base, _, fragment = spec.source.partition("#")
        return OpenAICompatibleModel(base, model=spec.remote_model or fragment or "default",
                                     api_key_env=spec.api_key_env or "AGENTKIT_API_KEY", timeout=spec.timeout_s)
    profiles = {p.name: p for p in loaded.spec.models}
    if spec.source in profiles:
        return _registry(loaded).resolve(spec.source)
    from ..models import LlamaCppModel, default_model, default_model_path

    if spec.source == "default":
        if spec.n_ctx is None and spec.n_gpu_layers is None:
            return default_model()
        path = default_model_path()
    else:
        path = _rebase(spec.source, loaded.base_dir)
    return LlamaCppModel(path, n_ctx=spec.n_ctx or 4096, n_gpu_layers=spec.n_gpu_layers)


def _registry(loaded: LoadedSpec) -> ModelRegistry:
    from ..router import ModelRegistry

    profiles = []
    for profile in loaded.spec.models:
        if profile.kind == "gguf" and profile.path not in (None, "default"):
            profile = profile.model_copy(update={"path": str(_rebase(str(profile.path), loaded.base_dir))})
        profiles.append(profile)
    return ModelRegistry(profiles)


def _tools(loaded: LoadedSpec) -> list[Tool]:
    from ..toolkits import load_toolkit

    tools: list[Tool] = []
    for name, options, only in loaded.toolsets:
        offered = load_toolkit(name, options)
        if only is not None:
            names = {t.name for t in offered}
            missing = [n for n in only if n not in names]
            if missing:
                raise UserError(f"{loaded.source}: toolkit {name!r} has no tool named {', '.join(missing)}; "
                                f"its tools are {', '.join(sorted(names))}")
            offered = [t for t in offered if t.name in only]
        tools.extend(offered)
    return tools


def _context(loaded: LoadedSpec) -> ContextStrategy | None:
    spec = loaded.spec
    if not (spec.developer or spec.memory or spec.context):
        return None
    from ..context import ContextBuilder, MemoryScope, MemoryStore

    memory = scope = None
    if spec.memory is not None:
        memory = MemoryStore(_rebase(spec.memory.path, loaded.base_dir) if spec.memory.path else None)
        scope = MemoryScope(project=spec.memory.project)
        if spec.memory.user is not None:
            scope = MemoryScope(user=spec.memory.user, project=spec.memory.project)
    context = spec.context
    return ContextBuilder(
        developer=spec.developer, memory=memory, memory_scope=scope,
        files=[_rebase(f, loaded.base_dir) for f in (context.files if context else [])],
        context_window=context.context_window if context else None,
        reserved_output=context.reserved_output if context else 512,
    )


def build_agent(loaded: LoadedSpec, *, model: Model | None = None, confirmer: Confirmer | None = None) -> Agent[Any]:
    from ..policy import AuditLog, PolicyEngine, SafetyGuard

    spec = loaded.spec
    router = None
    if spec.router is not None and spec.router.enabled:
        from ..router import Router

        router = Router(models=_registry(loaded) if spec.router.choose_model and spec.models else None,
                        use_classifier=spec.router.use_classifier, use_model=spec.router.use_model,
                        unsure_below=spec.router.unsure_below)
    guards: list[Guard] = [SafetyGuard()] if spec.policy.safety_guard else []
    audit = AuditLog(_rebase(spec.policy.audit, loaded.base_dir)) if spec.policy.audit else None
    output_type: Any = schema_output_type(spec.output.json_schema) if spec.output else None
    return Agent(
        model if model is not None else _model(loaded), tools=_tools(loaded), system=spec.system, name=spec.name,
        preset=spec.preset, settings=spec.decoding, tool_choice=spec.tool_choice, output_type=output_type,
        limits=UsageLimits(**spec.limits.model_dump()),
        gate=PolicyEngine(_policy_pack(loaded), trusted=spec.policy.trusted), confirmer=confirmer, audit=audit,
        router=router, context=_context(loaded), guards=guards,
    )
