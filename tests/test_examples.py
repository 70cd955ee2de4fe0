"""Every example runs: the patch example end to end (right patch, wrong patch, a BEFORE that does not apply,
dry run, confirmation), the YAML agents and the API scripts with scripted models, and, under the `model`
marker, the same scripts with the real default model."""

from __future__ import annotations

import asyncio
import importlib.util
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from agentkit import ToolResultMessage
from agentkit.spec import load_agent
from agentkit.testing import ScriptedModel, call, text

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"
SAMPLE = EXAMPLES / "sample_project"
PATCH_ARGS = ["--file", "tally/stats.py", "--function", "median"]


def load_example(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A private copy of the sample project: the examples may write to it."""
    copy = tmp_path / "sample_project"
    shutil.copytree(SAMPLE, copy, ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache", ".agentkit-backup"))
    return copy


@pytest.fixture
def examples_copy(tmp_path: Path) -> Path:
    """examples/ and tools/ copied with their layout (agent files reference ../../tools/), data included."""
    shutil.copytree(EXAMPLES / "agents", tmp_path / "examples" / "agents")
    shutil.copytree(SAMPLE, tmp_path / "examples" / "sample_project", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(REPO / "tools", tmp_path / "tools")
    return tmp_path


def run_script(*args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=timeout, cwd=REPO)


# -- the patch example ------------------------------------------------------------------------------------------
def test_sample_project_really_has_the_bug() -> None:
    source = (SAMPLE / "tally" / "stats.py").read_text()
    assert "ordered[middle + 1]" in source, "the sample project must keep its bug: the examples fix a copy"


def test_patch_scripted_fix_applies_after_checks(project: Path) -> None:
    done = run_script("examples/patch_code.py", str(project), *PATCH_ARGS, "--scripted", "fix", "--yes")
    out = done.stdout
    assert done.returncode == 0, out + done.stderr
    assert "4 passed, 1 failed" in out  # before
    assert "the BEFORE block occurs exactly once" in out
    assert "+    return (ordered[middle - 1] + ordered[middle]) / 2" in out  # the diff is shown
    assert "5 passed, 0 failed" in out  # after, on a copy
    assert "== applied: patched tally/stats.py" in out
    fixed = (project / "tally" / "stats.py").read_text()
    assert "(ordered[middle - 1] + ordered[middle]) / 2" in fixed
    backups = list((project / ".agentkit-backup").rglob("stats.py*"))
    assert len(backups) == 1
    assert "ordered[middle + 1]" in backups[0].read_text()


def test_patch_scripted_wrong_is_caught_and_not_applied(project: Path) -> None:
    original = (project / "tally" / "stats.py").read_text()
    done = run_script("examples/patch_code.py", str(project), *PATCH_ARGS, "--scripted", "wrong", "--yes")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "REJECTED: the tests still fail with this patch" in done.stdout
    assert "FAILED tests/test_stats.py::test_median_even" in done.stdout
    assert (project / "tally" / "stats.py").read_text() == original
    assert not (project / ".agentkit-backup").exists()


def test_patch_dry_run_and_unconfirmed_write_nothing(project: Path) -> None:
    original = (project / "tally" / "stats.py").read_text()
    done = run_script("examples/patch_code.py", str(project), *PATCH_ARGS, "--scripted", "fix", "--dry-run")
    assert done.returncode == 0
    assert "== dry run: nothing written" in done.stdout
    done = run_script("examples/patch_code.py", str(project), *PATCH_ARGS, "--scripted", "fix")  # stdin: no tty
    assert done.returncode == 3
    assert "not applied" in done.stdout
    assert (project / "tally" / "stats.py").read_text() == original


def test_patch_before_that_does_not_occur_goes_back_then_is_rejected(
    project: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    patch_code = load_example("patch_code")
    missing = '{"explanation": "x", "before": "    return ordered[middle + 2]\\n", "after": "    return 0\\n"}'
    model = ScriptedModel([text(missing), text(missing), text(missing)])
    code = patch_code.main([str(project), *PATCH_ARGS, "--error", "AssertionError: 3.5 != 2.5", "--retries", "2", "--yes"], model=model)
    out = capsys.readouterr().out
    assert code == 1, out
    assert out.count("check failed, sent back to the model") == 2
    assert "the BEFORE text does not occur in the file" in out
    assert "REJECTED: the model gave no usable patch" in out
    correction = model.requests[1].messages[-1].content
    assert "does not occur in the file" in correction  # the model was told what to fix
    assert model.requests[0].settings.response_schema is not None  # the answer was grammar-constrained
    assert "def median" in model.requests[0].messages[-1].content  # context came from the real file


def test_patch_with_a_correction_then_right_answer(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    patch_code = load_example("patch_code")
    same = '{"explanation": "x", "before": "    middle = len(ordered) // 2\\n", "after": "    middle = len(ordered) // 2\\n"}'
    right = patch_code.SCRIPTED["fix"].model_dump_json()
    model = ScriptedModel([text(same), text(right)])
    code = patch_code.main([str(project), *PATCH_ARGS, "--dry-run"], model=model)
    out = capsys.readouterr().out
    assert code == 0, out
    assert "AFTER is identical to BEFORE" in out
    assert "5 passed, 0 failed" in out


def test_patch_applies_to_a_windows_file_with_bom_and_crlf(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Python reads a UTF-8 BOM and CRLF line breaks; the example must too, and the file keeps both."""
    patch_code = load_example("patch_code")
    target = project / "tally" / "stats.py"
    target.write_bytes(b"\xef\xbb\xbf" + target.read_bytes().replace(b"\n", b"\r\n"))
    code = patch_code.main([str(project), *PATCH_ARGS, "--scripted", "fix", "--yes"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "== applied: patched tally/stats.py" in out
    data = target.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    assert data.count(b"\n") == data.count(b"\r\n")
    assert b"    return (ordered[middle - 1] + ordered[middle]) / 2\r\n" in data


def test_patch_usage_errors(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    patch_code = load_example("patch_code")
    assert patch_code.main([str(project), "--file", "tally/stats.py", "--function", "mode"]) == 2
    assert "no function 'mode' in tally/stats.py; it defines mean, median, spread" in capsys.readouterr().err
    assert patch_code.main([str(project), "--file", "../outside.py", "--function", "f"]) == 2
    assert patch_code.main([str(project / "nope"), *PATCH_ARGS]) == 2


# -- YAML agents, scripted -------------------------------------------------------------------------------------
@dataclass
class WindowedModel(ScriptedModel):
    n_ctx: int = 4096


def tool_outputs(messages: list[Any]) -> list[str]:
    return [m.content for m in messages if isinstance(m, ToolResultMessage)]


def test_mail_triage_reads_the_local_maildir(examples_copy: Path) -> None:
    model = WindowedModel([call("search_mail", {"query": "invoice"}), text("Urgent: invoice 2024-118 is overdue.")])
    agent = load_agent(examples_copy / "examples/agents/mail_triage.yaml", model=model)
    assert sorted(agent.tools) == ["draft_mail", "read_mail", "search_mail"]
    result = agent.run_sync("What is urgent in my inbox?")
    assert "Invoice 2024-118 overdue" in tool_outputs(result.messages)[0]
    assert "Never send mail." in str(model.requests[0].messages)  # the developer prompt reached the model


def test_mail_triage_draft_waits_for_confirmation(examples_copy: Path) -> None:
    draft = {"to": ["ana@example.org"], "subject": "Planning", "body": "Monday 14:00 works for me."}
    model = WindowedModel([call("draft_mail", draft)])
    agent = load_agent(examples_copy / "examples/agents/mail_triage.yaml", model=model)
    result = agent.run_sync("Draft a reply to Ana: Monday 14:00 works.")
    assert result.status == "awaiting_confirmation"
    assert result.state is not None
    assert result.state.pending[0].call.name == "draft_mail"


def test_meeting_scheduler_reads_calendar_and_policy_override_denies(examples_copy: Path) -> None:
    model = WindowedModel([
        call("free_busy", {"start": "2025-01-06T08:00:00Z", "end": "2025-01-06T18:00:00Z"}),
        call("create_event", {"title": "Q1 planning", "start": "2025-01-06T19:00:00Z", "end": "2025-01-06T20:00:00Z"}),
        text("I could not book 19:00; 15:00-16:00 is free."),
    ])
    result = load_agent(examples_copy / "examples/agents/meeting_scheduler.yaml", model=model).run_sync("Book 1h Monday")
    outputs = tool_outputs(result.messages)
    assert '"busy": [{"start": "2025-01-06T09:00:00+00:00"' in outputs[0]
    assert "meetings are booked between 08:00 and 18:00 only" in outputs[1]


def test_web_researcher_searches_offline(examples_copy: Path) -> None:
    model = ScriptedModel([call("web_search", {"query": "GGUF format"}),
                           text("GGUF stores a model's tensors and metadata in one file.")])
    agent = load_agent(examples_copy / "examples/agents/web_researcher.yaml", model=model)
    result = agent.run_sync("What is the GGUF file format?")
    assert "https://github.com/ggml-org/ggml/blob/master/docs/gguf.md" in tool_outputs(result.messages)[0]


def test_code_patcher_agent_runs_tests_then_patch_waits(examples_copy: Path) -> None:
    patch = ("<<<<<<< BEFORE\n    return (ordered[middle] + ordered[middle + 1]) / 2\n=======\n"
             "    return (ordered[middle - 1] + ordered[middle]) / 2\n>>>>>>> AFTER\n")
    model = ScriptedModel([call("run_tests", {"command": "pytest -q"}),
                           call("apply_patch", {"path": "tally/stats.py", "patch": patch}), text("Not applied.")])
    agent = load_agent(examples_copy / "examples/agents/code_patcher.yaml", model=model)
    result = agent.run_sync("test_median_even fails; fix it")
    assert "4 passed, 1 failed" in tool_outputs(result.messages)[0]
    assert result.status == "awaiting_confirmation"
    assert result.state is not None
    pending = result.state.pending[0]
    assert pending.preview is not None
    assert "+    return (ordered[middle - 1] + ordered[middle]) / 2" in pending.preview
    resumed = agent.run_sync(state=result.state, decisions={pending.fingerprint: "deny"})
    assert resumed.status == "completed"
    assert resumed.output == "Not applied."
    assert "ordered[middle + 1]" in (examples_copy / "examples/sample_project/tally/stats.py").read_text()


# -- API scripts, scripted ---------------------------------------------------------------------------------------
def test_quickstart_scripted(capsys: pytest.CaptureFixture[str]) -> None:
    model = ScriptedModel([call("add", {"a": 2.5, "b": 4}), text("2.5 + 4 = 6.5")])
    assert asyncio.run(load_example("quickstart").main(model)) == "2.5 + 4 = 6.5"
    assert "<- 6.5" in capsys.readouterr().out


def test_structured_output_scripted() -> None:
    model = ScriptedModel([text('{"name": "Ana Lopez", "email": "ana.lopez@example.org", "city": "Lyon"}')])
    contact = load_example("structured_output").main(model)
    assert contact.city == "Lyon"


def test_confirm_and_resume_scripted(capsys: pytest.CaptureFixture[str]) -> None:
    module = load_example("confirm_and_resume")
    module.NOTES.unlink(missing_ok=True)
    model = ScriptedModel([call("save_note", {"text": "buy oat milk"}), text("Saved.")])
    assert module.main(model) == "Saved."
    assert module.NOTES.read_text() == "buy oat milk\n"
    out = capsys.readouterr().out
    assert "paused: save_note needs confirmation" in out
    assert "preview: append to" in out
    module.NOTES.unlink()
    model = ScriptedModel([call("save_note", {"text": "x"}), text("Not saved.")])
    assert module.main(model, approve=False) == "Not saved."
    assert not module.NOTES.exists()


def test_yaml_agent_script_scripted() -> None:
    model = ScriptedModel([call("web_search", {"query": "GGUF"}), text("GGUF is a file format.")])
    assert load_example("yaml_agent").main(model) == "GGUF is a file format."


# -- the real default model ---------------------------------------------------------------------------------------
@pytest.mark.model
@pytest.mark.parametrize("script", ["quickstart.py", "structured_output.py", "confirm_and_resume.py",
                                    "yaml_agent.py"])
def test_api_scripts_run_on_the_default_model(script: str) -> None:
    done = run_script(f"examples/{script}", timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip()


@pytest.mark.model
def test_patch_example_with_the_default_model_completes_and_reports_honestly(project: Path) -> None:
    original = (project / "tally" / "stats.py").read_text()
    done = run_script("examples/patch_code.py", str(project), *PATCH_ARGS, "--yes", "--retries", "1", timeout=900)
    out = done.stdout
    assert done.returncode in (0, 1), out + done.stderr
    after = (project / "tally" / "stats.py").read_text()
    if done.returncode == 0:  # a fix: the tests passed on the copy, then it was applied
        assert "the patch makes the tests pass" in out
        assert "== applied" in out
        assert after != original
    else:  # no usable patch, or tests still failing: said so, nothing written
        assert "REJECTED" in out
        assert after == original


@pytest.mark.model
def test_yaml_agent_runs_from_the_cli_on_the_default_model() -> None:
    done = subprocess.run([sys.executable, "-m", "agentkit._cli", "run", "examples/agents/web_researcher.yaml",
                           "What is the GGUF file format?"], capture_output=True, text=True, timeout=300, cwd=REPO)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "web_search" in done.stderr  # the call was shown
