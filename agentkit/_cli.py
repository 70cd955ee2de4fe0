"""`agentkit` command line. Errors print one line and exit non-zero; tracebacks only with AGENTKIT_DEBUG=1.

Subcommands of other parts register themselves through the modules listed in `COMMAND_MODULES`, each
exposing `register(subparsers)`; a module sets `func` on its parser, called with the parsed arguments.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import os
import shlex
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ._agent import Agent
from ._decoding import DecodingSettings
from ._errors import AgentkitError, UserError
from ._events import (
    ConfirmationRequired,
    CorrectionSent,
    Event,
    FinalOutput,
    Refused,
    RunPaused,
    TextDelta,
    ToolCallProposed,
    ToolResult,
)
from ._result import RunState

COMMAND_MODULES: list[str] = ["agentkit.context._cli", "agentkit.policy._cli", "agentkit.toolkits.mcp._cli",
                              "agentkit.toolkits.sandbox._cli", "agentkit.router._cli",
                              "agentkit.spec._cli", "agentkit.serve._cli"]

EXIT_USER, EXIT_RUN, EXIT_INTERNAL = 2, 1, 70

# The `run` options that build the agent (flag, attribute, default): an agent file states them itself, and a
# resumed run needs them again to rebuild the agent that paused.
_AGENT_FLAGS: tuple[tuple[str, str, Any], ...] = (
    ("--model", "model", None), ("--tools", "tools", ""), ("--tool-choice", "tool_choice", "auto"),
    ("--system", "system", None), ("--preset", "preset", None), ("--temperature", "temperature", None),
    ("--max-tokens", "max_tokens", None), ("--seed", "seed", None), ("--no-router", "no_router", False),
    ("--no-context", "no_context", False), ("--policy", "policy", "default"), ("--audit", "audit", None),
    ("--context-window", "context_window", None),
)


def _err(message: str) -> None:
    print(f"agentkit: {message}", file=sys.stderr, flush=True)


def _dim(text: str) -> str:
    return f"\033[2m{text}\033[0m" if sys.stderr.isatty() else text


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="agentkit", description="Agents that call tools on local models.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    run = sub.add_parser("run", help="run an agent on a prompt and stream the answer")
    run.add_argument("target", nargs="?", help="the prompt, or an agent file (AGENT.yaml) followed by the prompt")
    run.add_argument("prompt", nargs="?", help="the prompt, when the first argument is an agent file")
    run.add_argument("--model", "-m", help="'default', a .gguf path, or an OpenAI-compatible base URL (http://host:port/v1#model)")
    run.add_argument("--tools", "-t", default="", help="comma-separated toolkits to offer, e.g. calc,files")
    run.add_argument("--tool-choice", default="auto", help="auto, required, none, or a tool name")
    run.add_argument("--system", help="system prompt")
    run.add_argument("--preset", choices=["precise", "code", "balanced", "creative"], help="decoding preset")
    run.add_argument("--temperature", type=float)
    run.add_argument("--max-tokens", type=int)
    run.add_argument("--seed", type=int)
    run.add_argument("--no-router", action="store_true", help="offer every tool; skip intent/risk routing")
    run.add_argument("--no-context", action="store_true", help="send the messages as they are (no context builder)")
    run.add_argument("--policy", default="default", help="policy pack name or YAML path (default: default)")
    run.add_argument("--audit", type=Path, help="append a hash-chained audit log of the run to this file")
    run.add_argument("--context-window", type=int, help="context length of a remote model (default 8192)")
    run.add_argument("--json", action="store_true", help="print every event as one JSON line (machine-readable)")
    run.add_argument("--timings", action="store_true", help="print the latency decomposition after the answer")
    run.add_argument("--state-out", type=Path, help="where to save the run state if it pauses for confirmation")
    run.add_argument("--resume", type=Path, help="resume a paused run from its saved state file")
    run.add_argument("--approve", action="append", default=[], metavar="FINGERPRINT", help="approve a pending call")
    run.add_argument("--deny", action="append", default=[], metavar="FINGERPRINT", help="deny a pending call")
    run.set_defaults(func=cmd_run)

    models = sub.add_parser("models", help="show the default model, installed models and the llama.cpp build")
    models.add_argument("--json", action="store_true")
    models.set_defaults(func=cmd_models)

    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra and args.command == "run" and args.prompt is None and len(extra) == 1 and not extra[0].startswith("-"):
        args.prompt = extra[0]  # argparse leaves the prompt over when options sit between it and the agent file
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    try:
        code = args.func(args)
        return int(code or 0)
    except UserError as exc:
        _err(f"error: {exc}")
        return EXIT_USER
    except AgentkitError as exc:
        _err(f"{type(exc).__name__}: {exc}")
        return EXIT_RUN
    except KeyboardInterrupt:
        _err("interrupted")
        return 130
    except BrokenPipeError:
        return 0
    except OSError as exc:  # a path the command cannot read or write, a port in use: the user's to fix
        where = f"{exc.filename}: " if exc.filename else ""
        _err(f"error: {where}{exc.strerror or exc}")
        return EXIT_USER
    except Exception as exc:  # never a bare traceback for a user
        if os.environ.get("AGENTKIT_DEBUG"):
            raise
        _err(f"internal error: {type(exc).__name__}: {exc} (set AGENTKIT_DEBUG=1 for the traceback)")
        return EXIT_INTERNAL


def _load_tools(spec: str) -> list[Any]:
    if not spec.strip():
        return []
    from .toolkits import load_toolkits

    return load_toolkits([name.strip() for name in spec.split(",") if name.strip()])


def _given_flags(args: argparse.Namespace) -> list[tuple[str, Any]]:
    """The agent-building options given on this command line, with their values."""
    return [(flag, getattr(args, attribute)) for flag, attribute, default in _AGENT_FLAGS
            if getattr(args, attribute) != default]


def _agent_argv(args: argparse.Namespace) -> list[str]:
    """The arguments that rebuild this command's agent: the agent file, or the options that built it."""
    argv = [args.target] if _is_agent_file(args.target) else []
    for flag, value in _given_flags(args):
        argv.extend([flag] if isinstance(value, bool) else [flag, str(value)])
    return argv


