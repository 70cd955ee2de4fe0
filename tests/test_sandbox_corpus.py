"""Hostile programs against the Python sandbox: escape attempts and resource bombs, each with its expected stop.

Two layers are attacked. `RESTRICTED` goes through `Sandbox.run` (all layers, what `run_python` runs).
`RAW` runs unrestricted Python inside the same bubblewrap jail, as if RestrictedPython had already fallen:
the operating-system layer must hold on its own. Every case must be stopped with its expected error kind (or,
for raw probes, report itself contained), and nothing may leak: no file outside, no host environment, no
connection to a host server, no host process harmed, no sandbox process left behind.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from agentkit.toolkits.sandbox import Sandbox, SandboxLimits, SandboxResult
from agentkit.toolkits.sandbox._process import Outcome

from .canaries import host_canaries

pytestmark = pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap is needed: apt-get install bubblewrap")

LIMITS = SandboxLimits(timeout_s=1.5, memory_mb=160, output_bytes=4_000, processes=8, file_size_bytes=100_000)
# Attacks expected to end some other way get a long wall clock, so a loaded machine cannot turn them into timeouts;
# one that hangs instead of being stopped as expected still fails (as "timeout").
PATIENT = LIMITS.model_copy(update={"timeout_s": 15.0})

# (id, program, expected error kind). Placeholders: @OUTSIDE@ a host directory, @PID@ a host process, @PORT@ a
# host TCP server on 127.0.0.1.
RESTRICTED: list[tuple[str, str, str]] = [
    # dunder walks
    ("subclasses-walk", "().__class__.__bases__[0].__subclasses__()", "restricted"),
    ("getattr-class", "getattr((), '__class__')", "restricted"),
    ("getattr-concat", "getattr(getattr((), '__cl' + 'ass__'), '__base__')", "restricted"),
    ("mro-attr", "[].__class__.__mro__", "restricted"),
    ("mro-method", "type(1).mro()", "restricted"),
    ("func-globals", "(lambda: 0).__globals__", "restricted"),
    ("getattr-globals", "getattr(lambda: 0, '__glo' + 'bals__')", "restricted"),
    ("builtin-self", "import math\ngetattr(math.sqrt, '__self__')", "restricted"),
    ("wrapped-func-globals", "import json\ngetattr(json.dumps, '__globals__')", "restricted"),
    ("object-subclasses", "object.__subclasses__()", "restricted"),
    ("builtins-name", "__builtins__", "restricted"),
    ("dunder-import", "__import__('os')", "restricted"),
    ("name-mangling", "class A:\n    def f(self):\n        return self.__dict__\nA().f()", "restricted"),
    ("partial-getattr", "import functools\nfunctools.partial(getattr, (), '__class__')()", "restricted"),
    ("random-self", "import random\ngetattr(random.random, '__self__')", "restricted"),
    # format strings that walk attributes
    ("format-class", "'{0.__class__}'.format(1)", "restricted"),
    ("format-map", "'{x.__class__.__base__}'.format_map({'x': 1})", "restricted"),
    ("str-format-unbound", "getattr(str, 'format')('{0.__class__}', 1)", "restricted"),
    ("fstring-dunder", "f'{(1).__class__}'", "restricted"),
    ("string-formatter", "import string\nstring.Formatter().format('{0.__class__}', 1)", "restricted"),
    ("map-str-format", "list(map(str.format, ['{0.__class__}'], [1]))", "restricted"),
    # frames, generators, tracebacks
    ("gi-frame", "def g():\n    yield 1\ng().gi_frame", "restricted"),
    ("gi-frame-getattr", "def g():\n    yield 1\ngetattr(g(), 'gi_frame')", "restricted"),
    ("tb-frame", "try:\n    1/0\nexcept Exception as e:\n    e.__traceback__.tb_frame", "restricted"),
    ("tb-getattr", "try:\n    1/0\nexcept Exception as e:\n    getattr(e, '__traceback__')", "restricted"),
    ("coroutine-frame", "async def f():\n    pass\nf().cr_frame", "restricted"),
    ("genexpr-code", "(x for x in [1]).gi_code", "restricted"),
    # builtins recovery
    ("eval", "eval('1+1')", "restricted"),
    ("exec", "exec('import os')", "restricted"),
    ("compile", "compile('1', 'x', 'eval')", "restricted"),
    ("globals", "globals()", "restricted"),
    ("locals", "locals()", "restricted"),
    ("vars", "vars(object)", "restricted"),
    ("dir", "dir(1)", "restricted"),
    ("open-read", "open('/etc/passwd').read()", "restricted"),
    ("breakpoint", "breakpoint()", "restricted"),
    ("setattr-builtin-type", "setattr(int, 'x', 1)", "restricted"),
    ("setattr-dunder", "class A:\n    pass\nsetattr(A(), '__class__', int)", "restricted"),
    ("namespace-write", "import math\nmath.pi = 3", "restricted"),
    ("augassign-namespace", "import math\nmath.pi += 1", "restricted"),
    ("augassign-type-attr", "import datetime\ndatetime.date.max += datetime.timedelta(0)", "restricted"),
    ("augassign-dunder", "class A:\n    pass\na = A()\na.__dict__ += 1", "restricted"),
    ("augassign-impure", "class A:\n    x = 1\ndef f():\n    return A\nf().x += 1", "restricted"),
    ("metaclass", "class M:\n    pass\nclass A(metaclass=M):\n    pass", "restricted"),
    ("memoryview", "memoryview(b'x')", "restricted"),
    ("print-file", "print('x', file=[])", "restricted"),
    # imports
    ("import-os", "import os\nos.system('id')", "restricted"),
    ("import-subprocess", "import subprocess", "restricted"),
    ("from-os", "from os import system", "restricted"),
    ("import-importlib", "import importlib", "restricted"),
    ("import-sys", "import sys\nsys.modules", "restricted"),
    ("json-codecs", "import json\njson.codecs", "restricted"),
    ("from-json-codecs", "from json import codecs", "restricted"),
    ("private-module", "import _thread", "restricted"),
    ("relative-import", "from . import x", "restricted"),
    ("import-ctypes", "import ctypes\nctypes.CDLL(None)", "restricted"),
    ("import-socket", "import socket\nsocket.create_connection(('127.0.0.1', @PORT@))", "restricted"),
    # signals and exits
    ("import-signal", "import signal\nsignal.alarm(0)", "restricted"),
    ("kill-host", "import os\nos.kill(@PID@, 9)", "restricted"),
    ("system-exit", "raise SystemExit(0)", "restricted"),
    ("exit-builtin", "exit(0)", "restricted"),
    ("keyboard-interrupt", "raise KeyboardInterrupt", "restricted"),
    ("base-exception", "raise BaseException('custom')", "runtime"),
    # exceptions swallowing the timeout
    ("swallow-base", "while True:\n    try:\n        while True:\n            pass\n    except BaseException:\n        pass",
     "timeout"),
    ("swallow-finally", "try:\n    while True:\n        pass\nfinally:\n    while True:\n        pass", "timeout"),
    ("swallow-sleep", "import time\nwhile True:\n    try:\n        time.sleep(5)\n    except BaseException:\n        pass",
     "timeout"),
    # resource bombs
    ("memory-list", "x = [0] * (10 ** 9)", "memory"),
    ("memory-doubling", "s = 'a'\nwhile True:\n    s += s", "memory"),
    ("memory-bytearray", "b = bytearray(2 ** 40)", "memory"),
    ("cpu-loop", "while True:\n    pass", "timeout"),
    ("cpu-arith", "x = 1\nfor i in range(10 ** 10):\n    x = x * 3 % 1000003", "timeout"),
    ("redos", "import re\nre.match('(a+)+$', 'a' * 40 + 'b')", "timeout"),
    ("sleep", "import time\ntime.sleep(60)", "timeout"),
    ("output-flood", "while True:\n    print('x' * 1000)", "output_limit"),
    ("output-one-shot", "print('x' * 10 ** 7)", "output_limit"),
    ("disk-write", "open('@OUTSIDE@/pwned', 'w').write('x' * 10 ** 8)", "restricted"),
    ("fork", "import os\nwhile True:\n    os.fork()", "restricted"),
    ("recursion", "def f():\n    return f()\nf()", "runtime"),
    ("nesting-bomb", "x = " + "(" * 300 + "1" + ")" * 300, "syntax"),
    ("int-digits", "int('9' * 100000)", "runtime"),
]

RAW: list[tuple[str, str, str]] = [
    # probes print CONTAINED or ESCAPED; kind None means the process must end normally with CONTAINED
    ("raw-etc-passwd", "try:\n    open('/etc/passwd').read(); print('ESCAPED')\nexcept OSError:\n    print('CONTAINED')",
     "ok"),
    ("raw-host-file", "try:\n    open('@OUTSIDE@/secret.txt').read(); print('ESCAPED')\n"
                      "except OSError:\n    print('CONTAINED')", "ok"),
    ("raw-write-outside", "try:\n    open('@OUTSIDE@/pwned', 'w').write('x'); print('ESCAPED')\n"
                          "except OSError:\n    print('CONTAINED')", "ok"),
    ("raw-write-usr", "try:\n    open('/usr/pwned', 'w').write('x'); print('ESCAPED')\nexcept OSError:\n"
                      "    print('CONTAINED')", "ok"),
    ("raw-proc", "import os\nprint('ESCAPED' if os.path.exists('/proc/1') else 'CONTAINED')", "ok"),
    ("raw-dev", "import os\nprint('ESCAPED' if os.path.exists('/dev/sda') or os.path.exists('/dev/mem') "
                "else 'CONTAINED')", "ok"),
    ("raw-env", "import os\nprint('ESCAPED' if any('CANARY' in k for k in os.environ) else 'CONTAINED')", "ok"),
    ("raw-uid", "import os\ntry:\n    os.setuid(0); print('ESCAPED')\nexcept OSError:\n"
                "    print('CONTAINED' if os.getuid() not in (0, @HOSTUID@) else 'ESCAPED')", "ok"),
    ("raw-network", "import socket\ntry:\n    socket.create_connection(('127.0.0.1', @PORT@), timeout=0.5)\n"
                    "    print('ESCAPED')\nexcept OSError:\n    print('CONTAINED')", "ok"),
    ("raw-kill-host", "import os\ntry:\n    os.kill(@PID@, 9); print('ESCAPED')\nexcept OSError:\n"
                      "    print('CONTAINED')", "ok"),
    ("raw-userns", "import ctypes\nprint('ESCAPED' if ctypes.CDLL(None).unshare(0x10000000) == 0 else 'CONTAINED')",
     "ok"),
    ("raw-ptrace", "import ctypes\nprint('ESCAPED' if ctypes.CDLL(None).ptrace(16, 1, 0, 0) == 0 else 'CONTAINED')",
     "ok"),
    ("raw-no-new-privs", "import ctypes\nprint('CONTAINED' if ctypes.CDLL(None).prctl(39, 0, 0, 0, 0) == 1 "
                         "else 'ESCAPED')", "ok"),
    ("raw-fork-bomb", "import os, time\nn = 0\ntry:\n    while True:\n        if os.fork() == 0:\n"
                      "            time.sleep(3); os._exit(0)\n        n += 1\nexcept OSError:\n"
                      "    print('CONTAINED' if n < 8 else 'ESCAPED')", "ok"),
    ("raw-disk", "try:\n    open('/tmp/big', 'wb').write(b'x' * 10 ** 7); print('ESCAPED')\nexcept OSError:\n"
                 "    print('CONTAINED')", "ok"),
    ("raw-memory", "try:\n    x = bytearray(10 ** 9); print('ESCAPED')\nexcept MemoryError:\n    print('CONTAINED')",
     "ok"),
    ("raw-cpu-ignore-sigxcpu", "import signal\nsignal.signal(signal.SIGXCPU, signal.SIG_IGN)\nwhile True:\n    pass",
     "timeout"),
    ("raw-sleep-daemon", "import os, time\nif os.fork() == 0:\n    os.setsid()\n    time.sleep(60)\n"
                         "time.sleep(60)", "timeout"),
    ("raw-output-flood", "import os\nwhile True:\n    os.write(1, b'x' * 65536)", "output_limit"),
]


@dataclass
class Verdict:
    name: str
    expected: str
    got: str
    text: str
    stopped: bool


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A host directory with a secret, a host process to protect, a host server to reach, a secret env var."""
    outside = tmp_path_factory.mktemp("outside")
    (outside / "secret.txt").write_text("host secret")
    sleeper = subprocess.Popen(["sleep", "120"])
    try:
        with host_canaries() as canaries:
            yield {"outside": str(outside), "pid": str(sleeper.pid), "port": str(canaries.port),
                   "canary": canaries.secret, "accepted": canaries.accepted}  # type: ignore[dict-item]
    finally:
        sleeper.kill()
        sleeper.wait()


