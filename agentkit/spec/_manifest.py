"""Tool manifests: the declarative files under a project's `tools/` folder.

Tool *code* lives inside agentkit (the toolkits); a manifest says which toolkit to use and how it is set up,
so several agent files can share one configured toolset and a reviewer reads one short file:

    # tools/offline_search.yaml
    kind: toolkit
    description: web_search over a fixed list of pages (offline), web_fetch for public pages
    toolkit: web
    options:
      search: {backend: static, file: search_results.yaml}
    only: [web_search]

Relative paths in `options` are relative to the manifest file. An agent file uses it with
`tools: [{manifest: ../tools/offline_search.yaml}]`.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .._yaml import Problem
from ..toolkits import available_toolkits, toolkit_config
from ._document import Document, Loc, SpecError, read_document, validation_problems

MANIFEST_KIND = "tool manifest"


class ToolManifest(BaseModel):
    """One configured toolkit, shared by the agent files that reference it."""

    model_config = ConfigDict(extra="forbid")

    schema_ref: str | None = Field(None, alias="$schema")
    kind: Literal["toolkit"] = "toolkit"
    description: str = ""
    toolkit: str = Field(description="a built-in toolkit: " + ", ".join(available_toolkits()))
    options: dict[str, Any] = Field(default_factory=dict, description="the toolkit's options")
    only: list[str] | None = Field(None, description="offer only these tools of the toolkit")


def check_toolkit_options(
    doc: Document, name: str, options: Mapping[str, Any], loc: Loc,
) -> tuple[BaseModel | None, list[Problem]]:
    """Validate `options` against the toolkit's Config; problems point into `doc`."""
    known = available_toolkits()
    if name not in known:
        close = difflib.get_close_matches(name, known, n=1, cutoff=0.5)
        hint = f"did you mean {close[0]!r}? " if close else ""
        return None, [doc.problem((*loc[:-1], "toolkit") if loc and loc[-1] == "options" else loc,
                                  f"unknown toolkit {name!r}; {hint}available: {', '.join(known)}")]
    config_type = toolkit_config(name)
    try:
        return config_type.model_validate(dict(options)), []
    except ValidationError as exc:
        return None, validation_problems(doc, exc, config_type, prefix=loc)


def rebased_options(config: BaseModel, base: Path) -> dict[str, Any]:
    """The options the file set, with relative paths made relative to `base` (the file's folder)."""
    out: dict[str, Any] = {}
    for name in config.model_fields_set:
        out[name] = _rebase(getattr(config, name), base)
    return out


def _rebase(value: Any, base: Path) -> Any:
    if isinstance(value, Path):
        return value if value.is_absolute() or str(value).startswith("~") else (base / value).resolve()
    if isinstance(value, BaseModel):
        return rebased_options(value, base)
    if isinstance(value, list):
        return [_rebase(item, base) for item in value]
    if isinstance(value, dict):
        return {key: _rebase(item, base) for key, item in value.items()}
    return value


def load_manifest(path: Path) -> tuple[ToolManifest, dict[str, Any]]:
    """The manifest and its toolkit options (validated, paths rebased); SpecError points into the manifest."""
    doc = read_document(path, kind=MANIFEST_KIND)
    try:
        manifest = ToolManifest.model_validate(doc.data)
    except ValidationError as exc:
        raise SpecError(validation_problems(doc, exc, ToolManifest), kind=MANIFEST_KIND) from None
    config, problems = check_toolkit_options(doc, manifest.toolkit, manifest.options, ("options",))
    if problems or config is None:
        raise SpecError(problems, kind=MANIFEST_KIND)
    return manifest, rebased_options(config, doc.base_dir)
