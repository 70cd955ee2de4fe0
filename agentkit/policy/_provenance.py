"""Where did each argument of a proposed call come from? Data flow, not intent.

A value is
- `trusted` when it appears in the system or user messages (the request itself), in a tool result the tool
  declared trusted (`output_provenance="trusted"`, e.g. your own address book), or in a configured trusted
  list (values, email domains, URL hosts, path globs);
- `vouched` when a tool vouched for it (`ToolReturn.vouched`: a value the account owner chose, kept in a
  structured field no content author writes, e.g. a person on the ACL of your own file) and nothing trusted
  names it. Weaker than trusted: it says the owner works with this person, not that this request named them;
- `untrusted` when it appears only in untrusted content: tool results (web pages, files, mail, calendar),
  failed tool calls, and the loop's own corrections that quote the model;
- `unknown` when it appears nowhere: the model made it up or transformed it.
The model's own messages are never a source: a value does not become trusted because the model repeated it.

Matching normalises case, whitespace, `mailto:` and `Name <addr>` and respects token boundaries (b@corp.com
is not found inside bob@corp.com). Values shorter than `min_length` (ids such as '13') are ambiguous in prose,
so they count only where they appear quoted ('13', "13", `13`).
"""

from __future__ import annotations

import fnmatch
import os
import posixpath
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from .._messages import AssistantMessage, Message, SystemMessage, ToolResultMessage, UserMessage
from ._pack import Level, TrustedLists

_EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)+")
_URL = re.compile(r"(?:\b[a-z][a-z0-9+.\-]*://|\bwww\.)[^\s<>\"'`\]\[{}|\\^]+", re.IGNORECASE)
_TRAILING = ".,;:!?)'\"”’"
_QUOTES_OPEN = "'\"`‘“«"
_QUOTES_CLOSE = "'\"`’”»"


@dataclass(frozen=True)
class ValueProvenance:
    path: str  # where in the arguments, e.g. "recipients[0]"
    value: str
    level: Level
    source: str  # "user message", "trusted list", "tool result of read_mail", "nowhere"

    def describe(self) -> str:
        shown = self.value if len(self.value) <= 60 else self.value[:57] + "..."
        where = {"trusted": "from", "vouched": "by", "untrusted": "only in", "unknown": "found"}[self.level]
        return f"{self.path}={shown!r} is {self.level} ({where} {self.source})"


# `Name <addr>` with a plain or quoted name: an unquoted name holding `@ , ; :` is another address or a list
# ("x@evil.com, Emma <emma@corp.com>"), which mail libraries split; it must not pass as its last address.
_NAMED_ADDRESS = re.compile(r'(?:"(?:[^"\\]|\\.)*"|[^<>"@,;:]*)\s*<([^<>@\s]+@[^<>\s]+)>')


def normalise(value: str) -> str:
    text = " ".join(value.split()).casefold()
    angle = _NAMED_ADDRESS.fullmatch(text)
    if angle:
        text = angle.group(1)
    if text.startswith("mailto:"):
        text = text[len("mailto:"):]
    return text.strip(" \t'\"`")


def email_domain(value: str) -> str | None:
    text = normalise(value)
    if text.count("@") != 1 or not _EMAIL.fullmatch(text):
        return None
    return text.rsplit("@", 1)[1].rstrip(".")


def url_host(value: str) -> str | None:
    text = value.strip()
    if text.lower().startswith("www."):
        text = "http://" + text
    try:
        parts = urlsplit(text)
    except ValueError:
        return None
    if not parts.scheme or not parts.netloc:
        return None
    return (parts.hostname or "").rstrip(".").lower() or None


def domain_matches(domain: str, patterns: Iterable[str]) -> bool:
    """`corp.com` matches corp.com and any subdomain; `*.corp.com` only subdomains; globs allowed."""
    for pattern in patterns:
        p = pattern.lower().lstrip("@")
        if p.startswith("*."):
            if domain.endswith(p[1:]):
                return True
        elif domain == p or domain.endswith("." + p) or fnmatch.fnmatchcase(domain, p):
            return True
    return False


def _glob_regex(pattern: str) -> re.Pattern[str]:
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("/**", i) and i + 3 == len(pattern):
            out, i = out + "(?:/.*)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out + r"\Z")


def normalise_path(value: str) -> str:
    text = os.path.expanduser(value.strip())
    collapsed = posixpath.normpath(text) if text else text
    if collapsed.startswith("//"):  # POSIX keeps exactly two leading slashes; Linux reads them as one
        collapsed = collapsed[1:]
    return collapsed[2:] if collapsed.startswith("./") else collapsed


def path_matches(value: str, patterns: Iterable[str]) -> bool:
    """Glob match after normalising (`~` expanded, `a/../b` collapsed): `**` crosses folders, `*` does not."""
    path = normalise_path(value)
    return any(_glob_regex(normalise_path(p) if not p.startswith("**") else p).match(path) for p in patterns)


