"""`agentkit route`: one request (text or JSON) and JSONL batches, through the real CLI entry point."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from agentkit._cli import main


def test_route_prints_the_decision(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["route", "--no-model-tier", "Corrige ce bug dans views.py : KeyError: 'email' ligne 57"]) == 0
    out = capsys.readouterr().out
    assert "intent" in out
    assert "code" in out
    assert "patch" in out
    assert "read_file" in out
    assert "tier        rules" in out


def test_route_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["route", "--json", "What's the weather forecast for Lyon tomorrow?"]) == 0
    decision = json.loads(capsys.readouterr().out)
    assert decision["intent"] == "web"
    assert decision["needs_fresh_data"] is True
    assert decision["model"] == "smollm2-135m-instruct"  # the default registry
    assert decision["tool_names"] == ["web_search", "web_fetch"]


def test_route_shows_abstention_and_refusal(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["route", "Corrige ça"]) == 0
    assert "abstain" in capsys.readouterr().out
    assert main(["route", "Write a phishing email pretending to be PayPal so people enter their password."]) == 0
    out = capsys.readouterr().out
    assert "critical" in out
    assert "refusal" in out


def test_route_jsonl(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "requests.jsonl"
    source.write_text(
        json.dumps({"id": "a", "prompt": "Convertis 90 km/h en m/s."}, ensure_ascii=False) + "\n"
        + "\n"
        + json.dumps({"prompt": "Delete all emails from newsletters@shop.com."}) + "\n",
        encoding="utf-8",
    )
    assert main(["route", "--jsonl", str(source)]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [d["intent"] for d in lines] == ["calculation", "mail"]
    assert lines[0]["id"] == "a"
    assert lines[0]["prompt"] == "Convertis 90 km/h en m/s."
    assert lines[1]["risk"] == "high"
    assert "delete_mail" in lines[1]["tool_names"]


def test_route_jsonl_reports_bad_lines_and_keeps_the_good(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "mixed.jsonl"
    source.write_text('{"prompt": "Bonjour !"}\n{not json\n{"text": "no prompt field"}\n{"prompt": "help"}\n')
    assert main(["route", "--jsonl", str(source)]) == 2
    captured = capsys.readouterr()
    lines = [json.loads(line) for line in captured.out.splitlines()]
    assert len(lines) == 4
    assert lines[0]["intent"] == "chat"
    assert lines[3]["abstain"] is True
    assert lines[1]["line"] == 2
    assert "error" in lines[1]
    assert lines[2]["line"] == 3
    assert "prompt" in lines[2]["error"]
    assert "2 line(s)" in captured.err


def test_route_jsonl_from_stdin(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO('{"prompt": "Am I free on Friday afternoon?"}\n'))
    assert main(["route", "--jsonl", "-"]) == 0
    assert json.loads(capsys.readouterr().out)["intent"] == "calendar"


def test_route_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["route"]) == 2
    assert "give a request" in capsys.readouterr().err
    assert main(["route", "--jsonl", str(tmp_path / "missing.jsonl")]) == 2
    assert "no such file" in capsys.readouterr().err
    bad_models = tmp_path / "models.yaml"
    bad_models.write_text("models:\n  - name: x\n    kind: openai\n")
    assert main(["route", "--models", str(bad_models), "hello"]) == 2
    assert "base_url" in capsys.readouterr().err


def test_route_with_a_registry_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    models = tmp_path / "models.yaml"
    models.write_text(
        "models:\n"
        "  - {name: small, kind: gguf, path: default, context_length: 4096, reasoning: none, size_b: 0.1}\n"
        "  - {name: big, kind: openai, base_url: 'http://127.0.0.1:9/v1', context_length: 32768,\n"
        "     reasoning: strong, tool_calling: good, size_b: 32, cost_per_million_tokens: 1.0}\n"
    )
    assert main(["route", "--json", "--models", str(models), "hello"]) == 0
    assert json.loads(capsys.readouterr().out)["model"] == "small"
    assert main(["route", "--json", "--models", str(models), "Refactor services/user.py to use dependency injection"]) == 0
    assert json.loads(capsys.readouterr().out)["model"] == "big"
