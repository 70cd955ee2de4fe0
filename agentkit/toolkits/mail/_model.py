"""What every mail backend speaks: summaries, full messages, drafts, and the `MailBackend` protocol.

Messages are parsed with the stdlib `email` package whatever the store (Maildir, IMAP, Gmail raw), so the
same bytes give the same text everywhere. A draft has a digest of exactly what would be sent (sender,
recipients, subject, body): the handle the model uses to send it carries that digest, so an approval given
after seeing a draft can never send a different one.
"""

from __future__ import annotations

import hashlib
import json
import re
import shlex
from dataclasses import dataclass, field
from datetime import datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import formatdate, getaddresses, make_msgid, parsedate_to_datetime
from html.parser import HTMLParser
from typing import Protocol, runtime_checkable

from .._addresses import display_address


class MailError(RuntimeError):
    """A mail backend failed (server down, login refused, store unreadable); the message says why."""


class MailNotFoundError(MailError):
    """No message or draft has the given id."""


@dataclass(frozen=True)
class MailSummary:
    id: str
    folder: str
    sender: str
    to: tuple[str, ...]
    subject: str
    date: str | None
    snippet: str
    unread: bool | None = None
    refused: tuple[str, ...] = ()
    unfiled: str | None = None  # sent, but filing it went wrong: what happened (the send is not to be repeated)


@dataclass(frozen=True)
class MailMessage:
    id: str
    folder: str
    sender: str
    to: tuple[str, ...]
    cc: tuple[str, ...]
    subject: str
    date: str | None
    body: str
    attachments: tuple[str, ...] = ()
    message_id: str | None = None

    def summary(
        self, *, snippet_chars: int = 160, unread: bool | None = None, refused: tuple[str, ...] = (),
        unfiled: str | None = None,
    ) -> MailSummary:
        """The listing line for this message; `unread`, `refused`, `unfiled` are what the store knows besides."""
        return MailSummary(
            self.id, self.folder, self.sender, self.to, self.subject, self.date,
            snippet(self.body, chars=snippet_chars), unread=unread, refused=refused, unfiled=unfiled,
        )


def snippet(body: str, *, chars: int = 160) -> str:
    """The start of a body on one line, as listings show it."""
    return " ".join(body.split())[:chars]


@dataclass(frozen=True)
class Draft:
    """A saved draft. `handle` (id + digest) is what send_mail takes."""

    id: str
    sender: str
    to: tuple[str, ...]
    cc: tuple[str, ...] = ()
    bcc: tuple[str, ...] = ()
    subject: str = ""
    body: str = ""

    def digest(self) -> str:
        """Covers who sends, who receives (each list), the subject and the body text, in a form that survives
        a store re-encoding the message (display names, header folding, transfer encoding, line ends)."""

        def bare(items: tuple[str, ...]) -> list[str]:
            return [address.lower() for _, address in getaddresses(list(items)) if address]

        body = "\n".join(line.rstrip() for line in normalize_body(self.body).split("\n"))
        content = [bare((self.sender,)), bare(self.to), bare(self.cc), bare(self.bcc), " ".join(self.subject.split()),
                   body]
        return hashlib.sha256(json.dumps(content, ensure_ascii=False).encode()).hexdigest()[:16]

    @property
    def handle(self) -> str:
        return f"{self.id}#{self.digest()}"

    @property
    def recipients(self) -> list[str]:
        return [address for _, address in getaddresses([*self.to, *self.cc, *self.bcc]) if address]

    def render(self) -> str:
        lines = [f"From: {self.sender}", f"To: {', '.join(self.to)}"]
        if self.cc:
            lines.append(f"Cc: {', '.join(self.cc)}")
        if self.bcc:
            lines.append(f"Bcc: {', '.join(self.bcc)}")
        lines.append(f"Subject: {self.subject}")
        return "\n".join(lines) + "\n\n" + normalize_body(self.body)