def _fill(code: str, world: dict[str, str]) -> str:
    for key, value in (("@OUTSIDE@", world["outside"]), ("@PID@", world["pid"]), ("@PORT@", world["port"]),
                       ("@HOSTUID@", str(os.getuid()))):
        code = code.replace(key, value)
    return code


MARK = "corpus-" + secrets.token_hex(6)  # in every raw probe's command line, to find any survivor


def _raw(sandbox: Sandbox, code: str) -> Outcome:
    """Unrestricted Python inside the same jail the sandbox uses: the OS layer on its own."""
    inner = [str(sandbox.python), "-I", "-S", "-B", "-c", f"# {MARK}\n{code}"]
    return sandbox.jail().run(inner, sandbox.limits.resources(), stdin=lambda _fd: b"",
                              timeout_s=sandbox.limits.timeout_s, output_bytes=sandbox.limits.output_bytes)


def _raw_verdict(name: str, expected: str, outcome: Outcome) -> Verdict:
    out = outcome.stdout.decode(errors="replace")
    if outcome.output_exceeded:
        got = "output_limit"
    elif outcome.timed_out or outcome.signal in ("SIGXCPU", "SIGKILL"):
        got = "timeout"
    elif "ESCAPED" in out:
        got = "escaped"
    elif "CONTAINED" in out:
        got = "ok"
    else:
        got = f"exit {outcome.returncode}"
    text = out[-300:] + outcome.stderr.decode(errors="replace")[-500:]
    return Verdict(name, expected, got, text, got == expected)


