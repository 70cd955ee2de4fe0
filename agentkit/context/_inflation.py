"""Inflation warnings: content that costs many tokens for little meaning (the guide's "cas explosifs").

Raw JSON (repeated keys and punctuation), logs (timestamps and noise), HTML (tags and attributes),
SQL dumps and base64 blobs are detected by cheap patterns; each finding names its kind and a fix.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Literal

InflationKind = Literal["json", "logs", "html", "sql_dump", "base64"]

_ADVICE: dict[InflationKind, str] = {
    "json": "raw JSON: extract the fields that matter (keys repeat in every record)",
    "logs": "log lines: keep the relevant lines (errors, the traceback), not the whole log",
    "html": "HTML markup: convert to text (e.g. trafilatura) before sending it",
    "sql_dump": "SQL dump: send the schema or the few rows that matter",
    "base64": "base64 blob: binary data costs tokens and carries no meaning for the model; drop it",
}

_LOG_LINE = re.compile(
    r"^\s*(\[?\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}|\[?\d{2}:\d{2}:\d{2}|[A-Z][a-z]{2} +\d{1,2} \d{2}:\d{2}:\d{2}"
    r"|\[?(TRACE|DEBUG|INFO|WARN|WARNING|ERROR|CRITICAL|FATAL)\b)"
)
_HTML_TAG = re.compile(r"</?[a-zA-Z][a-zA-Z0-9-]*(\s[^<>]*)?/?>")
_SQL = re.compile(
    r"\bINSERT\s+INTO\b|\bCREATE\s+TABLE\b|\bCOPY\s+\S+.*\bFROM\s+stdin\b|^--\s*(MySQL|PostgreSQL|MariaDB)\s+dump",
    re.IGNORECASE | re.MULTILINE,
)
_BASE64 = re.compile(r"[A-Za-z0-9+/]{200,}={0,2}")
_JSON_KEY = re.compile(r'"[^"\n]{1,80}"\s*:')


@dataclass(frozen=True)
class Inflation:
    kind: InflationKind
    share: float  # fraction of the text that is inflated content, 0..1
    advice: str


def detect_inflation(text: str) -> list[Inflation]:
    """Kinds of inflated content found in `text` (empty when it reads as prose or code)."""
    found: list[Inflation] = []
    size = max(1, len(text))
    stripped = text.strip()
    if stripped[:1] in ("{", "[") and _is_json(stripped):
        found.append(Inflation("json", 1.0, _ADVICE["json"]))
    else:
        keys = _JSON_KEY.findall(text)
        punctuation = sum(text.count(c) for c in '{}[]":,')
        if len(keys) >= 8 and punctuation / size > 0.12:
            found.append(Inflation("json", min(1.0, punctuation / size * 4), _ADVICE["json"]))
    lines = [line for line in text.splitlines() if line.strip()]
    log_lines = sum(1 for line in lines if _LOG_LINE.match(line))
    if log_lines >= 5 and log_lines / max(1, len(lines)) >= 0.3:
        found.append(Inflation("logs", log_lines / len(lines), _ADVICE["logs"]))
    tags = _HTML_TAG.findall(text)
    tag_chars = sum(m.end() - m.start() for m in _HTML_TAG.finditer(text))
    if re.search(r"<!DOCTYPE html|<html[\s>]", text, re.IGNORECASE) or (len(tags) >= 10 and tag_chars / size > 0.2):
        found.append(Inflation("html", min(1.0, tag_chars / size), _ADVICE["html"]))
    statements = _SQL.findall(text)
    if len(statements) >= 3 or re.search(r"^--\s*(MySQL|PostgreSQL|MariaDB)\s+dump", text, re.I | re.M):
        found.append(Inflation("sql_dump", min(1.0, len(statements) / max(1, len(lines))), _ADVICE["sql_dump"]))
    blobs = sum(len(m) for m in _BASE64.findall(text))
    if blobs:
        found.append(Inflation("base64", blobs / size, _ADVICE["base64"]))
    return found


def _is_json(text: str) -> bool:
    try:
        value = json.loads(text)
    except ValueError:
        return False
    return isinstance(value, dict | list)