def split_handle(handle: str) -> tuple[str, str | None]:
    """'<id>#<digest>' -> (id, digest); a bare id gives (id, None)."""
    draft_id, sep, digest = handle.rpartition("#")
    if not sep or not re.fullmatch(r"[0-9a-f]{16}", digest):
        return handle, None
    return draft_id, digest


@runtime_checkable
class MailBackend(Protocol):
    """A mail store with drafts and a way to send them. Ids are opaque strings the backend hands out."""

    @property
    def description(self) -> str:
        """One line naming the store, shown in previews ("Maildir ~/Mail", "IMAP imap.example.org")."""
        ...

    @property
    def from_address(self) -> str:
        """The sender of new drafts; a MailError when the configuration does not say."""
        ...

    @property
    def transport(self) -> str:
        """How send_draft delivers ("SMTP smtp.example.org:587 (starttls)", "Gmail API"), for previews."""
        ...

    @property
    def permanent_delete(self) -> bool: ...

    @property
    def sent_folder(self) -> str:
        """Where sent mail is filed. Only the account's own client files mail there, so the recipients of
        those messages are people the owner chose (the tools vouch for them; see agentkit.ToolReturn)."""
        ...

    def search(self, query: str, limit: int) -> list[MailSummary]: ...

    def read(self, message_id: str) -> MailMessage: ...

    def create_draft(self, draft: Draft) -> Draft:
        """Store `draft` (its id is ignored) and return it as stored, with its new id."""
        ...

    def list_drafts(self, limit: int) -> list[Draft]: ...

    def get_draft(self, draft_id: str) -> Draft: ...

    def send_draft(self, draft_id: str) -> MailSummary:
        """Send the stored draft as it is and file it as sent; returns the sent message. Once the message has
        gone out, a failure to file it is reported in `unfiled`, never raised: a retry would send it twice."""
        ...

    def delete(self, message_id: str) -> None:
        """Move to the trash, or remove for good when `permanent_delete` is set."""
        ...


