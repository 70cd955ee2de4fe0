"""`agentkit sandbox FILE.py`: run a file in the same sandbox as the "python" toolkit and print the result as JSON."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ..._errors import UserError


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "sandbox", help="run a Python file in the sandbox and print the result as JSON",
        description="Run FILE (or - for stdin) in the sandbox used by the python toolkit; print a JSON result. "
                    "Exit status: 0 when the program completed, 1 when it failed or was stopped.",
    )
    parser.add_argument("file", help="the Python file to run, or - to read the program from stdin")
    parser.add_argument("--timeout", type=float, default=10.0, help="wall-clock seconds (default 10)")
    parser.add_argument("--memory-mb", type=int, default=256, help="address-space limit in MiB (default 256)")
    parser.add_argument("--output-bytes", type=int, default=64_000, help="stdout+stderr cap (default 64000)")
    parser.add_argument("--allow-unsandboxed-INSECURE", action="store_true", dest="insecure",
                        help="run without bubblewrap (rlimits and RestrictedPython only). Not a sandbox.")
    parser.set_defaults(func=cmd_sandbox)


def cmd_sandbox(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from ._sandbox import Sandbox, SandboxLimits

    if args.file == "-":
        code = sys.stdin.read()
    else:
        path = Path(args.file)
        try:
            code = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise UserError(f"no such file: {path}") from None
        except (IsADirectoryError, PermissionError, UnicodeDecodeError) as exc:
            raise UserError(f"cannot read {path} as UTF-8 text: {exc}") from None
    code = code.removeprefix("\ufeff")  # a byte order mark (editors on Windows) is not Python
    try:
        limits = SandboxLimits(timeout_s=args.timeout, memory_mb=args.memory_mb, output_bytes=args.output_bytes)
    except ValidationError as exc:
        problems = "; ".join(f"{e['loc'][0]}: {e['msg']}" for e in exc.errors(include_url=False))
        raise UserError(f"invalid limits: {problems}") from None
    result = Sandbox(limits, allow_unsandboxed_INSECURE=args.insecure).run(code)
    print(result.model_dump_json(indent=2))
    return 0 if result.ok else 1
