"""The Python sandbox as a tool: results, errors, the namespace on offer, the agent loop, the CLI, the fallbacks."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import sysconfig
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from pydantic import ValidationError

from agentkit import Agent, CorrectionSent, ToolResult, UserError
from agentkit.testing import ScriptedModel, call, text
from agentkit.toolkits import load_toolkit
from agentkit.toolkits.sandbox import Sandbox, SandboxLimits, SandboxUnavailable, _jail
from agentkit.toolkits.sandbox._cli import register
from agentkit.toolkits.sandbox._jail import RUN_UIDS, SMALL_MAP_UIDS, Jail, ResourceLimits, borrowed_uid
from agentkit.toolkits.sandbox._seccomp import filter_program

pytestmark = pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap is needed: apt-get install bubblewrap")

FAST = SandboxLimits(timeout_s=10, output_bytes=2_000, value_chars=200)


@pytest.fixture(scope="module")
def sandbox() -> Sandbox:
    return Sandbox(FAST)


def test_stdout_and_last_value(sandbox: Sandbox) -> None:
    result = sandbox.run("total = 0\nfor i in range(5):\n    total += i\n    print(i, end=' ')\nprint()\ntotal * 2")
    assert result.ok
    assert result.stdout == "0 1 2 3 4 \n"
    assert result.value == "20"
    assert result.exit_code == 0
    assert result.sandboxed
    assert result.to_text() == "stdout:\n0 1 2 3 4 \nvalue: 20"


def test_a_final_print_and_no_value(sandbox: Sandbox) -> None:
    result = sandbox.run("x = 2\nprint(x ** 10)")
    assert (result.stdout, result.value, result.error) == ("1024\n", None, None)


def test_runtime_error_is_typed_with_its_line(sandbox: Sandbox) -> None:
    result = sandbox.run("print('before')\nitems = [1, 2]\nitems[5]")
    assert result.stdout == "before\n"
    assert result.error is not None
    assert (result.error.kind, result.error.type, result.error.line) == ("runtime", "IndexError", 3)
    assert "list index out of range" in result.error.message


def test_syntax_error(sandbox: Sandbox) -> None:
    result = sandbox.run("def f(:\n    pass")
    assert result.error is not None
    assert result.error.kind == "syntax"
    assert result.error.line == 1


def test_the_curated_namespace_is_useful(sandbox: Sandbox) -> None:
    program = """
import math, json, statistics, re, itertools, functools, collections
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction
from string import ascii_lowercase
import random
random.seed(1)

class Account:
    def __init__(self, owner):
        self.owner = owner
        self.balance = 0
    def deposit(self, amount):
        self.balance += amount
        return self

class Overdrawn(Exception):
    pass

try:
    raise Overdrawn('no')
except Overdrawn as exc:
    caught = str(exc)

