"""The `agentkit` command on bad input: one clear line, a non-zero exit, no traceback, and nothing lost."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from agentkit._cli import main

AGENTKIT = [sys.executable, "-m", "agentkit"]


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*AGENTKIT, *args], capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL, cwd=cwd)


def one_error_line(stderr: str) -> str:
    assert "Traceback" not in stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    return lines[0]


def answer(message: dict[str, Any], finish: str) -> dict[str, Any]:
    return {"choices": [{"index": 0, "message": {"role": "assistant", **message}, "finish_reason": finish}]}


@pytest.fixture
def scripted_server() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """An OpenAI-compatible server on 127.0.0.1 answering each request with the next scripted reply."""
    replies: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            body = json.dumps(replies.pop(0) if replies else answer({"content": "done"}, "stop")).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1", replies
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def write_call(path: str, content: str) -> dict[str, Any]:
    arguments = json.dumps({"path": path, "content": content})
    call = {"id": "c1", "type": "function", "function": {"name": "write_file", "arguments": arguments}}
    return answer({"content": None, "tool_calls": [call]}, "tool_calls")


@pytest.mark.parametrize(
    ("flag", "value", "fragment"),
    [("--temperature", "5", "--temperature"), ("--max-tokens", "-1", "--max-tokens")],
)
def test_out_of_range_decoding_flags_are_user_errors(
    flag: str, value: str, fragment: str, capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["run", "--model", "http://127.0.0.1:9/v1", flag, value, "hi"]) == 2
    line = one_error_line(capsys.readouterr().err)
    assert line.startswith("agentkit: error: ")
    assert fragment in line


def test_files_the_command_cannot_write_or_read_are_user_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where a folder should be")
    assert main(["schema", "-o", str(blocker / "schema.json")]) == 2
    line = one_error_line(capsys.readouterr().err)
    assert line.startswith("agentkit: error: ")
    assert str(blocker) in line
    assert main(["audit", "verify", str(tmp_path)]) == 2
    line = one_error_line(capsys.readouterr().err)
    assert line.startswith("agentkit: error: ")
    assert str(tmp_path) in line
    assert main(["run", "--resume", str(tmp_path), "x"]) == 2
    assert one_error_line(capsys.readouterr().err).startswith("agentkit: error: ")


def test_a_state_file_of_the_wrong_shape_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    state = tmp_path / "state.json"
    state.write_text("{}")
    assert main(["run", "--resume", str(state), "x"]) == 2
    line = one_error_line(capsys.readouterr().err)
    assert "is not a saved run state" in line
    assert "run_id" in line
    assert state.exists()


def test_validate_reports_every_file_even_after_a_missing_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    good = tmp_path / "good.yaml"
    good.write_text("name: good\n")
    assert main(["validate", str(tmp_path / "missing.yaml"), str(tmp_path), str(good)]) == 2
    captured = capsys.readouterr()
    assert f"{good}: ok" in captured.out
    assert "no agent file at" in captured.err
    assert "is a folder" in captured.err
    assert "2 of 3 file(s) invalid" in captured.err
    assert "Traceback" not in captured.err


def test_flags_an_agent_file_does_not_take_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    agent = tmp_path / "agent.yaml"
    agent.write_text("name: a\nmodel: http://127.0.0.1:9/v1\n")
    assert main(["run", str(agent), "hi", "--tools", "calc", "--system", "be brief"]) == 2
    line = one_error_line(capsys.readouterr().err)
    assert "--tools" in line
    assert "--system" in line
    assert str(agent) in line


def test_model_flag_replaces_the_agent_files_model(
    tmp_path: Path, scripted_server: tuple[str, list[dict[str, Any]]],
) -> None:
    url, replies = scripted_server
    replies.append(answer({"content": "from the flag's server"}, "stop"))
    agent = tmp_path / "agent.yaml"
    agent.write_text("name: a\nmodel: http://127.0.0.1:9/v1\n")  # a closed port: only the flag's server answers
    result = run_cli("run", str(agent), "hi", "--model", url)
    assert result.returncode == 0, result.stderr
    assert "from the flag's server" in result.stdout


def pause_a_write(url: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """`agentkit run` with the files toolkit on the scripted server, paused at its write (state in paused.json)."""
    paused = run_cli("run", "--model", url, "--tools", "files", "--no-router", "save hello to note.txt",
                     "--state-out", "paused.json", cwd=cwd)
    assert paused.returncode == 3, paused.stderr
    return paused


def pending_fingerprint(cwd: Path) -> str:
    return str(json.loads((cwd / "paused.json").read_text())["pending"][0]["fingerprint"])


def refused_resume(url: str, cwd: Path, flags: Callable[[str], list[str]]) -> tuple[str, str]:
    """Pause a write, resume it with `flags(fingerprint)`, expect a refusal that leaves the pause resumable."""
    pause_a_write(url, cwd)
    fingerprint = pending_fingerprint(cwd)
    wrong = run_cli("run", "--model", url, "--resume", "paused.json", *flags(fingerprint), cwd=cwd)
    assert wrong.returncode == 2
    assert (cwd / "paused.json").exists(), "a refused resume must leave the paused run resumable"
    assert not (cwd / "note.txt").exists()
    return fingerprint, wrong.stderr


def test_the_printed_resume_command_resumes_the_paused_run(
    tmp_path: Path, scripted_server: tuple[str, list[dict[str, Any]]],
) -> None:
    url, replies = scripted_server
    replies.extend([write_call("note.txt", "hello"), answer({"content": "Saved."}, "stop")])
    paused = pause_a_write(url, tmp_path)
    resume = next(line for line in paused.stderr.splitlines() if line.startswith("resume: "))
    command = shlex.split(resume.removeprefix("resume: ").split("   (or")[0])
    assert command[0] == "agentkit"
    done = run_cli(*command[1:], cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "note.txt").read_text() == "hello"
    assert "Saved." in done.stdout


def test_resuming_with_an_agent_that_lacks_the_tool_keeps_the_state(
    tmp_path: Path, scripted_server: tuple[str, list[dict[str, Any]]],
) -> None:
    url, replies = scripted_server
    replies.append(write_call("note.txt", "hello"))
    _, stderr = refused_resume(url, tmp_path, lambda fp: ["--no-router", "--approve", fp])
    assert "write_file" in one_error_line(stderr)
    assert "--tools" in stderr


def test_a_mistyped_fingerprint_is_refused_and_keeps_the_state(
    tmp_path: Path, scripted_server: tuple[str, list[dict[str, Any]]],
) -> None:
    url, replies = scripted_server
    replies.append(write_call("note.txt", "hello"))
    fingerprint, stderr = refused_resume(
        url, tmp_path, lambda fp: ["--tools", "files", "--no-router", "--approve", fp[:16]])
    assert "is not the fingerprint of a pending call" in one_error_line(stderr)
    assert fingerprint in stderr


def test_options_may_sit_between_the_agent_file_and_the_prompt(
    tmp_path: Path, scripted_server: tuple[str, list[dict[str, Any]]],
) -> None:
    url, replies = scripted_server
    replies.append(answer({"content": "between"}, "stop"))
    agent = tmp_path / "agent.yaml"
    agent.write_text(f"name: a\nmodel: {url}\n")
    result = run_cli("run", str(agent), "--json", "hi")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.splitlines()[0])["prompt"] == "hi"
    extra = run_cli("run", str(agent), "--json", "hi", "again")
    assert extra.returncode == 2
    assert "unrecognized arguments: hi again" in extra.stderr
