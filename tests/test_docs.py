"""Every fenced python block in README.md and docs/*.md runs. Blocks run in order, one namespace per file,
with real models blocked; blocks fenced as ```python model need the default model and run under the
`model` marker."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from agentkit.testing import block_model_requests

REPO = Path(__file__).resolve().parent.parent
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
_BLOCK = re.compile(r"^```python([^\n]*)\n(.*?)^```\s*$", re.DOTALL | re.MULTILINE)
REQUIRED_PAGES = {"router.md", "context.md", "models.md", "tools.md", "policies.md", "serving.md"}


def blocks(page: Path, *, model: bool) -> list[str]:
    found = []
    for match in _BLOCK.finditer(page.read_text(encoding="utf-8")):
        tags = match.group(1).split()
        if ("model" in tags) == model:
            found.append(match.group(2))
    return found


def test_every_part_has_a_page_with_snippets() -> None:
    names = {p.name for p in PAGES}
    assert names >= REQUIRED_PAGES
    for page in PAGES:
        if page.name in REQUIRED_PAGES:
            assert blocks(page, model=False), f"{page.name} has no runnable python snippet"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_snippets_run(page: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(REPO)
    namespace: dict[str, object] = {"__name__": f"docs_{page.stem}"}
    with block_model_requests(f"snippets of {page.name}"):
        for index, source in enumerate(blocks(page, model=False), 1):
            try:
                exec(compile(source, f"{page.name}[block {index}]", "exec"), namespace)
            except Exception as exc:
                raise AssertionError(f"{page.name} block {index} failed: {exc!r}\n{source}") from exc
    capsys.readouterr()


@pytest.mark.model
@pytest.mark.parametrize("page", [p for p in PAGES if blocks(p, model=True)], ids=lambda p: p.name)
def test_model_snippets_run(page: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    for index, source in enumerate(blocks(page, model=True), 1):
        namespace: dict[str, object] = {"__name__": f"docs_{page.stem}_model"}
        exec(compile(source, f"{page.name}[model block {index}]", "exec"), namespace)
