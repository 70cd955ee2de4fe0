"""Persistent memory: preferences and facts per user or per project, in SQLite.

    store = MemoryStore()                        # platformdirs.user_data_dir("agentkit")/memory.sqlite3
    store.add("answers short", scope="user")     # subject defaults to the OS user
    store.add("code in English only", scope="project", subject="/src/shop")
    store.list(); store.forget(2)

The context builder injects the memories of its `MemoryScope` as the memory block (lowest priority): all of
them in creation order while they fit, the least relevant to the current request dropped first otherwise.
"""

from __future__ import annotations

import getpass
import math
import os
import re
import sqlite3
import time
import unicodedata
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from .._errors import UserError

MemoryKind = Literal["user", "project"]
MAX_MEMORY_CHARS = 2000
DB_FILENAME = "memory.sqlite3"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS memories (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    scope TEXT NOT NULL CHECK (scope IN ('user', 'project')),
    subject TEXT NOT NULL,
    text TEXT NOT NULL,
    created REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS memories_by_subject ON memories (scope, subject);
"""

_STOP = frozenset(
    "a an and are as at be by for from has have i in is it its me my of on or so that the this to was we with you "
    "your do does not no please can could would should will just also very "
    "au aux avec ce ces dans de des du elle en et est il je la le les leur lui ma mais me mes mon ne nous on ou "
    "par pas pour qu que qui sa se ses son sur ta te tes toi ton tu un une vos votre vous est sont fais faire".split()
)


def default_memory_path() -> Path:
    """Where memories live unless told otherwise: the user data directory of agentkit."""
    import platformdirs

    return Path(platformdirs.user_data_dir("agentkit")) / DB_FILENAME


def current_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no login name (some containers)
        return "default"


def current_project() -> str:
    """The project subject for the working directory: the enclosing git repository's root, else the directory."""
    here = Path.cwd().resolve()
    for folder in (here, *here.parents):
        if (folder / ".git").exists():
            return str(folder)
    return str(here)


@dataclass(frozen=True)
class Memory:
    id: int
    scope: MemoryKind
    subject: str
    text: str
    created: float


Memories = list[Memory]


@dataclass(frozen=True)
class MemoryScope:
    """Whose memories a context uses: one user's, plus one project's (None leaves that scope out)."""

    user: str | None = field(default_factory=current_user)
    project: str | None = None

    def pairs(self) -> list[tuple[MemoryKind, str]]:
        pairs: list[tuple[MemoryKind, str]] = []
        if self.user is not None:
            pairs.append(("user", self.user))
        if self.project is not None:
            pairs.append(("project", self.project))
        return pairs


class MemoryStore:
    """Memories in one SQLite file. Each call opens its own connection, so a store is safe to share."""

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path).expanduser() if path is not None else default_memory_path()
        if self.path.exists() and self.path.is_dir():
            raise UserError(f"memory store path {self.path} is a directory; give a file path (e.g. {DB_FILENAME})")

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(self.path, timeout=10)
        except (OSError, sqlite3.Error) as exc:
            raise UserError(f"cannot open the memory store {self.path}: {exc}; give a writable path") from None
        try:
            connection.executescript(_SCHEMA)
            with connection:
                yield connection
        except sqlite3.DatabaseError as exc:
            raise UserError(
                f"the memory store {self.path} is unusable ({exc}); move it aside to start a new one"
            ) from None
        finally:
            connection.close()

    def add(self, text: str, *, scope: MemoryKind = "user", subject: str | None = None) -> Memory:
        """Remember `text` for a user (default: the OS user) or a project (default: the current repository)."""
        text = " ".join(text.split())
        if not text:
            raise UserError("a memory needs some text, e.g. 'answers short'")
        if len(text) > MAX_MEMORY_CHARS:
            raise UserError(f"a memory is at most {MAX_MEMORY_CHARS} characters ({len(text)} given); keep it to a preference or a fact")
        if scope not in ("user", "project"):
            raise UserError(f"memory scope must be 'user' or 'project', not {scope!r}")
        subject = subject or (current_user() if scope == "user" else current_project())
        created = time.time()
        with self._connect() as db:
            cursor = db.execute(
                "INSERT INTO memories (scope, subject, text, created) VALUES (?, ?, ?, ?)",
                (scope, subject, text, created),
            )
            memory_id = int(cursor.lastrowid or 0)
        return Memory(memory_id, scope, subject, text, created)

    def list(self, *, scope: MemoryKind | None = None, subject: str | None = None) -> Memories:
        """Memories in creation order, optionally only one scope and/or subject."""
        query = "SELECT id, scope, subject, text, created FROM memories"
        clauses: list[str] = []
        params: list[str] = []
        if scope is not None:
            clauses.append("scope = ?")
            params.append(scope)
        if subject is not None:
            clauses.append("subject = ?")
            params.append(subject)
        if clauses:
            query += " WHERE " + " AND ".join(clauses)
        with self._connect() as db:
            rows = db.execute(query + " ORDER BY id", params).fetchall()
        return [Memory(int(r[0]), r[1], str(r[2]), str(r[3]), float(r[4])) for r in rows]

    def for_scope(self, scope: MemoryScope) -> Memories:
        """The memories that apply to `scope`, in creation order."""
        pairs = scope.pairs()
        if not pairs:
            return []
        where = " OR ".join("(scope = ? AND subject = ?)" for _ in pairs)
        params = [value for pair in pairs for value in pair]
        with self._connect() as db:
            rows = db.execute(f"SELECT id, scope, subject, text, created FROM memories WHERE {where} ORDER BY id",
                              params).fetchall()
        return [Memory(int(r[0]), r[1], str(r[2]), str(r[3]), float(r[4])) for r in rows]

    def forget(self, memory_id: int) -> Memory:
        """Delete one memory by id and return it; UserError when there is none."""
        with self._connect() as db:
            row = db.execute("SELECT id, scope, subject, text, created FROM memories WHERE id = ?",
                             (memory_id,)).fetchone()
            if row is None:
                raise UserError(f"no memory with id {memory_id}; `agentkit memory list` shows the ids")
            db.execute("DELETE FROM memories WHERE id = ?", (memory_id,))
        return Memory(int(row[0]), row[1], str(row[2]), str(row[3]), float(row[4]))