def _is_agent_file(target: str | None) -> bool:
    return target is not None and target.endswith((".yaml", ".yml"))


def _agent_from_args(args: argparse.Namespace) -> tuple[Agent[Any], str | None]:
    target: str | None = args.target
    prompt: str | None = args.prompt
    if target is not None and _is_agent_file(target):
        from .models import resolve_model
        from .policy import interactive_confirmer
        from .spec import load_agent

        refused = [flag for flag, _ in _given_flags(args) if flag != "--model"]
        if refused:
            raise UserError(f"{', '.join(refused)} do not apply to an agent file; set them in {target} "
                            "(only --model replaces the file's model)")
        agent = load_agent(Path(target), model=resolve_model(args.model) if args.model else None,
                           confirmer=interactive_confirmer() if sys.stdin.isatty() else None)
        return agent, prompt
    if prompt is not None:
        raise UserError(f"got two prompts ({target!r} and {prompt!r}); quote the prompt as one argument")
    given = {"temperature": args.temperature, "max_tokens": args.max_tokens, "seed": args.seed}
    try:
        settings = DecodingSettings.model_validate({name: value for name, value in given.items() if value is not None})
    except ValidationError as exc:
        error = exc.errors(include_url=False)[0]
        flag = "--" + str(error["loc"][0]).replace("_", "-")
        raise UserError(f"{flag}: {error['msg']} (got {error['input']})") from None
    router: Any = None
    if not args.no_router:
        from .router import Router

        router = Router()  # keeps the chosen model; filters tools, sets the preset, refuses or asks when it must
    from .models import resolve_model

    model = resolve_model(args.model)
    context: Any = None
    if not args.no_context:
        from .context import ContextBuilder

        # llama.cpp models know their window; a remote server does not say, so assume one unless told.
        window = args.context_window or (None if getattr(model, "n_ctx", None) else 8192)
        context = ContextBuilder(context_window=window)
    from .policy import AuditLog, PolicyEngine, SafetyGuard, interactive_confirmer

    agent = Agent(
        model, tools=_load_tools(args.tools), system=args.system, preset=args.preset, settings=settings,
        tool_choice=args.tool_choice, router=router, context=context,
        gate=PolicyEngine(args.policy), guards=[SafetyGuard()],
        confirmer=interactive_confirmer() if sys.stdin.isatty() else None,
        audit=AuditLog(args.audit) if args.audit else None,
    )
    return agent, target


def _announce_load(agent: Agent[Any], quiet: bool) -> None:
    from .models import LlamaCppModel

    model = agent.resolved_model()
    if isinstance(model, LlamaCppModel) and not model.is_loaded:
        size = model.path.stat().st_size / 1e6
        if not quiet:
            print(_dim(f"loading {model.name} ({size:.0f} MB, {model.path.name})..."), file=sys.stderr, flush=True)
        t0 = time.perf_counter()
        model.load()
        if not quiet:
            print(_dim(f"loaded in {time.perf_counter() - t0:.2f} s"), file=sys.stderr, flush=True)


