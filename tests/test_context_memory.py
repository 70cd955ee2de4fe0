"""Persistent memory: SQLite CRUD, scopes, relevance, injection into the prompt, and `agentkit memory`."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import platformdirs
import pytest

from agentkit import DecodingSettings, Message, SystemMessage, UserError, UserMessage
from agentkit._cli import main
from agentkit.context import ContextBuilder, MemoryScope, MemoryStore, default_memory_path
from agentkit.context._memory import relevance
from agentkit.testing import ScriptedModel


def test_add_list_forget(tmp_path: Path) -> None:
    store = MemoryStore(tmp_path / "sub" / "memory.sqlite3")  # parent folders are created
    short = store.add("answers   short\n", subject="ana")
    english = store.add("code in English only", scope="project", subject="/src/shop")
    store.add("uses vim", subject="bob")
    assert short.text == "answers short"  # whitespace normalised
    assert [m.text for m in store.list()] == ["answers short", "code in English only", "uses vim"]
    assert [m.id for m in store.list(scope="project")] == [english.id]
    assert [m.text for m in store.list(subject="ana")] == ["answers short"]
    assert [m.text for m in store.for_scope(MemoryScope(user="ana", project="/src/shop"))] == [
        "answers short", "code in English only"]
    assert store.for_scope(MemoryScope(user=None, project=None)) == []
    assert store.forget(short.id).text == "answers short"
    assert [m.text for m in store.list()] == ["code in English only", "uses vim"]
    with pytest.raises(UserError, match="no memory with id"):
        store.forget(short.id)
    # a second store on the same file sees the same data (persistence)
    assert len(MemoryStore(store.path).list()) == 2


def test_bad_input_gets_clear_errors(tmp_path: Path) -> None:
    store = MemoryStore(tmp_path / "m.sqlite3")
    with pytest.raises(UserError, match="needs some text"):
        store.add("   ")
    with pytest.raises(UserError, match="at most 2000 characters"):
        store.add("x" * 2001)
    with pytest.raises(UserError, match="scope must be"):
        store.add("x", scope="team")  # type: ignore[arg-type]
    with pytest.raises(UserError, match="is a directory"):
        MemoryStore(tmp_path)
    corrupt = tmp_path / "corrupt.sqlite3"
    corrupt.write_bytes(b"this is not a database" * 100)
    with pytest.raises(UserError, match=r"unusable .* move it aside"):
        MemoryStore(corrupt).list()


def test_default_path_is_in_the_user_data_directory() -> None:
    assert default_memory_path() == Path(platformdirs.user_data_dir("agentkit")) / "memory.sqlite3"


def test_subject_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    (repo / "pkg").mkdir()
    monkeypatch.chdir(repo / "pkg")
    store = MemoryStore(tmp_path / "m.sqlite3")
    assert store.add("tabs not spaces", scope="project").subject == str(repo.resolve())
    assert store.add("answers short").subject == MemoryScope().user


def test_relevance_prefers_memories_sharing_words_with_the_request(tmp_path: Path) -> None:
    store = MemoryStore(tmp_path / "m.sqlite3")
    sql = store.add("SQL queries use uppercase keywords", subject="u")
    tone = store.add("be friendly", subject="u")
    french = store.add("écris les réponses en français", subject="u")
    scores = relevance(store.list(), "Write the SQL query that lists invoices")
    assert scores[sql.id] > scores[tone.id]
    assert scores[sql.id] > scores[french.id]
    accents = relevance(store.list(), "Ecris une reponse courte en francais")
    assert accents[french.id] > accents[sql.id]  # accents and case folded


def test_memories_injected_and_least_relevant_dropped_first(tmp_path: Path) -> None:
    store = MemoryStore(tmp_path / "m.sqlite3")
    for text in ["likes long essays about medieval history and castles and knights in armour",
                 "SQL queries use uppercase keywords",
                 "prefers tea over coffee in the morning and green tea in the afternoon"]:
        store.add(text, subject="u")
    store.add("someone else's preference", subject="other")
    builder = ContextBuilder(memory=store, memory_scope=MemoryScope(user="u"), context_window=4000)
    messages: list[Message] = [SystemMessage(content="s"), UserMessage(content="Write the SQL query for invoices.")]
    model = ScriptedModel([])
    built = builder.build(messages, tools=[], model=model, settings=DecodingSettings())
    memory_block = next(m.content for m in built.messages if m.content.startswith("Remembered"))
    assert "SQL queries use uppercase keywords" in memory_block
    assert "someone else's" not in memory_block  # another subject's memories stay out
    assert built.report["blocks"]["memory"] > 0
    # a budget that fits only part of the memory: the SQL preference survives, the others go first
    only_sql = MemoryStore(tmp_path / "only_sql.sqlite3")
    only_sql.add("SQL queries use uppercase keywords", subject="u")
    budget = ContextBuilder(memory=only_sql, memory_scope=MemoryScope(user="u"), context_window=4000).build(
        messages, tools=[], model=model, settings=DecodingSettings()).report["prompt_tokens"]
    tight = ContextBuilder(memory=store, memory_scope=MemoryScope(user="u"), context_window=budget + 1,
                           reserved_output=1)
    built = tight.build(messages, tools=[], model=model, settings=DecodingSettings())
    assert built.notes[0].startswith("memory: dropped 2 of 3 memories")
    memory_block = next(m.content for m in built.messages if m.content.startswith("Remembered"))
    assert "SQL queries" in memory_block
    assert "tea" not in memory_block


def test_max_memories_keeps_the_most_relevant(tmp_path: Path) -> None:
    store = MemoryStore(tmp_path / "m.sqlite3")
    for n in range(6):
        store.add(f"note {n} about gardening", subject="u")
    store.add("deployments go through the staging cluster", subject="u")
    builder = ContextBuilder(memory=store, memory_scope=MemoryScope(user="u"), context_window=4000, max_memories=3)
    messages: list[Message] = [UserMessage(content="Plan the deployments for staging.")]
    built = builder.build(messages, tools=[], model=ScriptedModel([]), settings=DecodingSettings())
    block = next(m.content for m in built.messages if m.content.startswith("Remembered"))
    assert block.count("\n- ") == 3
    assert "staging cluster" in block


def test_cli_memory_add_list_forget(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = str(tmp_path / "cli.sqlite3")
    assert main(["memory", "--db", db, "add", "answers short"]) == 0
    assert "remembered #1 for user" in capsys.readouterr().out
    assert main(["memory", "--db", db, "add", "code in English only", "--project", "shop", "--json"]) == 0
    added = json.loads(capsys.readouterr().out)
    assert added == {"id": 2, "scope": "project", "subject": "shop", "text": "code in English only",
                     "created": added["created"]}
    assert main(["memory", "--db", db, "list", "--json"]) == 0
    assert [m["text"] for m in json.loads(capsys.readouterr().out)] == ["answers short", "code in English only"]
    assert main(["memory", "--db", db, "list", "--scope", "project"]) == 0
    listed = capsys.readouterr().out
    assert "#2" in listed
    assert "answers short" not in listed
    assert main(["memory", "--db", db, "forget", "1"]) == 0
    assert "forgot #1: answers short" in capsys.readouterr().out
    assert main(["memory", "--db", db, "forget", "1"]) == 2
    assert "no memory with id 1" in capsys.readouterr().err
    with sqlite3.connect(db) as connection:
        assert connection.execute("SELECT count(*) FROM memories").fetchone() == (1,)
