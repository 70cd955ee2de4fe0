"""Secret detection and redaction: whole texts, nested data, and streamed text split at any point.

Covered: AWS access key ids, GitHub / OpenAI / Anthropic / Slack / Google / Stripe tokens, JWTs, PEM private
key blocks, `Authorization: Bearer ...`, passwords inside URLs, and `password=` / `api_key: ...` style
assignments (English and French keywords). A match becomes `[REDACTED:<kind>]`.

The streaming filter holds back only what could still turn into a secret: the word being written (secrets
are unbroken runs of characters), a keyword still waiting for its value (`password: `), or an open
`-----BEGIN ... PRIVATE KEY-----` block until its END line. Everything before that is released at once.

Tool results: `redact_tool_output(tool)` masks secrets in what a tool returns before the model reads it. The
model never needs a raw credential to do its work, and a secret it never saw cannot be sent anywhere by an
injected instruction, so the policy packs recommend it for every toolkit that reads files, mail or the web.
"""

from __future__ import annotations

import copy
import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .._tools import Tool, ToolReturn, render_result


@dataclass(frozen=True)
class SecretPattern:
    kind: str
    regex: re.Pattern[str]
    group: int = 0  # the group that is the secret (0: the whole match)


_KEYWORDS = (
    r"password|passwd|passphrase|pwd|secret|client[_-]?secret|api[ _-]?key|apikey|secret[_-]?key|private[_-]?key|"
    r"access[_-]?key(?:[_-]?id)?|(?:access|auth|api|refresh|session|bearer|secret|id)[_-]?token|"
    r"mot[ _-]de[ _-]passe|mdp|cl[ée][ _-](?:d['’]api|secr[èe]te|priv[ée]e)|jeton(?:[ _-]d['’]acc[èe]s)?"
)

PATTERNS: tuple[SecretPattern, ...] = (
    SecretPattern("private_key", re.compile(
        r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----.*?-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----",
        re.DOTALL)),
    SecretPattern("aws_access_key", re.compile(r"\b(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AROA)[0-9A-Z]{16}\b")),
    SecretPattern("github_token", re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255})")),
    SecretPattern("anthropic_key", re.compile(r"\bsk-ant-[A-Za-z0-9_\-]{20,}")),
    SecretPattern("openai_key", re.compile(r"\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_\-]{20,}")),
    SecretPattern("slack_token", re.compile(r"\bxox[abposr]-[A-Za-z0-9\-]{10,}")),
    SecretPattern("slack_webhook", re.compile(r"https://hooks\.slack\.com/services/[A-Za-z0-9/_\-]{20,}")),
    SecretPattern("google_api_key", re.compile(r"\bAIza[0-9A-Za-z_\-]{35}")),
    SecretPattern("stripe_key", re.compile(r"\b(?:sk|rk)_(?:live|test)_[0-9A-Za-z]{16,}")),
    SecretPattern("jwt", re.compile(r"\beyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}")),
    SecretPattern("bearer_token", re.compile(r"(?i)\b(?:authorization\s*:\s*)?bearer\s+([A-Za-z0-9_\-.~+/=]{12,})"), 1),
    SecretPattern("url_password", re.compile(r"\b[a-z][a-z0-9+.\-]*://[^\s:/@]+:([^\s@/]{3,})@"), 1),
    # config style (password=..., "api_key" => ...): the whole value, punctuation included
    SecretPattern("password", re.compile(
        rf"(?i)(?<![A-Za-z0-9])(?:{_KEYWORDS})[\"']?\s*(?:=>|=)\s*[\"']?([^\s\"'<>,;]{{6,}})"), 1),
    # "password: hunter2." may end a sentence: a final . ! ? ) is left out
    SecretPattern("password", re.compile(
        rf"(?i)(?<![A-Za-z0-9])(?:{_KEYWORDS})[\"']?\s*:\s*[\"']?([^\s\"'<>,;]{{5,}}[^\s\"'<>,;.!?)])"), 1),
    # "my password is hunter2": prose, so the value must look like a secret (a digit in it)
    SecretPattern("password", re.compile(
        rf"(?i)(?<![A-Za-z0-9])(?:{_KEYWORDS})\s+(?:is|est)\s+[\"']?((?=[^\s\"'<>,;]*\d)[^\s\"'<>,;]{{5,}}[^\s\"'<>,;.!?)])"), 1),
)

# A keyword whose value has not arrived yet ("password: "), or a word that may still grow into a token.
_PENDING_KEYWORD = re.compile(
    rf"(?i)(?<![A-Za-z0-9])(?:(?:{_KEYWORDS})[\"']?\s*(?:[:=]|=>|\bis\b|\best\b)?\s*[\"']?|"
    r"(?:authorization\s*:\s*)?bearer\s*)$"
)
# Keywords of several words: a delta may end inside one ("mot de pa"), so its start is held back too.
_MULTI_WORD_KEYWORDS = ("mot de passe", "clé d'api", "cle d'api", "clé secrète", "cle secrete", "clé privée",
                        "cle privee", "jeton d'accès", "jeton d'acces", "access key id", "client secret")