def extract_urls(text: str) -> list[str]:
    return [m.group(0).rstrip(_TRAILING) for m in _URL.finditer(text)]


def extract_emails(text: str) -> list[str]:
    return [m.group(0).rstrip(".") for m in _EMAIL.finditer(text)]


def flatten_arguments(arguments: Any, prefix: str = "", display: str = "") -> Iterator[tuple[str, str, Any]]:
    """(match path, display path, leaf): list indexes are dropped from the match path ('to' for to[1])."""
    if isinstance(arguments, dict):
        for key, value in arguments.items():
            yield from flatten_arguments(value, f"{prefix}.{key}" if prefix else str(key),
                                         f"{display}.{key}" if display else str(key))
    elif isinstance(arguments, list | tuple):
        for index, value in enumerate(arguments):
            yield from flatten_arguments(value, prefix, f"{display}[{index}]")
    elif arguments is not None and not isinstance(arguments, bool):
        yield prefix, display, arguments


@dataclass(frozen=True)
class _Source:
    text: str
    label: str
    trusted: bool


class ProvenanceIndex:
    """The sources of one decision: built from the run's messages and the pack's trusted lists."""

    def __init__(
        self, messages: Sequence[Message], *, trusted: TrustedLists | None = None, extra_trusted: Iterable[str] = (),
        min_length: int = 4,
    ) -> None:
        self.trusted_lists = trusted or TrustedLists()
        self.trusted_values = {normalise(v) for v in [*self.trusted_lists.values, *extra_trusted] if v.strip()}
        self.min_length = min_length
        self.sources: list[_Source] = []
        self.vouched: dict[str, str] = {}  # normalised value -> the tool that vouched for it
        user_turns = 0
        for message in messages:
            if isinstance(message, AssistantMessage):
                continue  # the model's words are never a source
            if isinstance(message, SystemMessage):
                label, trusted_source = "system message", message.provenance == "trusted"
            elif isinstance(message, UserMessage):
                if message.kind == "correction":  # written by the loop, quoting the model: not the user's word
                    label, trusted_source = "a loop correction", False
                else:
                    user_turns += 1
                    label = "user message" if user_turns == 1 else f"user message #{user_turns}"
                    trusted_source = message.provenance == "trusted"
            elif isinstance(message, ToolResultMessage):
                trusted_source = message.provenance == "trusted" and not message.is_error
                label = f"tool result of {message.name}" if not message.is_error else f"error report of {message.name}"
                if not message.is_error:
                    for value in message.vouched:
                        self.vouched.setdefault(normalise(value), f"{message.name} (a field its owner chose)")
            else:  # pragma: no cover - Message is a closed union
                continue
            self.sources.append(_Source(" ".join(message.content.split()).casefold(), label, trusted_source))

    def _pattern(self, value: str) -> re.Pattern[str]:
        body = re.escape(value)
        if len(value) < self.min_length:
            return re.compile(f"[{re.escape(_QUOTES_OPEN)}]{body}[{re.escape(_QUOTES_CLOSE)}]")
        before = r"(?<![\w.+\-@])" if re.match(r"[\w]", value) else ""
        after = r"(?![\w@]|[.\-][\w])" if re.search(r"[\w]\Z", value) else ""
        return re.compile(before + body + after)

    def in_trusted_list(self, value: str) -> bool:
        text = normalise(value)
        if text in self.trusted_values:
            return True
        lists = self.trusted_lists
        domain = email_domain(text)
        if domain is not None and lists.email_domains and domain_matches(domain, lists.email_domains):
            return True
        host = url_host(value)
        if host is not None and lists.url_hosts and domain_matches(host, lists.url_hosts):
            return True
        return bool(lists.paths) and domain is None and host is None and path_matches(value, lists.paths)

    def classify(self, value: Any, *, path: str = "") -> ValueProvenance:
        raw = str(value)
        text = normalise(raw)
        if not text:
            return ValueProvenance(path, raw, "unknown", "nowhere (empty)")
        if self.in_trusted_list(raw):
            return ValueProvenance(path, raw, "trusted", "trusted list")
        pattern = self._pattern(text)
        untrusted_label: str | None = None
        for source in self.sources:
            if text not in source.text:  # cheap test first; the pattern then checks token boundaries
                continue
            if source.trusted:
                if pattern.search(source.text):
                    return ValueProvenance(path, raw, "trusted", source.label)
            elif untrusted_label is None and pattern.search(source.text):
                untrusted_label = source.label
        if text in self.vouched:  # an exact field value: the same text inside content proves nothing more
            return ValueProvenance(path, raw, "vouched", self.vouched[text])
        if untrusted_label is not None:
            return ValueProvenance(path, raw, "untrusted", untrusted_label)
        where = "nowhere in the request, trusted lists or tool results"
        if len(text) < self.min_length:
            where += f" (values shorter than {self.min_length} characters count only where quoted)"
        return ValueProvenance(path, raw, "unknown", where)