def _restricted_verdict(name: str, expected: str, result: SandboxResult) -> Verdict:
    got = result.error.kind if result.error else "ok"
    return Verdict(name, expected, got, result.to_text()[-800:], got == expected)


@pytest.fixture(scope="module")
def verdicts(world: dict[str, str]) -> dict[str, Verdict]:
    quick, patient = Sandbox(LIMITS), Sandbox(PATIENT)
    jobs: dict[str, tuple[str, str, str]] = {}
    with ThreadPoolExecutor(max_workers=4) as pool:
        futures: dict[str, Future[SandboxResult | Outcome]] = {}
        for name, code, expected in RESTRICTED:
            sandbox = quick if expected == "timeout" else patient
            futures[name] = pool.submit(sandbox.run, _fill(code, world))
            jobs[name] = ("restricted", code, expected)
        for name, code, expected in RAW:
            sandbox = quick if expected == "timeout" else patient
            futures[name] = pool.submit(_raw, sandbox, _fill(code, world))
            jobs[name] = ("raw", code, expected)
        results: dict[str, Verdict] = {}
        for name, future in futures.items():
            layer, _, expected = jobs[name]
            value = future.result()
            if layer == "raw":
                assert isinstance(value, Outcome)
                results[name] = _raw_verdict(name, expected, value)
            else:
                assert isinstance(value, SandboxResult)
                results[name] = _restricted_verdict(name, expected, value)
    return results


