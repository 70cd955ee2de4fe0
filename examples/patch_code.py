"""Fix a bug with a model, safely: context from the real file, a grammar-constrained BEFORE/AFTER patch, the
project's tests before and after in the sandbox, a diff, and an atomic write only after you confirm.

    python examples/patch_code.py examples/sample_project --file tally/stats.py --function median --dry-run
    python examples/patch_code.py REPO --file pkg/mod.py --function f --error "$(cat traceback.txt)" --yes
    python examples/patch_code.py REPO --file pkg/mod.py --function f --model ~/models/qwen2.5-7b.gguf
    python examples/patch_code.py REPO --file pkg/mod.py --function f --model http://127.0.0.1:8080/v1#qwen

What happens, in order (the guide's "good code request"):
1. the function is cut from the real file with `ast`; the error is `--error`, or the failing tests' output;
2. the project's tests run in the sandbox (code toolkit: no network, a private copy of the files);
3. the model answers {explanation, before, after} as JSON under a grammar (the `Patch` output type);
   a BEFORE that does not occur exactly once in the file goes back to the model as a correction;
4. the diff is shown and the tests run again on a patched *copy* of the project;
5. only if they pass, and you confirm (or pass --yes), the files toolkit's apply_patch writes the file
   atomically, keeping the old version under .agentkit-backup/. `--dry-run` stops before step 5.

With the tiny default model the patch is often wrong: the checks catch it and say so, and nothing is written.
A stronger GGUF or an OpenAI-compatible server fixes real bugs. `--scripted fix|wrong` replaces the model
with a scripted answer (a correct or a wrong patch for the sample project) to show the checks without a
model; the tests use it.
"""

from __future__ import annotations

import argparse
import ast
import asyncio
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, model_validator

from agentkit import (
    Agent,
    AgentkitError,
    CorrectionSent,
    DecodingSettings,
    FinalOutput,
    ModelRetry,
    UsageLimits,
    UserError,
)
from agentkit.models import Model, resolve_model
from agentkit.testing import ScriptedModel, text
from agentkit.toolkits import load_toolkit
from agentkit.toolkits.code import Config as CodeConfig
from agentkit.toolkits.code import TestReport, run_test_command
from agentkit.toolkits.files import BeforeAfter, PatchError, apply_block, unified_diff

EXIT_OK, EXIT_REJECTED, EXIT_USAGE, EXIT_NOT_CONFIRMED = 0, 1, 2, 3
MAX_ERROR_CHARS = 2_500
MAX_ANSWER_TOKENS = 400  # bounds one answer; the schema's maxLength bounds the grammar
COPY_IGNORE = shutil.ignore_patterns(".git", ".venv", "venv", "__pycache__", ".pytest_cache", ".mypy_cache",
                                     ".agentkit-backup", "node_modules")


class Patch(BaseModel):
    """The model's answer. Bounded lengths keep the grammar finite (a small model cannot ramble forever)."""

    explanation: str = Field(max_length=120, description="one sentence: what was wrong and how the patch fixes it")
    before: str = Field(min_length=1, max_length=400,
                        description="complete lines copied exactly from the function (same indentation)")
    after: str = Field(max_length=400, description="the lines that replace them")


def lines_block(value: str) -> str:
    """Whole lines: a block that ends without a newline gets one, as it would in the file."""
    return value if value.endswith("\n") or not value else value + "\n"


def checked_patch_type(content: str) -> type[Patch]:
    """`Patch`, plus the check that its BEFORE occurs exactly once in `content`: a failure goes back to the
    model as a correction (within the run's retry budget) instead of reaching the file."""

    class CheckedPatch(Patch):
        @model_validator(mode="after")
        def _applies(self) -> CheckedPatch:
            before, after = lines_block(self.before), lines_block(self.after)
            if before == after:
                raise ValueError("AFTER is identical to BEFORE: change the lines that cause the error")
            try:
                apply_block(content, BeforeAfter(before, after))
            except PatchError as exc:
                raise ValueError(str(exc)) from None
            return self

    return CheckedPatch