# A text ending inside one of them ("... mot de pa") holds back from where the keyword starts. Only prefixes
# that reach past the keyword's first space matter: a lone last word is held back anyway.
_MULTI_WORD_PREFIX = re.compile(
    r"(?i)(?<![a-z0-9])(?:"
    + "|".join(sorted({re.escape(k[:n]) for k in _MULTI_WORD_KEYWORDS for n in range(k.index(" ") + 1, len(k))},
                      key=len, reverse=True))
    + r")\Z"
)
_OPEN_KEY_BLOCK = re.compile(r"-----BEGIN(?: [A-Z0-9 ]*)?(?:-{0,5})$|-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY")
_KEY_END = re.compile(r"-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----")


# Every pattern above starts with one of these: texts without any are skipped in one search.
_MAYBE = re.compile(
    rf"(?i)AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AROA|gh[pousr]_|github_pat_|sk-|xox|AIza|[sr]k_(?:live|test)|eyJ|bearer|://|"
    rf"-----BEGIN|{_KEYWORDS}"
)


def find_secrets(text: str) -> list[tuple[str, int, int]]:
    """(kind, start, end) of every secret in `text`, non-overlapping, in order."""
    if not _MAYBE.search(text):
        return []
    spans: list[tuple[str, int, int]] = []
    for pattern in PATTERNS:
        for match in pattern.regex.finditer(text):
            start, end = match.span(pattern.group)
            if start < 0 or any(s < end and start < e for _, s, e in spans):
                continue
            spans.append((pattern.kind, start, end))
    return sorted(spans, key=lambda span: span[1])


def redact_text(text: str) -> str:
    """`text` with every secret replaced by `[REDACTED:<kind>]`."""
    spans = find_secrets(text)
    if not spans:
        return text
    out: list[str] = []
    cursor = 0
    for kind, start, end in spans:
        out.append(text[cursor:start])
        out.append(f"[REDACTED:{kind}]")
        cursor = end
    out.append(text[cursor:])
    return "".join(out)


def contains_secret(text: str) -> bool:
    return bool(find_secrets(text))


def redact_value(value: Any) -> Any:
    """Redact every string inside nested dicts, lists and tuples (for audit records and tool results)."""
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {k: redact_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_value(v) for v in value]
    return value


class SecretRedactor:
    """A `StreamFilter`: feed text deltas in, get redacted text out; `flush()` at the end of the response.

    `max_hold` bounds how much is held back: a single unbroken run longer than that is redacted and released
    as is (a private key block is the exception: it is swallowed until its END line, failing closed).
    """

    def __init__(self, *, max_hold: int = 8192) -> None:
        self.max_hold = max_hold
        self._buffer = ""
        self._in_key_block = False

    def feed(self, text: str) -> str:
        self._buffer += text
        out: list[str] = []
        if self._in_key_block:
            end = _KEY_END.search(self._buffer)
            if end is None:
                self._buffer = self._buffer[-64:]  # keep enough to see the END marker arrive
                return ""
            self._buffer = self._buffer[end.end():]
            self._in_key_block = False
        hold = self._hold_index(self._buffer)
        if hold == 0 and len(self._buffer) > self.max_hold:
            block = _OPEN_KEY_BLOCK.search(self._buffer)
            if block is not None and block.start() == 0:
                self._in_key_block = True
                self._buffer = self._buffer[-64:]
                return "[REDACTED:private_key]"
            hold = len(self._buffer)
        out.append(redact_text(self._buffer[:hold]))
        self._buffer = self._buffer[hold:]
        return "".join(out)

    def flush(self) -> str:
        if self._in_key_block:
            self._buffer, self._in_key_block = "", False
            return ""
        rest = self._buffer
        self._buffer = ""
        block = _OPEN_KEY_BLOCK.search(rest)
        if block is not None and _KEY_END.search(rest, block.start()) is None:  # unterminated: fail closed
            return redact_text(rest[: block.start()]) + "[REDACTED:private_key]"
        return redact_text(rest)

    @staticmethod
    def _hold_index(buffer: str) -> int:
        hold = len(buffer)
        if buffer and not buffer[-1].isspace():  # the word being written may still become a token
            hold = len(buffer) - len(re.split(r"\s", buffer)[-1])
        pending = _PENDING_KEYWORD.search(buffer, 0, hold)  # a keyword stays with the value it waits for
        if pending is not None:
            hold = pending.start()
        start = max(0, hold - 24)
        partial = _MULTI_WORD_PREFIX.search(buffer[start:hold])
        if partial is not None:
            hold = start + partial.start()
        for block in _OPEN_KEY_BLOCK.finditer(buffer):
            if _KEY_END.search(buffer, block.start()) is None:
                hold = min(hold, block.start())
                break
        for _, start, end in find_secrets(buffer):
            if start < hold < end:
                hold = min(hold, start)
        return hold


def _redacted(value: Any) -> ToolReturn:
    """The text redacted; what the tool vouched for is kept (addresses, not secrets)."""
    vouched = value.vouched if isinstance(value, ToolReturn) else ()
    return ToolReturn(redact_text(render_result(value)), vouched=vouched)


def redact_tool_output(tool: Tool) -> Tool:
    """A copy of `tool` whose result is rendered to text and redacted before the model reads it."""
    wrapped = copy.copy(tool)
    original: Callable[..., Any] = tool.function
    if inspect.iscoroutinefunction(original):

        async def run_async(*args: Any, **kwargs: Any) -> ToolReturn:
            return _redacted(await original(*args, **kwargs))

        wrapped.function = run_async
    else:

        def run(*args: Any, **kwargs: Any) -> ToolReturn:
            return _redacted(original(*args, **kwargs))

        wrapped.function = run
    return wrapped