def cmd_run(args: argparse.Namespace) -> int:
    agent, prompt = _agent_from_args(args)
    state: RunState | None = None
    decisions: dict[str, str] = {}
    if args.resume:
        if not args.resume.exists():
            raise UserError(f"no saved state at {args.resume}")
        try:
            saved = RunState.load(args.resume.read_text())
        except ValidationError as exc:
            error = exc.errors(include_url=False)[0]
            where = ".".join(str(part) for part in error["loc"]) or "the top level"
            more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
            raise UserError(f"{args.resume} is not a saved run state: {where}: {error['msg']}{more}") from None
        except ValueError as exc:
            raise UserError(f"{args.resume} is not a saved run state: {exc}") from None
        called = [p.call.name for p in saved.pending] + [call.name for call in saved.queue]
        missing = sorted({name for name in called if name not in agent.tools})
        if missing:  # checked before the state is claimed: the paused run stays resumable
            raise UserError(f"the paused run calls {', '.join(missing)}, which this agent does not offer; resume "
                            "with the agent file or the --model/--tools/--policy options the run paused with")
        pending = sorted(p.fingerprint for p in saved.pending)
        unknown = [fp for fp in [*args.approve, *args.deny] if fp not in pending]
        if unknown:  # also before the claim: a mistyped fingerprint must not use up the pause
            raise UserError(f"{unknown[0]!r} is not the fingerprint of a pending call; pending: {', '.join(pending)}")
        from .policy import claim_state

        state = claim_state(args.resume)  # moved aside as it loads: one pause is resumed once
        decisions = {fp: "approve" for fp in args.approve} | {fp: "deny" for fp in args.deny}
        prompt = None
    elif prompt is None:
        raise UserError("give a prompt: agentkit run AGENT.yaml \"what to do\"")
    _announce_load(agent, args.json)
    return asyncio.run(_stream_to_terminal(agent, prompt, state, decisions, args))


async def _stream_to_terminal(
    agent: Agent[Any], prompt: str | None, state: RunState | None, decisions: dict[str, str],
    args: argparse.Namespace,
) -> int:
    out = sys.stdout
    last: Event | None = None
    async for event in agent.run_stream(prompt, state=state, decisions=decisions or None):
        last = event
        if args.json:
            out.write(event.model_dump_json() + "\n")
            out.flush()
            continue
        if isinstance(event, TextDelta):
            out.write(event.text)
            out.flush()
        elif isinstance(event, ToolCallProposed):
            arguments = json.dumps(event.call.arguments, ensure_ascii=False)
            print(_dim(f"\n-> {event.call.name}({arguments})"), file=sys.stderr, flush=True)
        elif isinstance(event, CorrectionSent):
            print(_dim(f"!! {event.reason}: {event.message.splitlines()[0]}"), file=sys.stderr, flush=True)
        elif isinstance(event, ToolResult):
            shown = event.content if len(event.content) < 300 else event.content[:300] + "..."
            print(_dim(f"<- {shown}"), file=sys.stderr, flush=True)
        elif isinstance(event, ConfirmationRequired) and agent.confirmer is None:
            print(_dim(f"\n[{event.call.name} needs confirmation: {event.reason}]"), file=sys.stderr)
        elif isinstance(event, Refused):
            out.write(event.message)
    if isinstance(last, RunPaused):
        from .policy import save_state

        path = args.state_out or Path(f"{last.state.run_id}.state.json")
        save_state(last.state, path)
        for pending in last.state.pending:
            print(f"\npaused: {pending.call.name} ({pending.effect}) awaits confirmation.", file=sys.stderr)
            if pending.preview:
                print(pending.preview, file=sys.stderr)
            command = shlex.join(["agentkit", "run", *_agent_argv(args), "--resume", str(path),
                                  "--approve", pending.fingerprint])
            print(f"resume: {command}   (or --deny)", file=sys.stderr)
        return 3
    if not args.json:
        out.write("\n")
        if args.timings and isinstance(last, FinalOutput):
            print(last.result.timings.table(), file=sys.stderr)
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    from .models import DEFAULT_MODEL_NAME, default_model_path, gpu_offload_supported
    from .models._llamacpp_load import cpu_count

    info: dict[str, Any] = {"default": DEFAULT_MODEL_NAME}
    try:
        path = default_model_path()
        info["default_path"] = str(path)
        info["default_size_mb"] = round(path.stat().st_size / 1e6, 1)
    except AgentkitError as exc:
        info["default_error"] = str(exc)
    try:
        import llama_cpp

        info["llama_cpp_python"] = llama_cpp.__version__
        info["gpu_offload"] = gpu_offload_supported()
    except ImportError:
        info["llama_cpp_python"] = None
    info["threads"] = cpu_count()
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    print(f"default model : {info['default']}")
    print(f"  file        : {info.get('default_path', info.get('default_error'))}")
    if "default_size_mb" in info:
        print(f"  size        : {info['default_size_mb']} MB")
    print(f"llama.cpp     : llama-cpp-python {info['llama_cpp_python']}, "
          f"{'GPU offload available' if info.get('gpu_offload') else 'CPU only'}, {info['threads']} threads")
    print("other models  : pass any .gguf path with --model, or an OpenAI-compatible URL (http://host:port/v1#name)")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
