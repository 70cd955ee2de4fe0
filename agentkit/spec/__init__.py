"""Agents described in YAML files: validated with errors at file:line:column, exported as a JSON schema.

    from agentkit.spec import load_agent

    agent = load_agent("examples/agents/web_researcher.yaml")
    print(agent.run_sync("What is llama.cpp?").output)

`agentkit run AGENT.yaml "task"` runs one, `agentkit validate AGENT.yaml` checks it without starting
anything, and `agentkit schema` prints the JSON schema editors use to complete agent files. Tool manifests
(the project's `tools/` folder) are loaded by `load_manifest`.
"""

from __future__ import annotations

from .._yaml import Problem
from ._document import SpecError
from ._load import load_agent, load_agent_text, load_spec, load_spec_text
from ._manifest import ToolManifest, load_manifest
from ._model import (
    AgentSpec,
    ContextSpec,
    LimitsSpec,
    MemorySpec,
    ModelSpec,
    OutputSpec,
    PolicyOverrides,
    PolicySpec,
    RouterSpec,
    ToolEntry,
)
from ._output import schema_output_type
from ._schema import agent_json_schema, manifest_json_schema

__all__ = [
    "AgentSpec",
    "ContextSpec",
    "LimitsSpec",
    "MemorySpec",
    "ModelSpec",
    "OutputSpec",
    "PolicyOverrides",
    "PolicySpec",
    "Problem",
    "RouterSpec",
    "SpecError",
    "ToolEntry",
    "ToolManifest",
    "agent_json_schema",
    "load_agent",
    "load_agent_text",
    "load_manifest",
    "load_spec",
    "load_spec_text",
    "manifest_json_schema",
    "schema_output_type",
]
