"""`lint_prompt` and `agentkit lint-prompt`: the guide's seven-point checklist, in English and French."""

from __future__ import annotations

import io
import json

import pytest

from agentkit._cli import main
from agentkit.context import lint_prompt

GOOD_EN = (
    "Fix the KeyError: 'user_id' raised in app/billing.py, function charge(), when the cart is empty. "
    "It should return 0 instead. Minimal patch, no new dependency. Answer as a unified diff. "
    "Verify with pytest tests/test_billing.py -k empty"
)
# The guide's "exemple premium" (chapter 1.1), plus the exact error it lacks.
GOOD_FR = (
    "Dans `srdf/binlog_capture.py`, fonction `capture_updates()`, corrige le bug où `OutboundEvent` reste pending "
    "après update SQL : la console affiche « IntegrityError: duplicate key ». Je veux un patch minimal, sans "
    "refactor global. Format : diagnostic court, bloc AVANT complet, bloc APRES complet, test management command, "
    "résultat attendu console."
)


def statuses(prompt: str) -> dict[str, str]:
    return {item.key: item.status for item in lint_prompt(prompt).items}


def test_complete_requests_score_full_marks() -> None:
    for prompt, language in ((GOOD_EN, "en"), (GOOD_FR, "fr")):
        result = lint_prompt(prompt)
        assert result.language == language
        assert result.score == result.max_score == 7, result.render()
        assert result.missing == []


def test_vague_request_lists_what_is_missing_in_its_language() -> None:
    result = lint_prompt("Corrige ça")
    assert result.language == "fr"
    got = statuses("Corrige ça")
    assert got["objective"] == "vague"
    assert got["error"] == "missing"  # a fix without the error: the guide's "Corrige sans traceback"
    assert {i.key for i in result.missing} == {"objective", "target", "error", "expected", "constraints",
                                                 "format", "test"}
    suggestions = {i.key: i.suggestion for i in result.items}
    assert suggestions["error"] is not None
    assert "traceback" in suggestions["error"]
    assert "collez" in suggestions["error"]  # French advice for a French request
    english = lint_prompt("Fix the bug in utils.py")
    assert english.language == "en"
    assert {i.key: i.status for i in english.items}["error"] == "vague"  # "the bug" is not the error
    assert {i.key: i.status for i in english.items}["target"] == "present"
    assert any("paste the exact error" in (i.suggestion or "") for i in english.items)


def test_error_is_not_applicable_to_requests_that_fix_nothing() -> None:
    result = lint_prompt("Write a Python function slugify(title) in utils/text.py that returns lowercase words "
                         "joined by dashes. No new dependency. Output only the code. Test: pytest tests/test_text.py")
    assert statuses(result.prompt)["error"] == "not_applicable"
    assert result.max_score == 6
    assert result.score == 6


def test_anti_patterns_from_the_guide() -> None:
    assert any("without a metric" in w for w in lint_prompt("Optimize the import script").warnings)
    assert not any("metric" in w for w in lint_prompt("Optimize the import script from 2 min to 5 s").warnings)
    assert any("niveau cible" in w for w in lint_prompt("Explique-moi le fonctionnement du cache").warnings)
    assert any("scope" in w for w in lint_prompt("Rewrite everything from scratch, cleanly").warnings)


@pytest.mark.parametrize(
    ("prompt", "key"),
    [
        ("Traceback (most recent call last):\n  File \"a.py\", line 3\nValueError: bad", "error"),
        ("the endpoint returns HTTP 500 on POST", "error"),
        ("the job exits with exit code 137", "error"),
        ("il doit retourner une liste vide", "expected"),
        ("réduis le temps de scan de 2 min à moins de 5 sec", "expected"),
        ("code English-only, Python 3.11", "constraints"),
        ("ne touche pas au modèle de données", "constraints"),
        ("réponds sous forme de tableau", "format"),
        ("give me 3 bullet points", "format"),
        ("lance `make test` pour vérifier", "test"),
        ("la classe `Invoice` du module billing", "target"),
    ],
)
def test_each_point_is_detected(prompt: str, key: str) -> None:
    assert statuses(prompt)[key] == "present", lint_prompt(prompt).render()


def test_cli_text_json_and_min_score(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    assert main(["lint-prompt", "Fix it"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("score ")
    assert "[ ] file or function  missing: name the exact file and function" in out
    assert main(["lint-prompt", GOOD_EN, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["score"] == 7
    assert data["missing"] == []
    assert [item["key"] for item in data["items"]] == ["objective", "target", "error", "expected", "constraints",
                                                       "format", "test"]
    assert main(["lint-prompt", "Fix it", "--min-score", "5"]) == 1
    capsys.readouterr()
    monkeypatch.setattr("sys.stdin", io.StringIO(GOOD_FR))
    assert main(["lint-prompt", "-", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["language"] == "fr"
    assert main(["lint-prompt", "   "]) == 2
    assert "the prompt is empty" in capsys.readouterr().err