def function_source(content: str, name: str, display: str) -> tuple[str, int, int]:
    """The function `name` (or `Class.method`) with its decorators, and its first and last line numbers."""
    try:
        tree = ast.parse(content)
    except SyntaxError as exc:
        raise UserError(f"{display} does not parse as Python (line {exc.lineno}: {exc.msg})") from None
    wanted = name.split(".")
    body: list[ast.stmt] = tree.body
    found: ast.AST | None = None
    for part in wanted:
        found = next((node for node in body if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
                      and node.name == part), None)
        if found is None:
            names = sorted(n.name for n in body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef))
            raise UserError(f"no function {name!r} in {display}; it defines {', '.join(names) or 'nothing'}")
        body = found.body if isinstance(found, ast.ClassDef) else []
    assert isinstance(found, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
    first = min([found.lineno, *(d.lineno for d in found.decorator_list)])
    last = found.end_lineno or found.lineno
    lines = content.splitlines(keepends=True)
    return "".join(lines[first - 1:last]), first, last


def error_from_report(report: TestReport) -> str:
    return "\n\n".join(f"FAILED {f.name}\n{f.output}" for f in report.failures) or report.output_tail


def build_prompt(display: str, function: str, first: int, last: int, error: str) -> str:
    if len(error) > MAX_ERROR_CHARS:
        error = error[:MAX_ERROR_CHARS] + "\n... (error cut)"
    return (
        f"Fix the bug in this Python function with the smallest possible change.\n\n"
        f"File {display}, lines {first}-{last}:\n```python\n{function}```\n\n"
        f"Error:\n```\n{error.strip()}\n```\n\n"
        "Answer with JSON. explanation: one sentence. before: the line(s) to change, copied exactly from the "
        "function above with the same indentation. after: the corrected line(s)."
    )


SYSTEM = "You are a careful Python developer. You fix bugs with minimal patches and never rewrite working code."

# The scripted answers for the sample project (tally/stats.py, median): one right, one wrong.
_WRONG_LINE = "    return (ordered[middle] + ordered[middle + 1]) / 2\n"
SCRIPTED = {
    "fix": Patch(explanation="For an even count the two middle values are at middle - 1 and middle.",
                 before=_WRONG_LINE, after="    return (ordered[middle - 1] + ordered[middle]) / 2\n"),
    "wrong": Patch(explanation="Divide by 2.0 to get a float.",
                   before=_WRONG_LINE, after="    return (ordered[middle] + ordered[middle + 1]) / 2.0\n"),
}


def scripted_model(kind: str) -> ScriptedModel:
    return ScriptedModel([text(SCRIPTED[kind].model_dump_json())], name=f"scripted-{kind}")


def say(message: str) -> None:
    print(message, flush=True)


def summary(report: TestReport) -> str:
    state = "timed out" if report.timed_out else f"exit code {report.exit_code}"
    return f"{report.passed} passed, {report.failed} failed, {report.errors} errors ({state})"


def run_tests(root: Path, command: str, timeout_s: float) -> TestReport:
    return run_test_command(CodeConfig(root=root, timeout_s=timeout_s), command, ".")


async def ask_model(model: Model, prompt: str, content: str, *, retries: int) -> Patch:
    agent = Agent(model, system=SYSTEM, output_type=checked_patch_type(content), preset="precise",
                  settings=DecodingSettings(max_tokens=MAX_ANSWER_TOKENS),
                  limits=UsageLimits(max_steps=retries + 2, max_retries=retries))
    async for event in agent.run_stream(prompt):
        if isinstance(event, CorrectionSent):
            lines = event.message.splitlines()
            say(f"   check failed, sent back to the model: {(lines[1:2] or lines or [''])[0][:300]}")
        elif isinstance(event, FinalOutput):
            output: Patch = event.result.output
            return output
    raise AgentkitError("the run ended without a patch")  # pragma: no cover - the loop always ends with one


def confirm(display: str, *, assume_yes: bool) -> bool:
    if assume_yes:
        return True
    if not sys.stdin.isatty():
        return False
    return input(f"Apply this patch to {display}? [y/N] ").strip().lower() in ("y", "yes")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("repo", type=Path, help="the project's root folder")
    parser.add_argument("--file", required=True, help="the file to fix, relative to the project root")
    parser.add_argument("--function", required=True, help="the function (or Class.method) the bug is in")
    parser.add_argument("--error", help="the error or traceback you see (default: the failing tests' output)")
    parser.add_argument("--test-command", default="pytest -q", help="the project's test command (default: pytest -q)")
    parser.add_argument("--model", "-m", default="default", help="'default', a .gguf path, or http://host/v1#name")
    parser.add_argument("--scripted", choices=sorted(SCRIPTED), help="no model: play a correct or a wrong "
                        "patch for the sample project (a demo of the checks)")
    parser.add_argument("--retries", type=int, default=1, help="corrections sent back to the model (default 1)")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds per test run (default 120)")
    parser.add_argument("--dry-run", action="store_true", help="show the patch and the test outcome; write nothing")
    parser.add_argument("--yes", "-y", action="store_true", help="apply without asking when the tests pass")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None, *, model: Model | None = None) -> int:
    args = parse_args(argv)
    try:
        return patch_code(args, model)
    except UserError as exc:
        print(f"patch_code: error: {exc}", file=sys.stderr)
        return EXIT_USAGE


