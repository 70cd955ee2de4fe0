"""E-mail address checks shared by the mail and calendar toolkits.

Recipients come from a model, so each one is checked before anything is drafted or invited, and a bad one
goes back as a correction that says which address failed and what a valid one looks like.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from email.utils import getaddresses

from .._errors import ModelRetry

# Pragmatic addr-spec: a dot-atom local part and a dotted domain of LDH labels (RFC 5321 limits).
_LOCAL = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_ADDRESS = re.compile(rf"{_LOCAL}@(?:{_LABEL}\.)+[A-Za-z]{{2,63}}")
# Every character str.splitlines() breaks on: the email package refuses them all in a header value.
_LINE_BREAK = re.compile("[\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")
_SPECIALS = re.compile(r'[()<>\[\]:;@\\,."]')  # RFC 5322: a display name holding one of these is quoted


def has_line_break(text: str) -> bool:
    return _LINE_BREAK.search(text) is not None


def display_address(name: str, address: str) -> str:
    """'Name <addr>' as a person writes it: the name quoted only where it must be ('"Doe, J" <j@y.org>'),
    accents kept as they are (formataddr would turn them into =?utf-8?...?= words)."""
    if not name:
        return address
    if _SPECIALS.search(name):
        name = '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return f"{name} <{address}>"


def is_address(text: str) -> bool:
    return len(text) <= 254 and _ADDRESS.fullmatch(text) is not None


def split_recipients(value: str | Sequence[str]) -> list[str]:
    """A list from either a list or one comma-separated string ('a@x.org, "Doe, J" <j@y.org>')."""
    items = [value] if isinstance(value, str) else list(value)
    out: list[str] = []
    for item in items:
        if has_line_break(item):
            raise ModelRetry(f"Recipient {item!r} contains a line break; give one address per list item.")
        for name, address in getaddresses([item]):
            if not name and not address:
                continue
            out.append(display_address(name, address))
    return out


def validate_recipients(value: str | Sequence[str], *, argument: str, required: bool = True) -> list[str]:
    """Normalized 'Name <addr>' or 'addr' strings; ModelRetry naming each invalid one."""
    recipients = split_recipients(value)
    if required and not recipients:
        raise ModelRetry(f"{argument} needs at least one e-mail address, like 'ana@example.org'.")
    bad = [r for r in recipients if not is_address(getaddresses([r])[0][1])]
    if bad:
        shown = ", ".join(repr(b) for b in bad)
        raise ModelRetry(
            f"Invalid e-mail address in {argument}: {shown}. Use full addresses like 'ana@example.org' "
            "or 'Ana Lima <ana@example.org>'; do not invent addresses the user did not give."
        )
    seen: set[str] = set()
    unique = []
    for recipient in recipients:
        key = getaddresses([recipient])[0][1].lower()
        if key not in seen:
            seen.add(key)
            unique.append(recipient)
    return unique


def bare_address(recipient: str) -> str:
    """'Ana <ana@example.org>' -> 'ana@example.org'."""
    return getaddresses([recipient])[0][1]