acct = Account('ana').deposit(5).deposit(7)
counts = collections.Counter('abracadabra')
[
    math.isqrt(17), json.dumps({'a': [1, 2]}, sort_keys=True), json.loads('[1]'), statistics.median([3, 1, 2]),
    re.findall(r'\\d+', 'a1b22'), list(itertools.islice(itertools.count(3), 2)),
    functools.reduce(lambda a, b: a * b, [1, 2, 3, 4]), counts.most_common(1), str(date(2024, 1, 31) + timedelta(days=1)),
    str(Decimal('0.1') + Decimal('0.2')), str(Fraction(1, 3) * 3), ascii_lowercase[:3], acct.balance, caught,
    sorted({'b': 1, 'a': 2}.items()), '%s-%d' % ('x', 3), f'{acct.owner!r}:{1/4:.2f}',
]
"""
    result = sandbox.run(program)
    assert result.error is None, result.to_text()
    assert result.value == (
        "[4, '{\"a\": [1, 2]}', [1], 2, ['1', '22'], [3, 4], 24, [('a', 5)], '2024-02-01', '0.3', '1', 'abc', 12, "
        "'no', [('a', 2), ('b', 1)], 'x-3', \"'ana':0.25\"]"
    )


def test_value_is_truncated(sandbox: Sandbox) -> None:
    result = sandbox.run("'x' * 5000")
    assert result.value is not None
    assert result.value.endswith("... (5002 characters, truncated)")
    assert len(result.value) < 300


def test_output_cap_keeps_the_beginning(sandbox: Sandbox) -> None:
    result = sandbox.run("for i in range(100000):\n    print('line', i)")
    assert result.error is not None
    assert result.error.kind == "output_limit"
    assert result.stdout.startswith("line 0\nline 1\n")
    assert len(result.stdout) <= FAST.output_bytes


def test_concurrent_runs_are_isolated(sandbox: Sandbox) -> None:
    with ThreadPoolExecutor(max_workers=3) as pool:
        results = list(pool.map(sandbox.run, [f"x = {n}\nx * x" for n in range(6)]))
    assert [r.value for r in results] == [str(n * n) for n in range(6)]


def test_run_python_through_the_agent_loop() -> None:
    tools = load_toolkit("python", {"limits": {"timeout_s": 10}})
    assert [(t.name, t.effect) for t in tools] == [("run_python", "read")]
    model = ScriptedModel([
        call("run_python", {"code": "import os\nos.listdir('/')"}),
        call("run_python", {"code": "import statistics\nprint('mean')\nstatistics.mean([1, 2, 3, 4])"}),
        text("The mean is 2.5"),
    ])
    events = list(Agent(model, tools=tools).run_sync("mean of 1..4?").messages)
    tool_contents = [m.content for m in events if m.role == "tool"]
    assert "import of 'os' is not available" in tool_contents[0]
    assert "Fix the code and call run_python again" in tool_contents[0]
    assert tool_contents[1] == "stdout:\nmean\nvalue: 2.5"
    model.assert_all_used()


async def test_restricted_code_is_a_correction_event() -> None:
    model = ScriptedModel([call("run_python", {"code": "().__class__"}), text("ok")])
    agent = Agent(model, tools=load_toolkit("python"))
    events = [e async for e in agent.run_stream("x")]
    assert [e.reason for e in events if isinstance(e, CorrectionSent)] == ["tool_retry"]
    assert not [e for e in events if isinstance(e, ToolResult) and not e.is_error]


def test_missing_bubblewrap_refuses_with_the_install_command(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    with pytest.raises(SandboxUnavailable, match="apt-get install bubblewrap"):
        Sandbox(bwrap=str(tmp_path / "no-such-bwrap"))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(UserError, match="allow_unsandboxed_INSECURE"):
        load_toolkit("python")


def test_insecure_mode_is_explicit_and_loud(capsys: pytest.CaptureFixture[str]) -> None:
    sandbox = Sandbox(FAST, allow_unsandboxed_INSECURE=True)
    result = sandbox.run("import math\nmath.factorial(5)")
    assert result.value == "120"
    assert result.sandboxed is False
    assert "WITHOUT the bubblewrap sandbox" in capsys.readouterr().err
    escape = sandbox.run("open('/etc/passwd').read()")  # the RestrictedPython layer still holds
    assert escape.error is not None
    assert escape.error.kind == "restricted"


def test_limits_are_validated() -> None:
    with pytest.raises(ValidationError):
        SandboxLimits(timeout_s=0)
    with pytest.raises(UserError, match="invalid options for toolkit 'python'"):
        load_toolkit("python", {"limits": {"memory_mb": 1}})


def test_seccomp_filter_shape() -> None:
    program = filter_program("x86_64")
    assert program is not None
    assert len(program) % 8 == 0
    assert filter_program("aarch64") is not None
    assert filter_program("sparc") is None


@pytest.mark.skipif(os.geteuid() != 0 or not Path("/usr/bin/python3").exists(),
                    reason="needs root to impersonate an ordinary user, and a system python3")
def test_jail_for_an_ordinary_user_keeps_the_process_limit() -> None:
    """A non-root host uses a user namespace instead of setpriv; the limits and the seccomp filter still hold."""
    jail = Jail(bwrap=shutil.which("bwrap") or "bwrap", host_is_root=False, tmpfs=[("/tmp", 1 << 24)])
    limits = ResourceLimits(cpu_s=5, memory_bytes=256 << 20, file_size_bytes=1 << 20, open_files=64, processes=6)
    probe = (
        "import os, ctypes\nn = 0\ntry:\n    while True:\n        if os.fork() == 0:\n"
        "            import time; time.sleep(2); os._exit(0)\n        n += 1\nexcept OSError:\n    pass\n"
        "print(os.getuid(), n < 6, ctypes.CDLL(None).unshare(0x10000000), ' '.join(sorted(os.listdir('/'))))"
    )
    argv = jail.command(["/usr/bin/python3", "-I", "-S", "-c", probe], limits)
    done = subprocess.run(["setpriv", "--reuid=1000", "--regid=1000", "--clear-groups", "--", *argv],
                          capture_output=True, text=True, timeout=60, check=False)
    uid, bounded, userns, *top = done.stdout.split()
    assert (uid, bounded, userns) == ("65534", "True", "-1"), done.stderr
    assert set(top) <= {"bin", "sbin", "lib", "lib32", "lib64", "libx32", "tmp", "usr"}


def _cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    args = parser.parse_args(argv)
    code = args.func(args)
    return int(code), capsys.readouterr().out


def test_cli_prints_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = tmp_path / "good.py"
    good.write_text("print('hi')\n21 * 2\n")
    code, out = _cli(["sandbox", str(good), "--timeout", "3"], capsys)
    report = json.loads(out)
    assert code == 0
    assert (report["stdout"], report["value"], report["error"], report["sandboxed"]) == ("hi\n", "42", None, True)
    bad = tmp_path / "bad.py"
    bad.write_text("while True:\n    pass\n")
    code, out = _cli(["sandbox", str(bad), "--timeout", "1"], capsys)
    assert code == 1
    assert json.loads(out)["error"]["kind"] == "timeout"
    with pytest.raises(UserError, match="no such file"):
        _cli(["sandbox", str(tmp_path / "missing.py")], capsys)
    with pytest.raises(UserError, match="invalid limits"):
        _cli(["sandbox", str(good), "--timeout", "-1"], capsys)


def test_agentkit_sandbox_command(tmp_path: Path) -> None:
    program = tmp_path / "prog.py"
    program.write_text("import json\njson.dumps({'ok': True})\n")
    done = subprocess.run([sys.executable, "-m", "agentkit._cli", "sandbox", str(program)], capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["value"] == "'{\"ok\": true}'"
    from_stdin = subprocess.run([sys.executable, "-m", "agentkit._cli", "sandbox", "-"], input="1/0\n",
                                capture_output=True, text=True, timeout=120, check=False)
    assert from_stdin.returncode == 1
    assert json.loads(from_stdin.stdout)["error"]["type"] == "ZeroDivisionError"


def test_borrowed_uids_are_unprivileged_unknown_and_distinct() -> None:
    with borrowed_uid() as first, borrowed_uid() as second:
        assert first != second
        assert all(uid in RUN_UIDS for uid in (first, second))
        assert not any(uid in (first, second) for uid in _processes_of(RUN_UIDS))  # no process holds them
    with pytest.raises(ValueError, match="borrowed uid"):
        Jail(bwrap="bwrap", host_is_root=True).command(["true"], ResourceLimits(1, 1 << 20, 1, 8, 1))


def test_borrowed_uids_stay_inside_the_user_namespace_map(monkeypatch: pytest.MonkeyPatch) -> None:
    """A rootless container maps 65536 ids: setpriv cannot switch to 1.9e9 there, so the run takes a mapped one."""
    monkeypatch.setattr(_jail, "_id_map", lambda _path: [range(0, 1), range(1, 65537)])
    for _ in range(20):
        with borrowed_uid() as uid:
            assert uid in SMALL_MAP_UIDS
    monkeypatch.setattr(_jail, "_id_map", lambda _path: [range(SMALL_MAP_UIDS.start, SMALL_MAP_UIDS.start + 1)])
    with borrowed_uid(), pytest.raises(SandboxUnavailable, match="taken"), borrowed_uid():
        pass  # the only id is lent out
    monkeypatch.setattr(_jail, "_id_map", lambda _path: [range(0, 1)])  # `unshare -r`: root alone
    with pytest.raises(SandboxUnavailable, match="maps no id"), borrowed_uid():
        pass


def _processes_of(uids: range, marker: str = "") -> dict[int, list[int]]:
    """Host pids by uid, for the uids in `uids` (and a command line holding `marker`): what RLIMIT_NPROC counts."""
    found: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                uid = entry.stat().st_uid
                if uid in uids and marker.encode() in (entry / "cmdline").read_bytes():
                    found.setdefault(uid, []).append(int(entry.name))
            except OSError:
                continue
    return found


@pytest.mark.skipif(os.geteuid() != 0, reason="a root host runs each program as a uid of its own")
def test_a_fork_bomb_does_not_starve_a_concurrent_run(sandbox: Sandbox) -> None:
    """RLIMIT_NPROC counts per uid across the machine: one shared uid let a bomb stop every other run's fork."""
    jail = sandbox.jail()
    limits = ResourceLimits(cpu_s=30, memory_bytes=256 << 20, file_size_bytes=1 << 20, open_files=64, processes=6)
    marker = f"bomb-{os.getpid()}-{time.monotonic_ns()}"
    bomb = (f"# {marker}\nimport os, time\nwhile True:\n    try:\n        if os.fork() == 0:\n            time.sleep(60)\n"
            "    except OSError:\n        time.sleep(60)")
    python = [str(sandbox.python), "-I", "-S", "-c"]
    with ThreadPoolExecutor(max_workers=1) as pool:
        first = pool.submit(jail.run, [*python, bomb], limits, stdin=lambda _fd: b"", timeout_s=60,
                            output_bytes=10_000)
        deadline = time.monotonic() + 30
        while not (full := [p for p in _processes_of(RUN_UIDS, marker).values()
                              if len(p) >= limits.processes]):
            assert not first.done(), f"the bomb ended early: {first.result()}"
            assert time.monotonic() < deadline, "the bomb never reached its process limit"
            time.sleep(0.05)
        try:
            second = jail.run([*python, "import os\npid = os.fork()\nif pid == 0:\n    os._exit(0)\n"
                               "os.waitpid(pid, 0)\nprint('forked')"], limits, stdin=lambda _fd: b"",
                              timeout_s=30, output_bytes=10_000)
        finally:
            for pid in full[0]:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        assert second.stdout == b"forked\n", second.stderr
        assert not first.result(timeout=30).timed_out  # killed above, not left to the wall clock