def patch_code(args: argparse.Namespace, model: Model | None) -> int:
    repo: Path = args.repo.resolve()
    if not repo.is_dir():
        raise UserError(f"{args.repo} is not a folder; give the project's root")
    target = (repo / args.file).resolve()
    if not target.is_relative_to(repo) or not target.is_file():
        raise UserError(f"no file {args.file} inside {repo}")
    display = target.relative_to(repo).as_posix()
    content = target.read_text(encoding="utf-8-sig")  # Python source may start with a BOM
    function, first, last = function_source(content, args.function, display)

    say(f"== tests before ({args.test_command}, in the sandbox)")
    before_report = run_tests(repo, args.test_command, args.timeout)
    say(f"   {summary(before_report)}")
    error = args.error or (error_from_report(before_report) if not before_report.ok else "")
    if not error.strip():
        say("The tests pass and no --error was given: nothing to fix. Pass the traceback you see with --error.")
        return EXIT_OK

    chosen = model or (scripted_model(args.scripted) if args.scripted else resolve_model(args.model))
    say(f"== context: {display}, function {args.function} (lines {first}-{last}), error of {len(error)} characters")
    say(f"== asking {chosen.name} for a BEFORE/AFTER patch (JSON under a grammar)")
    prompt = build_prompt(display, function, first, last, error)
    try:
        patch = asyncio.run(ask_model(chosen, prompt, content, retries=args.retries))
    except AgentkitError as exc:
        say(f"REJECTED: the model gave no usable patch: {exc}")
        say("Nothing was written. Try a stronger model (--model PATH.gguf or an http://host/v1 server).")
        return EXIT_REJECTED
    new_content = apply_block(content, BeforeAfter(lines_block(patch.before), lines_block(patch.after)))
    say("== check: the BEFORE block occurs exactly once in the file: ok")
    say(f"== proposed patch: {patch.explanation.strip()}")
    say(unified_diff(content, new_content, display).rstrip("\n"))

    say("== tests after, on a patched copy of the project (the real files are untouched)")
    with tempfile.TemporaryDirectory(prefix="agentkit-patch-") as scratch:
        copy = Path(scratch) / repo.name
        shutil.copytree(repo, copy, ignore=COPY_IGNORE, symlinks=True)
        (copy / display).write_text(new_content, encoding="utf-8")
        after_report = run_tests(copy, args.test_command, args.timeout)
    say(f"   {summary(after_report)}")
    if not after_report.ok:
        say("REJECTED: the tests still fail with this patch, so it is not applied.")
        for failure in after_report.failures[:3]:
            say(f"   FAILED {failure.name}")
        return EXIT_REJECTED
    fixed = before_report.failed + before_report.errors
    say(f"   the patch makes the tests pass ({fixed} failing before, 0 after)")
    if args.dry_run:
        say("== dry run: nothing written")
        return EXIT_OK
    if not confirm(display, assume_yes=args.yes):
        say("== not applied (answer y, or pass --yes to apply without asking)")
        return EXIT_NOT_CONFIRMED
    return apply(repo, display, patch)


def apply(repo: Path, display: str, patch: Patch) -> int:
    """Write through the files toolkit's apply_patch: it re-checks the BEFORE against the file as it is now,
    writes atomically (temp file, fsync, rename) and keeps the old version under .agentkit-backup/."""
    tools = {t.name: t for t in load_toolkit("files", {"roots": [str(repo)]})}
    blocks = f"<<<<<<< BEFORE\n{lines_block(patch.before)}=======\n{lines_block(patch.after)}>>>>>>> AFTER\n"
    try:
        result: Any = tools["apply_patch"](path=display, patch=blocks)
    except ModelRetry as exc:  # the file changed since it was read
        say(f"REJECTED at apply time: {exc.message}")
        return EXIT_REJECTED
    say("== applied: " + str(result).splitlines()[0])
    return EXIT_OK


if __name__ == "__main__":
    raise SystemExit(main())
