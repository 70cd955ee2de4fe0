"""Ordinary programs a user expects the sandbox to run, and refusals that say where and how to fix the code."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from agentkit import Agent
from agentkit.testing import ScriptedModel, call, text
from agentkit.toolkits import load_toolkit
from agentkit.toolkits.sandbox import Sandbox, SandboxLimits

pytestmark = pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap is needed: apt-get install bubblewrap")


@pytest.fixture(scope="module")
def sandbox() -> Sandbox:
    return Sandbox(SandboxLimits(timeout_s=10, output_bytes=4_000, value_chars=500))


def test_a_refusal_at_compile_time_carries_its_line(sandbox: Sandbox) -> None:
    result = sandbox.run("a = 1\nb = 2\nc = a.__class__")
    assert result.error is not None
    assert (result.error.kind, result.error.line) == ("restricted", 3)
    assert "(line 3)" in result.to_text()


def test_run_python_names_the_line_of_a_compile_time_refusal() -> None:
    model = ScriptedModel([call("run_python", {"code": "x = 1\n\nx.__dict__"}), text("ok")])
    messages = Agent(model, tools=load_toolkit("python")).run_sync("x").messages
    assert "The program was refused at line 3 (restricted)" in messages[-2].content


def test_variable_annotations_run(sandbox: Sandbox) -> None:
    program = "total: int = 0\ncount: int\nclass Point:\n    x: float\n    y: float = 2.0\n" \
              "def f(n: int) -> int:\n    doubled: int = n * 2\n    return doubled\ntotal += f(3)\n(total, Point.y)"
    result = sandbox.run(program)
    assert (result.error, result.value) == (None, "(6, 2.0)")


def test_annotated_attribute_targets_still_pass_the_guards(sandbox: Sandbox) -> None:
    result = sandbox.run("import math\nmath.pi: float = 3")
    assert result.error is not None
    assert result.error.kind == "restricted"
    assert result.error.line == 2


def test_json_dumps_takes_its_usual_keywords(sandbox: Sandbox) -> None:
    program = "import json, datetime\n" \
              "(json.dumps({'a': [1, 2]}, separators=(',', ':')), " \
              "json.dumps({'d': datetime.date(2024, 1, 2)}, default=str), " \
              "json.loads('{\"x\": 1.5}', parse_float=str))"
    result = sandbox.run(program)
    assert result.error is None, result.to_text()
    assert result.value == "('{\"a\":[1,2]}', '{\"d\": \"2024-01-02\"}', {'x': '1.5'})"


def test_decimal_precision_can_be_set(sandbox: Sandbox) -> None:
    program = "import decimal\ndecimal.getcontext().prec = 6\na = decimal.Decimal(1) / decimal.Decimal(7)\n" \
              "with decimal.localcontext() as ctx:\n    ctx.prec = 3\n    b = decimal.Decimal(1) / decimal.Decimal(7)\n" \
              "(str(a), str(b))"
    result = sandbox.run(program)
    assert result.error is None, result.to_text()
    assert result.value == "('0.142857', '0.143')"


def test_format_builtin_works_and_str_format_points_to_f_strings(sandbox: Sandbox) -> None:
    assert sandbox.run("format(3.14159, '.2f'), format(1234567, ',')").value == "('3.14', '1,234,567')"
    result = sandbox.run("x = 2\n'{} apples'.format(x)")
    assert result.error is not None
    assert (result.error.kind, result.error.line) == ("restricted", 2)
    assert "f-string" in result.error.message


def test_cli_runs_a_file_saved_with_a_byte_order_mark(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from agentkit._cli import main

    script = tmp_path / "bom.py"
    script.write_bytes(b"\xef\xbb\xbfprint('hi')\n6 * 7\n")
    assert main(["sandbox", str(script)]) == 0
    assert '"value": "42"' in capsys.readouterr().out