def _reachable_by_others(path: Path) -> bool:
    """Every directory down to `path` lets other users through (an unmapped owner is 'other' in a namespace)."""
    return all(os.stat(p).st_mode & 0o001 for p in [*reversed(path.resolve().parents), path.resolve()])


_REPO = Path(__file__).resolve().parent.parent
_SITE = Path(sysconfig.get_paths()["purelib"])
_SYSTEM_PYTHON = Path("/usr/bin/python3")


def _rootless_runnable() -> bool:
    if os.geteuid() != 0 or not _SYSTEM_PYTHON.exists():
        return False
    version = subprocess.run([str(_SYSTEM_PYTHON), "-c", "import sys; print(sys.version_info[:2])"],
                             capture_output=True, text=True, check=False).stdout.strip()
    return version == str(sys.version_info[:2]) and _reachable_by_others(_REPO) and _reachable_by_others(_SITE)


@pytest.mark.skipif(not _rootless_runnable(), reason="needs root, and a system python of this version that can "
                    "reach this checkout and its packages from inside a user namespace")
def test_the_sandbox_runs_as_root_of_a_rootless_container() -> None:
    """Such a container maps 65536 ids: the run must take a uid inside the map (1.9e9 made setpriv fail)."""
    code = ("from agentkit.toolkits.sandbox import Sandbox, _jail\n"
            "result = Sandbox().run('6 * 7')\n"
            "print(*open('/proc/self/uid_map').read().split(), _jail.run_uid_ranges() == [_jail.SMALL_MAP_UIDS], result.ok, result.value, "
            "result.error)")
    done = subprocess.run([sys.executable, str(Path(__file__).with_name("rootless_ns.py")), str(_SYSTEM_PYTHON),
                           "-I", "-c", f"import sys; sys.path[:0] = [{str(_REPO)!r}, {str(_SITE)!r}]\n{code}"],
                          capture_output=True, text=True, timeout=120, check=False, env={"PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["0", "100000", "65536", "True", "True", "42", "None"]
