"""`agentkit validate AGENT.yaml...` and `agentkit schema`: check agent files, export their JSON schema."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from .._errors import UserError
from ._document import SpecError


def register(subparsers: Any) -> None:
    validate = subparsers.add_parser("validate", help="check agent files (errors give file:line:column and the fix)")
    validate.add_argument("files", nargs="+", type=Path, metavar="AGENT.yaml")
    validate.add_argument("--manifest", action="store_true", help="the files are tool manifests (tools/*.yaml)")
    validate.set_defaults(func=cmd_validate)

    schema = subparsers.add_parser("schema", help="print the JSON schema of agent files (for editor completion)")
    schema.add_argument("--manifest", action="store_true", help="the schema of tool manifests instead")
    schema.add_argument("--output", "-o", type=Path, help="write it to this file instead of stdout")
    schema.set_defaults(func=cmd_schema)


def cmd_validate(args: argparse.Namespace) -> int:
    from ._load import load_spec
    from ._manifest import load_manifest

    failed = 0
    for path in args.files:
        try:
            if args.manifest:
                manifest, _ = load_manifest(path)
                print(f"{path}: ok (toolkit {manifest.toolkit})")
            else:
                spec = load_spec(path)
                tools = ", ".join(t.toolkit or f"manifest {t.manifest}" for t in spec.tools) or "no tools"
                print(f"{path}: ok (agent {spec.name!r}, model {spec.model.source}, {tools}, "
                      f"policy {spec.policy.pack})")
        except SpecError as exc:
            failed += 1
            for problem in exc.problems:
                print(str(problem), file=sys.stderr)
        except UserError as exc:  # a missing file, a folder: the other files are still checked
            failed += 1
            print(str(exc), file=sys.stderr)
    if failed:
        print(f"{failed} of {len(args.files)} file(s) invalid", file=sys.stderr)
        return 2
    return 0


def cmd_schema(args: argparse.Namespace) -> int:
    from ._schema import agent_json_schema, manifest_json_schema

    schema = manifest_json_schema() if args.manifest else agent_json_schema()
    text = json.dumps(schema, indent=2, ensure_ascii=False) + "\n"
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(text, encoding="utf-8")
        print(f"wrote {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0
