"""Tool selection: which of the agent's tools a decision offers to the model.

A `ToolRule` says "tools whose name matches `pattern` serve `intent`, and are offered only when the request
asks for `level`" (read, write, send or destructive; "auto" uses the tool's own effect). Read-level tools of
every needed intent are always offered; a write tool only when the request asks to change something, a send
tool only when it asks to send, a destructive one only when it asks to delete. So "summarise my unread mail"
gets `search_mail` and `read_mail`, not `send_mail` or `delete_mail`.

The default map (`ToolMap.default()`) covers the built-in toolkits' tool names:

    calculation  calculate, convert_units, run_python
    file         read_file, list_dir, search_files | write: write_file, apply_patch | destructive: delete_file
    code         read_file, list_dir, search_files, run_python, run_tests | write: write_file, apply_patch
    web          web_search, web_fetch
    mail         search_mail, read_mail, list_drafts | write: draft_mail | send: send_mail | destructive: delete_mail
    calendar     list_events, free_busy | write: create_event, update_event | send: invite_to_event
                 | destructive: delete_event

plus name globs for tools of other origins (`*mail*`, `*event*`, `*calendar*`, `web_*`, `*search_web*`, ...),
offered according to their own effect. Override it with `ToolMap.default().with_rules(...)` (added rules win
for the intents they name when `replace=True`) or build a `ToolMap` from scratch. A tool no rule matches is
kept (`unmapped="keep"`, the default: the router never hides a tool it knows nothing about) or dropped.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Literal

from .._tools import Effect, Tool
from ._decision import Intent

Level = Effect | Literal["auto"]

CATALOGUE: dict[str, Effect] = {
    "calculate": "read", "convert_units": "read",
    "read_file": "read", "list_dir": "read", "search_files": "read", "write_file": "write", "apply_patch": "write",
    "delete_file": "destructive",
    "run_python": "read", "run_tests": "read",
    "web_search": "read", "web_fetch": "read",
    "search_mail": "read", "read_mail": "read", "list_drafts": "read", "draft_mail": "write", "send_mail": "send",
    "delete_mail": "destructive",
    "list_events": "read", "free_busy": "read", "create_event": "write", "update_event": "write",
    "invite_to_event": "send", "delete_event": "destructive",
}
"""The built-in toolkits' tool names and effects: what the router plans against when no tools are given."""


@dataclass(frozen=True)
class ToolRule:
    intent: Intent
    pattern: str
    level: Level = "auto"

    def matches(self, name: str) -> bool:
        return fnmatchcase(name, self.pattern)


def _rules(intent: Intent, level: Level, *patterns: str) -> list[ToolRule]:
    return [ToolRule(intent, p, level) for p in patterns]


_DEFAULT_RULES: tuple[ToolRule, ...] = (
    *_rules("calculation", "read", "calculate", "convert_units", "run_python"),
    *_rules("calculation", "auto", "calc*", "*convert*"),
    *_rules("file", "read", "read_file", "list_dir", "search_files"),
    *_rules("file", "write", "write_file", "apply_patch"),
    *_rules("file", "destructive", "delete_file"),
    *_rules("file", "auto", "*_file", "*_files", "*_dir", "*_directory"),
    *_rules("code", "read", "read_file", "list_dir", "search_files", "run_python", "run_tests"),
    *_rules("code", "write", "write_file", "apply_patch"),
    *_rules("code", "auto", "run_*", "*_code", "lint*"),
    *_rules("web", "read", "web_search", "web_fetch"),
    *_rules("web", "auto", "web_*", "*search_web*", "*fetch_url*", "*browse*"),
    *_rules("mail", "read", "search_mail", "read_mail", "list_drafts"),
    *_rules("mail", "write", "draft_mail"),
    *_rules("mail", "send", "send_mail"),
    *_rules("mail", "destructive", "delete_mail"),
    *_rules("mail", "auto", "*mail*", "*email*", "*inbox*", "*draft*"),
    *_rules("calendar", "read", "list_events", "free_busy"),
    *_rules("calendar", "write", "create_event", "update_event"),
    *_rules("calendar", "send", "invite_to_event"),
    *_rules("calendar", "destructive", "delete_event"),
    *_rules("calendar", "auto", "*event*", "*calendar*", "*meeting*", "*free_busy*"),
)


class ToolMap:
    """Intent -> tool rules, and the selection of tools for one decision."""

    def __init__(
        self, rules: Iterable[ToolRule], *, unmapped: Literal["keep", "drop"] = "keep",
        retired: Iterable[ToolRule] = (),
    ) -> None:
        self.rules: tuple[ToolRule, ...] = tuple(rules)
        self.retired: tuple[ToolRule, ...] = tuple(retired)  # replaced rules: their tools are known, serve nothing
        self.unmapped: Literal["keep", "drop"] = unmapped
        self._serving: dict[tuple[str, Effect], dict[Intent, Effect]] = {}

    @classmethod
    def default(cls, *, unmapped: Literal["keep", "drop"] = "keep") -> ToolMap:
        return cls(_DEFAULT_RULES, unmapped=unmapped)

    def with_rules(self, *rules: ToolRule, replace: bool = False) -> ToolMap:
        """A copy with `rules` consulted first; `replace=True` drops the old rules of the intents they name
        (the tools those rules matched are then offered for no intent, rather than treated as unknown)."""
        kept, retired = self.rules, self.retired
        if replace:
            named = {r.intent for r in rules}
            kept = tuple(r for r in self.rules if r.intent not in named)
            retired = (*retired, *(r for r in self.rules if r.intent in named))
        return ToolMap((*rules, *kept), unmapped=self.unmapped, retired=retired)

    def _level(self, rule: ToolRule, effect: Effect) -> Effect:
        return effect if rule.level == "auto" else rule.level

    def is_mapped(self, name: str) -> bool:
        return any(r.matches(name) for r in (*self.rules, *self.retired))

    def serving(self, name: str, effect: Effect) -> dict[Intent, Effect]:
        """The intents a tool serves, each with the action level it needs (first matching rule per intent)."""
        key = (name, effect)
        if key not in self._serving:
            found: dict[Intent, Effect] = {}
            for rule in self.rules:
                if rule.intent not in found and rule.matches(name):
                    found[rule.intent] = self._level(rule, effect)
            self._serving[key] = found
        return self._serving[key]

    def select(
        self, intents: Sequence[Intent], actions: Iterable[Effect], tools: Sequence[Tool] | None,
    ) -> list[str]:
        """Names of the tools to offer, in the agent's order; without tools, names from the built-in catalogue."""
        allowed: set[Effect] = {"read", *actions}
        if "send" in allowed:
            allowed.add("write")  # a reply may need a draft first
        candidates = [(t.name, t.effect) for t in tools] if tools is not None else list(CATALOGUE.items())
        chosen: list[str] = []
        for name, effect in candidates:
            serving = self.serving(name, effect)
            if not serving:
                if self.unmapped == "keep" and tools is not None and not self.is_mapped(name):
                    chosen.append(name)
                continue
            if any(intent in serving and serving[intent] in allowed for intent in intents):
                chosen.append(name)
        return chosen

    def serves(self, name: str, effect: Effect, intent: Intent) -> bool:
        return intent in self.serving(name, effect)
