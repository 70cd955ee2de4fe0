"""`agentkit audit verify FILE` and `agentkit policy check|list|explain`.

Exit codes: 0 fine, 1 the audit log failed verification, 2 misuse (bad pack, missing file: the message says
what to fix).
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

from .._errors import UserError
from .._gate import GateContext
from .._messages import Message, ToolCall, ToolResultMessage, UserMessage
from ._audit import verify
from ._engine import PolicyEngine
from ._loader import available_packs, load_policy, resolve_pack

EXIT_TAMPERED = 1


def register(subparsers: Any) -> None:
    audit = subparsers.add_parser("audit", help="check an audit log")
    audit_sub = audit.add_subparsers(dest="audit_command", metavar="ACTION")
    audit_sub.required = True
    check = audit_sub.add_parser("verify", help="verify the hash chain and head anchor of an audit log")
    check.add_argument("file", type=Path)
    check.add_argument("--key-env", metavar="VAR", help="environment variable holding the log's HMAC key")
    check.add_argument("--json", action="store_true", help="print the report as JSON")
    check.set_defaults(func=cmd_audit_verify)

    policy = subparsers.add_parser("policy", help="validate, list and try policy packs")
    policy_sub = policy.add_subparsers(dest="policy_command", metavar="ACTION")
    policy_sub.required = True
    pack_check = policy_sub.add_parser("check", help="validate a pack (name or path) and summarise it")
    pack_check.add_argument("pack")
    pack_check.add_argument("--json", action="store_true", help="print the resolved pack as JSON")
    pack_check.set_defaults(func=cmd_policy_check)
    listing = policy_sub.add_parser("list", help="list the packs found on the search path")
    listing.set_defaults(func=cmd_policy_list)
    explain = policy_sub.add_parser("explain", help="show the decision a pack makes for one call")
    explain.add_argument("pack")
    explain.add_argument("tool", help="tool name")
    explain.add_argument("--effect", required=True, choices=["read", "write", "send", "destructive"])
    explain.add_argument("--args", default="{}", help="the call's arguments as a JSON object")
    explain.add_argument("--request", default="", help="the user's request (trusted content)")
    explain.add_argument("--tool-output", action="append", default=[], metavar="TEXT",
                         help="untrusted content the agent has read (repeatable)")
    explain.add_argument("--vouched", action="append", default=[], metavar="VALUE",
                         help="a value a tool vouched for, e.g. someone on your own file's ACL (repeatable)")
    explain.add_argument("--preview", action="store_true", help="the tool offers a preview")
    explain.set_defaults(func=cmd_policy_explain)


def _key(var: str | None) -> bytes | None:
    if var is None:
        return None
    value = os.environ.get(var)
    if not value:
        raise UserError(f"environment variable {var} is not set; export the audit key there")
    return value.encode()


def cmd_audit_verify(args: argparse.Namespace) -> int:
    report = verify(args.file, key=_key(args.key_env))
    if args.json:
        print(json.dumps({"path": report.path, "ok": report.ok, "records": report.records, "line": report.line,
                          "problem": report.problem, "notes": report.notes}))
    else:
        print(report)
    return 0 if report.ok else EXIT_TAMPERED


def cmd_policy_check(args: argparse.Namespace) -> int:
    pack = load_policy(args.pack)
    if args.json:
        print(pack.model_dump_json(indent=2))
        return 0
    print(f"{pack.name}: OK ({resolve_pack(args.pack)})")
    if pack.description:
        print(f"  {pack.description.strip()}")
    print("  defaults: " + ", ".join(f"{effect} -> {action}" for effect, action in pack.defaults.items()))
    enabled = [r for r in pack.rules if r.enabled]
    print(f"  rules: {len(enabled)} enabled" + (f", {len(pack.rules) - len(enabled)} disabled" if len(enabled) < len(pack.rules) else ""))
    for rule in enabled:
        print(f"    {rule.action:<8}{rule.id}")
    if len(pack.sources) > 1:
        print("  built from: " + " <- ".join(pack.sources))
    return 0


def cmd_policy_list(args: argparse.Namespace) -> int:
    for name in available_packs():
        print(f"{name:<14}{resolve_pack(name)}")
    return 0


def cmd_policy_explain(args: argparse.Namespace) -> int:
    try:
        arguments = json.loads(args.args)
    except json.JSONDecodeError as exc:
        raise UserError(f"--args is not valid JSON ({exc.msg} at position {exc.pos})") from None
    if not isinstance(arguments, dict):
        raise UserError("--args must be a JSON object, e.g. '{\"to\": \"me@example.com\"}'")

    messages: list[Message] = [UserMessage(content=args.request)] if args.request else []
    messages += [ToolResultMessage(tool_call_id=f"t{i}", name="tool", content=text)
                 for i, text in enumerate(args.tool_output)]
    if args.vouched:
        messages.append(ToolResultMessage(tool_call_id="vouched", name="tool", content="", vouched=args.vouched))
    engine = PolicyEngine(args.pack)
    evaluation = engine.evaluate_call(
        ToolCall(id="explain", name=args.tool, arguments=arguments), effect=args.effect, has_preview=args.preview,
        ctx=GateContext(run_id="explain", messages=messages),
    )
    decision = evaluation.decision
    print(f"{decision.action.upper()}  rule {decision.rule}")
    print(f"  reason: {decision.reason}")
    if evaluation.risk:
        print(f"  request risk: {evaluation.risk}")
    for prov in evaluation.provenance:
        print(f"  {prov.describe()}")
    return 0