def test_corpus_is_large_enough() -> None:
    assert len(RESTRICTED) >= 40
    assert len({name for name, _, _ in RESTRICTED + RAW}) == len(RESTRICTED) + len(RAW)


@pytest.mark.parametrize(("name", "expected"), [(n, e) for n, _, e in RESTRICTED + RAW])
def test_attack_is_stopped(name: str, expected: str, verdicts: dict[str, Verdict]) -> None:
    verdict = verdicts[name]
    assert verdict.got == expected, f"{name}: expected {expected}, got {verdict.got}\n{verdict.text}"


def test_nothing_leaked(verdicts: dict[str, Verdict], world: dict[str, str]) -> None:
    outside = Path(world["outside"])
    assert sorted(p.name for p in outside.iterdir()) == ["secret.txt"], "a file was written outside the sandbox"
    assert not Path("/tmp/big").exists()
    for verdict in verdicts.values():
        assert world["canary"] not in verdict.text, f"{verdict.name} saw the host environment"
        assert "host secret" not in verdict.text, f"{verdict.name} read a host file"
    assert world["accepted"] == [], "a sandboxed program reached a host server"  # type: ignore[comparison-overlap]
    os.kill(int(world["pid"]), 0)  # the host process the corpus tried to kill is alive
    os.kill(os.getpid(), 0)


def test_no_sandbox_process_survives(verdicts: dict[str, Verdict]) -> None:
    """Forked, daemonized and sleeping children of the raw probes are gone once each run returns."""
    survivors = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if MARK.encode() in cmdline:
            survivors.append(entry.name)
    assert survivors == []


def test_counts(verdicts: dict[str, Verdict], capsys: pytest.CaptureFixture[str]) -> None:
    attempts = len(verdicts)
    stopped = sum(v.stopped for v in verdicts.values())
    escaped = sum((v.got in ("ok", "escaped") and v.expected != "ok") or v.got == "escaped" for v in verdicts.values())
    with capsys.disabled():
        print(f"\nsandbox corpus: {attempts} attempts ({len(RESTRICTED)} through all layers, {len(RAW)} against "
              f"the OS layer alone), {stopped} stopped as expected, {escaped} escaped")
    assert escaped == 0
    assert stopped == attempts
