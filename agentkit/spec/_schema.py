"""The JSON schemas editors use to complete and check agent files and tool manifests.

pydantic gives the shape of `AgentSpec`; each tool entry is then specialised per toolkit, so that after
`toolkit: mail` an editor offers the mail toolkit's own options (each toolkit's `Config`).
Point an editor at it with a first line `# yaml-language-server: $schema=agent.schema.json`.
"""

from __future__ import annotations

from typing import Any

from ..toolkits import available_toolkits, toolkit_config
from ._manifest import ToolManifest
from ._model import AgentSpec

_ONLY = {"anyOf": [{"type": "array", "items": {"type": "string"}}, {"type": "null"}],
         "description": "offer only these tools of the toolkit"}


def _toolkit_defs(defs: dict[str, Any]) -> dict[str, str]:
    """Add each toolkit's options schema to `defs`; returns toolkit name -> the options' $ref."""
    refs: dict[str, str] = {}
    for name in available_toolkits():
        prefix = f"toolkit_{name}__"
        schema = toolkit_config(name).model_json_schema(ref_template="#/$defs/" + prefix + "{model}")
        for def_name, definition in schema.pop("$defs", {}).items():
            defs[prefix + def_name] = definition
        defs[prefix + "options"] = schema
        refs[name] = "#/$defs/" + prefix + "options"
    return refs


def _toolkit_variant(name: str, ref: str, *, extra: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {"toolkit": {"const": name}, "options": {"$ref": ref}, "only": _ONLY, **extra},
        "required": ["toolkit"],
        "additionalProperties": False,
    }


def agent_json_schema() -> dict[str, Any]:
    schema = AgentSpec.model_json_schema(by_alias=True)
    schema["title"] = "agentkit agent file"
    defs: dict[str, Any] = schema.setdefault("$defs", {})
    refs = _toolkit_defs(defs)
    manifest_form = {
        "type": "object",
        "properties": {"manifest": {"type": "string", "description": "a tool manifest file (tools/*.yaml)"},
                       "only": _ONLY},
        "required": ["manifest"],
        "additionalProperties": False,
    }
    defs["ToolEntry"] = {"anyOf": [manifest_form, *(_toolkit_variant(n, r, extra={}) for n, r in refs.items())],
                         "description": defs.get("ToolEntry", {}).get("description", "")}
    shorthand = {"type": "string", "enum": sorted(refs), "description": "a built-in toolkit with default options"}
    properties = schema["properties"]
    properties["tools"]["items"] = {"anyOf": [shorthand, {"$ref": "#/$defs/ToolEntry"}]}
    for key, text in (("model", "default, a .gguf path, an http(s) URL or a profile name"),
                      ("policy", "a policy pack name or a pack file path")):
        field = properties[key]
        described = {k: v for k, v in field.items() if k in ("description", "default")}
        rest = {k: v for k, v in field.items() if k not in described}
        properties[key] = {"anyOf": [{"type": "string", "description": text}, rest], **described}
    return schema


def manifest_json_schema() -> dict[str, Any]:
    base = ToolManifest.model_json_schema(by_alias=True)
    defs: dict[str, Any] = {}
    refs = _toolkit_defs(defs)
    common = {key: base["properties"][key] for key in ("$schema", "kind", "description")}
    return {
        "title": "agentkit tool manifest",
        "description": base.get("description", ""),
        "anyOf": [_toolkit_variant(n, r, extra=common) for n, r in refs.items()],
        "$defs": defs,
    }
