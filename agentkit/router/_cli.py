"""`agentkit route`: print the routing decision for a request, or route a JSONL file of requests.

    agentkit route "Corrige ce bug dans views.py : KeyError 'email'"
    agentkit route --json "What's the weather in Lyon tomorrow?"
    agentkit route --jsonl requests.jsonl > decisions.jsonl     # one {"prompt": ...} per line; "-" reads stdin

In JSONL mode every input line gets exactly one output line, in order: the decision (with the input's
`prompt` and `id`, when present), or `{"line": N, "error": "..."}` for a line that is not a request; the
command then exits with status 2 so that a script notices, but no good line is lost.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any, TextIO

from .._errors import UserError
from .._tools import Tool
from ._decision import RoutingDecision
from ._registry import ModelRegistry
from ._router import Router

EXIT_BAD_LINES = 2


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "route", help="show how a request would be routed (intent, risk, tools, model, format)",
        description="Route a request (or a JSONL file of requests) and print the decision.",
    )
    parser.add_argument("text", nargs="?", help="the request to route")
    parser.add_argument("--jsonl", metavar="FILE", help="route one JSON object per line (with a `prompt` field); - for stdin")
    parser.add_argument("--json", action="store_true", help="print the decision as JSON")
    parser.add_argument("--models", type=Path, metavar="FILE", help="model registry YAML (default: the embedded model)")
    parser.add_argument("--tools", default=None, help="comma-separated toolkits to plan for (default: the built-in catalogue)")
    parser.add_argument("--no-model-tier", action="store_true", help="never ask a model, even a capable_router one")
    parser.set_defaults(func=cmd_route)


def cmd_route(args: argparse.Namespace) -> int:
    if (args.text is None) == (args.jsonl is None):
        raise UserError('give a request to route, or --jsonl FILE (not both): agentkit route "text"')
    registry = ModelRegistry.from_yaml(args.models) if args.models else ModelRegistry.default()
    router = Router(models=registry, use_model=not args.no_model_tier)
    tools = _tools(args.tools)
    if args.jsonl is not None:
        return _route_jsonl(router, tools, args.jsonl, sys.stdout)
    decision = router.route(args.text, tools=tools)
    if args.json:
        print(json.dumps(decision.model_dump(mode="json"), ensure_ascii=False, indent=2))
    else:
        print(describe(decision))
    return 0


def _tools(spec: str | None) -> list[Tool] | None:
    if spec is None:
        return None
    from ..toolkits import load_toolkits

    return load_toolkits([name.strip() for name in spec.split(",") if name.strip()])


def _lines(source: str) -> Iterable[str]:
    if source == "-":
        yield from sys.stdin
        return
    try:
        with open(source, encoding="utf-8") as handle:
            yield from handle
    except FileNotFoundError:
        raise UserError(f"no such file: {source}") from None
    except UnicodeDecodeError as exc:
        raise UserError(f"{source} is not UTF-8 text ({exc.reason}); save it as UTF-8") from None


def _route_jsonl(router: Router, tools: list[Tool] | None, source: str, out: TextIO) -> int:
    bad = 0
    for number, line in enumerate(_lines(source), 1):
        if not line.strip():
            continue
        record: dict[str, Any]
        try:
            item = json.loads(line)
            if not isinstance(item, dict) or not isinstance(item.get("prompt"), str):
                raise ValueError('expected a JSON object with a string "prompt" field')
            decision = router.route(item["prompt"], tools=tools)
            record = {k: item[k] for k in ("id", "prompt") if k in item} | decision.model_dump(mode="json")
        except ValueError as exc:
            bad += 1
            record = {"line": number, "error": str(exc)}
        out.write(json.dumps(record, ensure_ascii=False) + "\n")
        out.flush()
    if bad:
        print(f"agentkit: {bad} line(s) of {source} were not requests; see the 'error' lines", file=sys.stderr)
        return EXIT_BAD_LINES
    return 0


def describe(decision: RoutingDecision) -> str:
    """The human-readable form printed by `agentkit route`."""
    others = ", ".join(f"{s.intent} {s.confidence:.2f}" for s in decision.intents[1:4])
    first = decision.intents[0].confidence if decision.intents else 1.0
    rows = [
        ("intent", f"{decision.intent} ({first:.2f})" + (f"   others: {others}" if others else "")),
        ("language", decision.language),
        ("risk", decision.risk + (f"   ({', '.join(decision.risk_reasons)})" if decision.risk_reasons else "")),
        ("fresh data", "yes" if decision.needs_fresh_data else "no"),
        ("actions", ", ".join(decision.actions)),
    ]
    if decision.refusal:
        rows.append(("refusal", decision.refusal))
    elif decision.clarifying_question:
        rows.append(("abstain", decision.clarifying_question))
    else:
        tools = ", ".join(decision.tool_names or []) or "(none)"
        choice = f"   (tool_choice: {decision.tool_choice})" if decision.tool_choice else ""
        rows += [("tools", tools + choice), ("format", decision.output_format), ("preset", decision.preset)]
        if decision.model:
            rows.append(("model", f"{decision.model}   ({decision.model_reason})"))
    rows += [("tier", decision.tier), ("signals", ", ".join(decision.signals) or "(none)")]
    width = max(len(label) for label, _ in rows)
    return "\n".join(f"{label.ljust(width)}  {value}" for label, value in rows)
