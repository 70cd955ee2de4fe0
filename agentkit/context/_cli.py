"""CLI: `agentkit lint-prompt "..."` and `agentkit memory add|list|forget`."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from .._errors import UserError
from ._lint import lint_prompt
from ._memory import MemoryStore, current_project, current_user


def register(subparsers: Any) -> None:
    lint = subparsers.add_parser(
        "lint-prompt", help="score a request against the checklist of a good technical prompt",
        description="Score a request (English or French) on seven points: objective, file or function, exact "
                    "error, expected result, constraints, output format, test to run; say what is missing.",
    )
    lint.add_argument("prompt", help="the request to check, or - to read it from stdin")
    lint.add_argument("--json", action="store_true", help="print the result as JSON")
    lint.add_argument("--min-score", type=float, metavar="N",
                      help="exit with status 1 when the score is below N (for scripts and CI)")
    lint.set_defaults(func=cmd_lint_prompt)

    memory = subparsers.add_parser("memory", help="persistent preferences per user or project (add, list, forget)")
    memory.add_argument("--db", type=Path, help="memory database (default: the agentkit user data directory)")
    actions = memory.add_subparsers(dest="memory_action", metavar="ACTION")
    actions.required = True

    add = actions.add_parser("add", help="remember a preference or fact, e.g. 'answers short'")
    add.add_argument("text")
    scope = add.add_mutually_exclusive_group()
    scope.add_argument("--user", metavar="NAME", nargs="?", const="", help="for a user (default: you)")
    scope.add_argument("--project", metavar="KEY", nargs="?", const="",
                       help="for a project (default: the current git repository or directory)")
    add.add_argument("--json", action="store_true")
    add.set_defaults(func=cmd_memory_add)

    listing = actions.add_parser("list", help="show memories with their ids")
    listing.add_argument("--scope", choices=["user", "project"])
    listing.add_argument("--subject", help="only this user name or project key")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(func=cmd_memory_list)

    forget = actions.add_parser("forget", help="delete a memory by id")
    forget.add_argument("id", type=int)
    forget.add_argument("--json", action="store_true")
    forget.set_defaults(func=cmd_memory_forget)


def _read_prompt(value: str) -> str:
    text = sys.stdin.read() if value == "-" else value
    if not text.strip():
        raise UserError("the prompt is empty; give the request to check, e.g. agentkit lint-prompt \"Fix ...\"")
    return text


def cmd_lint_prompt(args: argparse.Namespace) -> int:
    result = lint_prompt(_read_prompt(args.prompt))
    if args.json:
        print(json.dumps(result.to_dict(), ensure_ascii=False, indent=2))
    else:
        print(result.render())
    if args.min_score is not None and result.score < args.min_score:
        return 1
    return 0


def _store(args: argparse.Namespace) -> MemoryStore:
    return MemoryStore(args.db)


def _as_dict(memory: Any) -> dict[str, Any]:
    return {"id": memory.id, "scope": memory.scope, "subject": memory.subject, "text": memory.text,
            "created": memory.created}


def cmd_memory_add(args: argparse.Namespace) -> int:
    if args.project is not None:
        memory = _store(args).add(args.text, scope="project", subject=args.project or current_project())
    else:
        memory = _store(args).add(args.text, scope="user", subject=args.user or current_user())
    if args.json:
        print(json.dumps(_as_dict(memory), ensure_ascii=False))
    else:
        print(f"remembered #{memory.id} for {memory.scope} {memory.subject}: {memory.text}")
    return 0


def cmd_memory_list(args: argparse.Namespace) -> int:
    memories = _store(args).list(scope=args.scope, subject=args.subject)
    if args.json:
        print(json.dumps([_as_dict(m) for m in memories], ensure_ascii=False, indent=2))
        return 0
    if not memories:
        print("no memories yet; add one with: agentkit memory add \"answers short\"")
        return 0
    for m in memories:
        when = datetime.fromtimestamp(m.created).strftime("%Y-%m-%d")
        print(f"#{m.id:<4} {m.scope:<7} {m.subject}  {when}  {m.text}")
    return 0


def cmd_memory_forget(args: argparse.Namespace) -> int:
    memory = _store(args).forget(args.id)
    if args.json:
        print(json.dumps(_as_dict(memory), ensure_ascii=False))
    else:
        print(f"forgot #{memory.id}: {memory.text}")
    return 0