# -- parsing -----------------------------------------------------------------------------------------------
class _TextExtractor(HTMLParser):
    _SKIP = frozenset({"script", "style", "head", "title"})
    _BREAK = frozenset({"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "table", "blockquote"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIP:
            self._skipping += 1
        elif tag in self._BREAK:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP and self._skipping:
            self._skipping -= 1
        elif tag in self._BREAK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    extractor = _TextExtractor()
    extractor.feed(html)
    extractor.close()
    lines = [" ".join(line.split()) for line in "".join(extractor.parts).splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def normalize_body(body: str) -> str:
    return body.replace("\r\n", "\n").replace("\r", "\n").rstrip("\n")


def parse_bytes(raw: bytes) -> EmailMessage:
    message = BytesParser(policy=policy.default).parsebytes(raw)
    assert isinstance(message, EmailMessage)
    return message


def _header(message: EmailMessage, name: str) -> str:
    try:
        value = message.get(name)
    except (ValueError, IndexError, TypeError):  # a header too broken to parse still must not stop a listing
        raw = message.get_all(name, failobj=[])
        value = raw[0] if raw else None
    return " ".join(str(value).split()) if value is not None else ""


def _addresses(message: EmailMessage, name: str) -> tuple[str, ...]:
    return split_addresses(*(str(v) for v in message.get_all(name, failobj=[])))


def split_addresses(*values: str) -> tuple[str, ...]:
    """Header values -> 'Name <addr>' / 'addr' strings, one per address (a name with a comma stays quoted, so
    the string can be given back as a recipient)."""
    out = []
    for display, address in getaddresses(list(values)):
        if address:
            out.append(display_address(" ".join(display.split()), address))
    return tuple(out)


def body_text(message: EmailMessage) -> tuple[str, tuple[str, ...]]:
    """The readable text (plain preferred, HTML converted) and the names of attachments."""
    attachments = tuple(
        part.get_filename() or part.get_content_type() for part in message.iter_attachments()
    ) if message.is_multipart() else ()
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        return "", attachments
    try:
        content = part.get_content()
    except (LookupError, ValueError, AssertionError):  # unknown charset or broken encoding: keep what decodes
        payload = part.get_payload(decode=True)
        content = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
    text = content if isinstance(content, str) else ""
    if part.get_content_type() == "text/html":
        text = html_to_text(text)
    return normalize_body(text), attachments


def iso_date(message: EmailMessage) -> str | None:
    return parse_date(_header(message, "Date"))


def parse_date(raw: str | None) -> str | None:
    """An RFC 5322 Date header as ISO 8601 (kept as given when it does not parse)."""
    if not raw:
        return None
    try:
        return parsedate_to_datetime(raw).isoformat()
    except (TypeError, ValueError, IndexError):
        return raw


def sort_key(date: str | None) -> float:
    if not date:
        return 0.0
    try:
        return datetime.fromisoformat(date).timestamp()
    except ValueError:
        return 0.0


def to_message(message_id: str, folder: str, message: EmailMessage) -> MailMessage:
    body, attachments = body_text(message)
    return MailMessage(
        id=message_id, folder=folder, sender=_header(message, "From"), to=_addresses(message, "To"),
        cc=_addresses(message, "Cc"), subject=_header(message, "Subject"), date=iso_date(message), body=body,
        attachments=attachments, message_id=_header(message, "Message-ID") or None,
    )


def to_draft(draft_id: str, message: EmailMessage) -> Draft:
    body, _ = body_text(message)
    return Draft(
        id=draft_id, sender=_header(message, "From"), to=_addresses(message, "To"), cc=_addresses(message, "Cc"),
        bcc=_addresses(message, "Bcc"), subject=_header(message, "Subject"), body=body,
    )


def compose(draft: Draft) -> EmailMessage:
    """The RFC 5322 message for a draft (Bcc kept as a header: transports strip it when sending)."""
    message = EmailMessage()
    message["From"] = draft.sender
    message["To"] = ", ".join(draft.to)
    if draft.cc:
        message["Cc"] = ", ".join(draft.cc)
    if draft.bcc:
        message["Bcc"] = ", ".join(draft.bcc)
    message["Subject"] = draft.subject
    message["Date"] = formatdate(localtime=True)
    domain = draft.sender.rpartition("@")[2].rstrip(">") or None
    message["Message-ID"] = make_msgid(domain=domain)
    message.set_content(normalize_body(draft.body) + "\n")
    return message


def without_bcc(message: EmailMessage) -> EmailMessage:
    copy = parse_bytes(message.as_bytes())
    del copy["Bcc"]
    return copy


# -- matching ----------------------------------------------------------------------------------------------
_FIELDS = ("from", "to", "cc", "subject", "body")


@dataclass(frozen=True)
class Query:
    """Words that must all appear (case-insensitive); `field:word` restricts one to from/to/cc/subject/body."""

    words: tuple[str, ...] = ()
    fields: tuple[tuple[str, str], ...] = field(default_factory=tuple)

    @classmethod
    def parse(cls, text: str) -> Query:
        try:
            tokens = shlex.split(text)
        except ValueError:
            tokens = text.split()
        words: list[str] = []
        fields: list[tuple[str, str]] = []
        for token in tokens:
            name, sep, value = token.partition(":")
            if sep and name.lower() in _FIELDS and value:
                fields.append((name.lower(), value.casefold()))
            elif token.strip():
                words.append(token.casefold())
        return cls(tuple(words), tuple(fields))

    @property
    def empty(self) -> bool:
        return not self.words and not self.fields

    def matches(self, message: MailMessage) -> bool:
        parts = {
            "from": message.sender, "to": " ".join(message.to), "cc": " ".join(message.cc),
            "subject": message.subject, "body": message.body,
        }
        folded = {k: v.casefold() for k, v in parts.items()}
        everything = "\n".join(folded.values())
        return all(w in everything for w in self.words) and all(v in folded[f] for f, v in self.fields)