def _words(text: str) -> set[str]:
    folded = unicodedata.normalize("NFKD", text.lower())
    folded = "".join(ch for ch in folded if not unicodedata.combining(ch))
    return {w[:6] for w in re.findall(r"[a-z0-9]+", folded) if len(w) > 1 and w not in _STOP}


def relevance(memories: Sequence[Memory], query: str) -> dict[int, float]:
    """Score each memory against the current request: shared words (stemmed to 6 letters), weighted by rarity
    among the memories, normalised by the memory's length; project memories get a small edge (more specific)."""
    query_words = _words(query)
    bags = {m.id: _words(m.text) for m in memories}
    document_frequency: dict[str, int] = {}
    for bag in bags.values():
        for word in bag:
            document_frequency[word] = document_frequency.get(word, 0) + 1
    total = max(1, len(memories))
    scores: dict[int, float] = {}
    for memory in memories:
        bag = bags[memory.id]
        shared = bag & query_words
        weight = sum(math.log(1 + total / document_frequency[w]) for w in shared)
        scores[memory.id] = weight / math.sqrt(max(1, len(bag))) + (0.05 if memory.scope == "project" else 0.0)
    return scores


def render_memories(memories: Sequence[Memory]) -> str:
    lines = [f"- {m.text}" + (" (project)" if m.scope == "project" else "") for m in memories]
    return (
        "Remembered preferences and facts (apply them unless the current request says otherwise):\n"
        + "\n".join(lines)
    )
