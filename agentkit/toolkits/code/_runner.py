"""The "code" toolkit: `run_tests` runs a project's test command in the sandbox and summarises the result.

Where the code runs: the same bubblewrap jail as the Python sandbox (no network, an unprivileged uid, no capabilities,
seccomp filter, resource limits, wall-clock timeout, output cap), without RestrictedPython since tests are
ordinary programs. The host stages a world-readable copy of the project (regular files and symlinks only,
VCS/venv/cache directories left out, size-capped) so the unprivileged uid can read it whatever the original
permissions; it is bound read-only at /src, and a small bootstrap copies it into a size-capped tmpfs at
/workspace where the tests run. Chosen over a read-write bind of a host copy: the tests' writes stay private
to the sandbox, a disk bomb fills the bounded tmpfs rather than the host disk, and everything the tests wrote
disappears with the sandbox. The interpreter's prefix and virtualenv are bound read-only at their own paths
so pytest and the project's dependencies import.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import stat
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ElementTree
from functools import cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from ..._errors import ModelRetry, UserError
from ..._tools import Tool, tool
from ..files import PathRefused, Workspace
from ..sandbox._jail import Jail, ResourceLimits, find_bwrap
from ..sandbox._process import Outcome

_BOOT = Path(__file__).parent.parent / "sandbox" / "_testboot.py"
_JUNIT = "/tmp/agentkit-junit.xml"
_EXCLUDE = [".git", ".hg", ".venv", "venv", "node_modules", "__pycache__", "*.pyc", ".mypy_cache", ".pytest_cache",
            ".ruff_cache", ".tox", ".agentkit-backup", "*.egg-info"]


class Config(BaseModel):
    """Options of the "code" toolkit."""

    model_config = ConfigDict(extra="forbid")

    root: Path = Field(Path("."), description="the workspace; run_tests' path is relative to it")
    python: str = Field(default_factory=lambda: sys.executable, description="interpreter (and its venv) for tests")
    timeout_s: float = Field(120.0, gt=0, le=3600)
    memory_mb: int = Field(2048, ge=128)
    processes: int = Field(64, ge=4, description="processes and threads the tests may use")
    disk_mb: int = Field(512, ge=16, description="size of the private copy of the project (tmpfs)")
    output_bytes: int = Field(2_000_000, ge=10_000, description="test output captured before the run is stopped")
    failure_chars: int = Field(8_000, ge=500, description="failing tests' output shown to the model")
    exclude: list[str] = Field(default_factory=list, description="more glob patterns left out of the copy")
    allow_any_command: bool = Field(False, description="run commands other than pytest / python -m unittest")


class FailedTest(BaseModel):
    name: str
    output: str


class TestReport(BaseModel):
    """What a test run produced, summarised for a model and complete enough for a program."""

    __test__ = False  # not a pytest test class, despite the name

    command: str
    exit_code: int | None
    passed: int = 0
    failed: int = 0
    errors: int = 0
    skipped: int = 0
    duration_s: float = 0.0
    timed_out: bool = False
    output_limited: bool = False
    failures: list[FailedTest] = Field(default_factory=list)
    output_tail: str = ""
    notes: list[str] = Field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out and self.failed == 0 and self.errors == 0

    def to_text(self) -> str:
        head = (f"$ {self.command}\nresult: {self.passed} passed, {self.failed} failed, {self.errors} errors, "
                f"{self.skipped} skipped in {self.duration_s:.1f} s (exit code {self.exit_code})")
        parts = [head, *self.notes]
        if self.timed_out:
            parts.append("stopped: the tests ran past the time limit")
        if self.output_limited:
            parts.append("stopped: the tests printed more than the output limit")
        for failure in self.failures:
            parts.append(f"FAILED {failure.name}\n{failure.output}")
        if self.output_tail and (not self.failures or self.timed_out or self.errors):
            parts.append("output (tail):\n" + self.output_tail)
        return "\n".join(parts)


@cache
def _interpreter(python: str) -> tuple[str, tuple[str, ...]]:
    """(executable, directories to bind read-only) for a Python, asked once from the interpreter itself."""
    probe = "import json, sys; print(json.dumps([sys.executable, sys.prefix, sys.base_prefix]))"
    try:
        out = subprocess.run([python, "-I", "-c", probe], capture_output=True, text=True, timeout=30, check=True)
        executable, prefix, base = json.loads(out.stdout)
    except (OSError, subprocess.SubprocessError, ValueError) as exc:
        raise UserError(f"cannot use {python!r} as the test interpreter: {exc}") from None
    dirs = {prefix, base, os.path.realpath(base), str(Path(os.path.realpath(executable)).parent)}
    return executable, tuple(sorted(dirs))


def _argv(command: str, python: str, *, allow_any: bool) -> tuple[list[str], bool]:
    """The argv to run and whether it is pytest (which then writes a JUnit report)."""
    try:
        words = shlex.split(command)
    except ValueError as exc:
        raise ModelRetry(f"cannot parse the command ({exc}); quote arguments properly") from None
    if not words:
        raise ModelRetry("the command is empty; use e.g. 'pytest -q'")
    if words[0] in ("pytest", "py.test"):
        return [python, "-m", "pytest", *words[1:]], True
    if words[0] in ("python", "python3") and words[1:2] == ["-m"] and words[2:3] in (["pytest"], ["unittest"]):
        return [python, "-m", words[2], *words[3:]], words[2] == "pytest"
    if allow_any:
        return words, False
    raise ModelRetry(f"only test commands run here: 'pytest ...', 'python -m pytest ...' or "
                     f"'python -m unittest ...'; got {command!r}")


def _tail(text: str, limit: int) -> str:
    return text if len(text) <= limit else "...\n" + text[-limit:]


def _from_junit(report: TestReport, xml: str, budget: int) -> bool:
    try:
        root = ElementTree.fromstring(xml)
    except ElementTree.ParseError:
        return False
    suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
    total = sum(int(s.get("tests", 0)) for s in suites)
    report.failed = sum(int(s.get("failures", 0)) for s in suites)
    report.errors = sum(int(s.get("errors", 0)) for s in suites)
    report.skipped = sum(int(s.get("skipped", 0)) for s in suites)
    report.passed = max(0, total - report.failed - report.errors - report.skipped)
    failing = [(case, child) for case in root.iter("testcase") for child in case
               if child.tag in ("failure", "error")]
    each = max(400, budget // max(1, len(failing)))
    for case, child in failing[:30]:
        where = case.get("file") or (case.get("classname") or "").replace(".", "/") + ".py"
        name = f"{where}::{case.get('name')}" + (" (error)" if child.tag == "error" else "")
        text = (child.text or child.get("message") or "").strip()
        report.failures.append(FailedTest(name=name, output=_tail(text, each)))
    if len(failing) > 30:
        report.notes.append(f"{len(failing) - 30} more failing tests not shown")
    return True


_COUNT = re.compile(r"(\d+) (passed|failed|errors?|skipped)")


def _from_output(report: TestReport, output: str, budget: int) -> None:
    """Fallback: pytest's final line, or unittest's 'Ran N tests' / 'FAILED (failures=..)' and its blocks."""
    ran = re.search(r"^Ran (\d+) tests? in", output, re.MULTILINE)
    if ran:
        status = re.search(r"^FAILED \(([^)]*)\)", output, re.MULTILINE)
        counts = dict(re.findall(r"(\w+)=(\d+)", status.group(1))) if status else {}
        report.failed, report.errors = int(counts.get("failures", 0)), int(counts.get("errors", 0))
        report.skipped = int(counts.get("skipped", 0))
        report.passed = max(0, int(ran.group(1)) - report.failed - report.errors - report.skipped)
        blocks = re.findall(r"^={20,}\n(FAIL|ERROR): (.+?)\n-{20,}\n(.*?)(?=^={20,}|^-{20,}\nRan )", output,
                            re.MULTILINE | re.DOTALL)
        each = max(400, budget // max(1, len(blocks)))
        report.failures = [FailedTest(name=f"{name}" + (" (error)" if kind == "ERROR" else ""),
                                      output=_tail(body.strip(), each)) for kind, name, body in blocks[:30]]
        return
    summary = [line for line in output.splitlines() if _COUNT.search(line)]
    if summary:
        for number, word in _COUNT.findall(summary[-1]):
            key = "errors" if word.startswith("error") else word
            setattr(report, key, int(number))


def run_test_command(config: Config, command: str = "pytest -q", path: str = ".") -> TestReport:
    """Run `command` on a private copy of `path` (inside `config.root`) in the sandbox; summarise the result."""
    workspace = Workspace([config.root], backup_dir=None)
    try:
        resolved = workspace.resolve(path, must_exist=True)
    except PathRefused as exc:
        raise ModelRetry(str(exc)) from None
    if not resolved.absolute.is_dir():
        raise ModelRetry(f"{resolved.display} is not a directory; give the project directory as path and the "
                         "test file in the command (e.g. 'pytest -q tests/test_x.py')")
    python, prefixes = _interpreter(config.python)
    argv, is_pytest = _argv(command, python, allow_any=config.allow_any_command)
    with tempfile.TemporaryDirectory(prefix="agentkit-tests-") as staging:
        skipped = _stage(resolved.absolute, Path(staging) / "project", config.exclude,
                         limit_bytes=config.disk_mb * 1024 * 1024)
        report = _run_staged(config, command, argv, is_pytest, python, prefixes, Path(staging) / "project")
    report.notes += [f"note: not copied into the sandbox: {item}" for item in skipped[:10]]
    return report


def _stage(source: Path, dest: Path, exclude: list[str], *, limit_bytes: int) -> list[str]:
    """A world-readable copy of the project for the unprivileged uid: regular files and symlinks only."""
    skipped: list[str] = []
    total = 0

    def copy(src: str, dst: str) -> None:
        nonlocal total
        info = os.lstat(src)
        if not stat.S_ISREG(info.st_mode):
            skipped.append(f"{os.path.relpath(src, source)} (not a regular file)")
            return
        total += info.st_size
        if total > limit_bytes:
            raise ModelRetry(f"the project is larger than the sandbox's disk limit ({limit_bytes // 2**20} MiB); "
                             "give a smaller path or raise the code toolkit's disk_mb")
        shutil.copyfile(src, dst, follow_symlinks=False)
        os.chmod(dst, 0o755 if info.st_mode & 0o100 else 0o644)

    try:
        shutil.copytree(source, dest, symlinks=True, ignore=shutil.ignore_patterns(*_EXCLUDE, *exclude),
                        copy_function=copy)
    except shutil.Error as exc:
        skipped += [f"{item[0]}: {item[2]}" for item in exc.args[0]]
    for directory, _, _ in os.walk(dest):
        os.chmod(directory, 0o755)
    return skipped


def _run_staged(
    config: Config, command: str, argv: list[str], is_pytest: bool, python: str, prefixes: tuple[str, ...],
    staged: Path,
) -> TestReport:
    if is_pytest:
        argv += ["-p", "no:cacheprovider", f"--junitxml={_JUNIT}", "-o", "junit_family=xunit1"]
    jail = Jail(bwrap=find_bwrap(), proc=True, dev=True, chdir="/tmp", env={
        "HOME": "/tmp", "TMPDIR": "/tmp", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONUNBUFFERED": "1", "PATH": f"{Path(python).parent}:/usr/local/bin:/usr/bin:/bin",
    })
    for directory in prefixes:
        jail.add_ro(directory, directory)
    jail.add_ro(_BOOT, "/sandbox/boot.py")
    jail.add_ro(staged, "/src")
    size = config.disk_mb * 1024 * 1024
    jail.tmpfs += [("/workspace", size), ("/tmp", size)]
    limits = ResourceLimits(cpu_s=int(config.timeout_s) + 1, memory_bytes=config.memory_mb * 1024 * 1024,
                            file_size_bytes=size, open_files=1024, processes=config.processes)

    def request(result_fd: int) -> bytes:
        return json.dumps({"argv": argv, "exclude": _EXCLUDE + config.exclude, "junit": _JUNIT,
                           "result_fd": result_fd}).encode()

    outcome = jail.run([python, "-B", "/sandbox/boot.py"], limits, stdin=request, timeout_s=config.timeout_s,
                       output_bytes=config.output_bytes, result_bytes=4_000_000)
    return _report(command, outcome, config)


def _report(command: str, outcome: Outcome, config: Config) -> TestReport:
    output = (outcome.stdout + outcome.stderr).decode("utf-8", "replace")
    result: dict[str, object] = {}
    if outcome.result:
        try:
            result = json.loads(outcome.result)
        except ValueError:
            result = {}
    code = result.get("returncode")
    report = TestReport(command=command, exit_code=code if isinstance(code, int) else outcome.returncode,
                        duration_s=round(outcome.duration_s, 2), timed_out=outcome.timed_out,
                        output_limited=outcome.output_exceeded, output_tail=_tail(output, config.failure_chars // 2))
    copy_errors = result.get("copy_errors")
    for error in copy_errors if isinstance(copy_errors, list) else []:
        report.notes.append(f"note: not copied into the sandbox: {error}")
    junit = result.get("junit")
    if not (isinstance(junit, str) and _from_junit(report, junit, config.failure_chars)):
        _from_output(report, output, config.failure_chars)
    if not outcome.result and outcome.stderr.startswith(b"bwrap:"):
        raise UserError(f"the sandbox could not start: {outcome.stderr.decode(errors='replace').strip()[:500]}")
    if report.exit_code == 5 and not report.failures:
        report.notes.append("no tests were collected: check the path and the test file names (test_*.py)")
    return report


def toolkit(config: Config) -> list[Tool]:
    find_bwrap()  # refuse at load time, with the install command, when the sandbox cannot exist
    Workspace([config.root], backup_dir=None)
    config = config.model_copy(update={"root": config.root.resolve()})  # later cwd changes do not move it

    @tool(effect="read")
    def run_tests(command: str = "pytest -q", path: str = ".") -> str:
        """Run the project's tests in an isolated sandbox (no network, a private copy of the files) and return
        the counts and the failing tests' output.

        Args:
            command: The test command, e.g. 'pytest -q' or 'pytest -q tests/test_app.py -k parse'.
            path: The project directory, relative to the workspace.
        """
        return run_test_command(config, command, path).to_text()

    return [run_tests]
