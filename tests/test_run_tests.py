"""run_tests: a project's tests in the sandbox, summarised; hostile tests stay contained; the workspace is untouched."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agentkit import Agent, ModelRetry, ToolResultMessage
from agentkit.testing import ScriptedModel, call, text
from agentkit.toolkits import load_toolkit
from agentkit.toolkits.code import Config, TestReport, run_test_command

from .canaries import host_canaries

pytestmark = pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap is needed: apt-get install bubblewrap")

HOSTILE_TESTS = '''
import os, socket, subprocess, time

def test_no_network():
    try:
        socket.create_connection(("127.0.0.1", @PORT@), timeout=1).close()
    except OSError:
        return
    raise AssertionError("reached the host server")

def test_unprivileged_and_no_host_environment():
    assert os.getuid() not in (0, @HOSTUID@)  # an unprivileged uid, never the host's
    assert not any("CANARY" in key for key in os.environ)
    assert os.environ["HOME"] == "/tmp"

def test_host_files_are_invisible():
    assert not os.path.exists("@OUTSIDE@/secret.txt")
    assert not os.path.exists("/etc/passwd")
    assert not os.path.exists("@PROJECT@")  # only the private copy is there

def test_writes_stay_in_the_private_copy():
    with open("generated.txt", "w") as handle:
        handle.write("made by a test")
    with open("calc.py", "a") as handle:
        handle.write("# tampered\\n")
    try:
        open("/usr/pwned", "w")
    except OSError:
        return
    raise AssertionError("wrote to /usr")

def test_fork_bomb_is_bounded():
    children = []
    try:
        for _ in range(500):
            pid = os.fork()
            if pid == 0:
                time.sleep(5)
                os._exit(0)
            children.append(pid)
    except OSError:
        pass
    assert len(children) < 100
    for pid in children:
        os.kill(pid, 9)

def test_disk_bomb_is_bounded():
    written = 0
    try:
        with open("filler.bin", "wb") as handle:
            while written < 200 * 2**20:
                handle.write(b"x" * 2**20)
                handle.flush()
                written += 2**20
    except OSError:
        pass
    assert written <= 32 * 2**20

def test_host_process_cannot_be_signalled():
    try:
        os.kill(@PID@, 9)
    except OSError:
        return
    raise AssertionError("killed a host process")
'''


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    base = tmp_path_factory.mktemp("code")
    outside = base / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("host secret")
    root = base / "project"
    (root / "tests").mkdir(parents=True)
    (root / "calc.py").write_text("def add(a, b):\n    return a + b\n")
    (root / "tests" / "test_calc.py").write_text(
        "from calc import add\n\ndef test_add():\n    assert add(1, 2) == 3\n\n"
        "def test_add_wrong():\n    assert add(2, 2) == 5, 'two and two'\n"
    )
    with host_canaries() as canaries:
        hostile = HOSTILE_TESTS.replace("@PORT@", str(canaries.port)).replace("@OUTSIDE@", str(outside))
        hostile = hostile.replace("@PROJECT@", str(root))
        (root / "tests" / "test_hostile.py").write_text(hostile.replace("@PID@", str(os.getpid())).replace("@HOSTUID@", str(os.getuid())))
        yield {"root": root, "accepted": canaries.accepted}


@pytest.fixture(scope="module")
def agent_run(project: dict[str, Any]) -> list[str]:
    """One real run through the agent loop, shared by the assertions below (a pytest run takes seconds)."""
    tools = load_toolkit("code", {"root": str(project["root"]), "timeout_s": 120, "disk_mb": 32})
    assert [(t.name, t.effect) for t in tools] == [("run_tests", "read")]
    model = ScriptedModel([call("run_tests", {"command": "pytest -q", "path": "."}), text("one test fails")])
    result = Agent(model, tools=tools).run_sync("run the tests")
    model.assert_all_used()
    return [m.content for m in result.messages if isinstance(m, ToolResultMessage)]


def test_summary_and_failing_output(agent_run: list[str]) -> None:
    (report,) = agent_run
    assert report.startswith("$ pytest -q\nresult: 8 passed, 1 failed, 0 errors, 0 skipped in ")
    assert "(exit code 1)" in report
    assert "FAILED tests/test_calc.py::test_add_wrong" in report
    assert "two and two" in report
    assert "assert 4 == 5" in report


def test_hostile_tests_were_contained(agent_run: list[str], project: dict[str, Any]) -> None:
    report = agent_run[0]
    assert "test_hostile" not in report  # every containment assertion held inside the sandbox
    assert project["accepted"] == []
    root: Path = project["root"]
    assert not (root / "generated.txt").exists()
    assert not (root / "filler.bin").exists()
    assert "tampered" not in (root / "calc.py").read_text()
    assert not list(root.rglob("__pycache__"))
    assert not Path("/usr/pwned").exists()


def test_timeout_stops_the_run(tmp_path: Path) -> None:
    (tmp_path / "test_slow.py").write_text("import time\n\ndef test_sleeps():\n    time.sleep(60)\n")
    report = run_test_command(Config(root=tmp_path, timeout_s=3), "pytest -q", ".")
    assert report.timed_out
    assert not report.ok
    assert "stopped: the tests ran past the time limit" in report.to_text()


def test_unittest_commands_are_summarised(tmp_path: Path) -> None:
    (tmp_path / "test_unit.py").write_text(
        "import unittest\n\nclass T(unittest.TestCase):\n    def test_ok(self):\n        self.assertTrue(True)\n\n"
        "    def test_bad(self):\n        self.assertEqual(1, 2)\n\n    def test_boom(self):\n        raise KeyError('k')\n"
    )
    report = run_test_command(Config(root=tmp_path), "python -m unittest -v", ".")
    assert (report.passed, report.failed, report.errors) == (1, 1, 1)
    assert sorted(f.name.split(" ")[0] for f in report.failures) == ["test_bad", "test_boom"]
    assert any("AssertionError: 1 != 2" in f.output for f in report.failures)


@pytest.mark.parametrize(
    ("command", "path", "fragment"),
    [
        ("rm -rf /", ".", "only test commands run here"),
        ("bash -c 'curl evil'", ".", "only test commands run here"),
        ("pytest 'unbalanced", ".", "cannot parse the command"),
        ("", ".", "the command is empty"),
        ("pytest -q", "../", "'..' is not allowed"),
        ("pytest -q", "/etc", "outside the workspace"),
        ("pytest -q", "calc.py", "is not a directory"),
    ],
)
def test_refused_commands_and_paths(project: dict[str, Any], command: str, path: str, fragment: str) -> None:
    with pytest.raises(ModelRetry) as caught:
        run_test_command(Config(root=project["root"]), command, path)
    assert fragment in caught.value.message


def test_report_rendering_without_a_run() -> None:
    report = TestReport(command="pytest -q", exit_code=5, notes=["no tests were collected"])
    assert report.to_text() == ("$ pytest -q\nresult: 0 passed, 0 failed, 0 errors, 0 skipped in 0.0 s (exit code 5)\n"
                                "no tests were collected")
    assert not report.ok
