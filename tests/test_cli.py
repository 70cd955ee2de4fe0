"""The `agentkit` command: one clear line and a non-zero exit on errors, streaming on success."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from agentkit._cli import main

AGENTKIT = [sys.executable, "-m", "agentkit"]


def run_cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*AGENTKIT, *args], capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)


def test_models_reports_the_default(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["default"] == "smollm2-135m-instruct"
    assert info["default_path"].endswith(".gguf")
    assert isinstance(info["gpu_offload"], bool)


@pytest.mark.parametrize(
    ("args", "code", "fragment"),
    [
        (["run", "--model", "/nowhere/model.gguf", "hi"], 2, "does not exist"),
        (["run", "--tools", "nope", "hi"], 2, "unknown toolkit 'nope'"),
        (["run", "--tool-choice", "ghost", "hi"], 2, "tool_choice 'ghost'"),
        (["run", "--model", "http://127.0.0.1:9/v1", "hi"], 1, "127.0.0.1:9"),
        (["run", "--resume", "/nowhere/state.json", "x"], 2, "no saved state"),
    ],
)
def test_errors_are_one_line_without_traceback(args: list[str], code: int, fragment: str) -> None:
    result = run_cli(*args)
    assert result.returncode == code, result.stderr
    assert fragment in result.stderr
    assert "Traceback" not in result.stderr
    assert len([line for line in result.stderr.splitlines() if line.startswith("agentkit:")]) == 1


def test_corrupt_state_file_is_a_user_error(tmp_path: Path) -> None:
    bad = tmp_path / "state.json"
    bad.write_text("{not json")
    result = run_cli("run", "--resume", str(bad), "x")
    assert result.returncode == 2
    assert "is not a saved run state" in result.stderr


@pytest.mark.model
def test_run_streams_json_events_on_the_default_model() -> None:
    result = run_cli("run", "--json", "--max-tokens", "16", "--temperature", "0", "Say hello.")
    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    kinds = [e["type"] for e in events]
    assert kinds[0] == "run_started"
    assert "text_delta" in kinds
    assert kinds[-1] == "final"
    text = "".join(e["text"] for e in events if e["type"] == "text_delta")
    assert events[-1]["result"]["output"] == text


@pytest.mark.model
def test_run_calls_a_tool_and_prints_timings() -> None:
    result = run_cli("run", "--tools", "calc", "--tool-choice", "required", "--temperature", "0", "--timings",
                     "--max-tokens", "96", "What is 2.5 + 4?")
    assert result.returncode == 0, result.stderr
    assert "-> calculate(" in result.stderr
    assert "<- " in result.stderr
    assert "loading smollm2-135m-instruct" in result.stderr
    assert "prefill" in result.stderr
