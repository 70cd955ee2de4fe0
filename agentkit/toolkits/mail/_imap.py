"""Mail on an IMAP server (stdlib imaplib), sent over SMTP (stdlib smtplib).

One connection per operation (connect, log in, act, log out): nothing to keep alive between tool calls and
no state shared across threads. Ids are `<folder>/<UID>`. Drafts are APPENDed to the Drafts folder with the
\\Draft flag; sending one goes over SMTP, files a copy in Sent (unless the server does that itself:
`save_sent=False`, as Gmail does) and removes the draft. Deleting moves to Trash (MOVE, or COPY + expunge
when the server lacks MOVE), or expunges for good with `permanent_delete`.

Search runs the words as IMAP SEARCH criteria on the server, then applies the same exact matching as the
Maildir backend to what comes back, so both backends agree on what a query means.
"""

from __future__ import annotations

import imaplib
import re
import ssl
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from email import policy
from typing import Any

from ..._errors import UserError
from ..._net import is_loopback
from .._addresses import bare_address
from ._folders import (
    filing_failure,
    newest_drafts,
    newest_first,
    refuse_second_trashing,
    require_drafts_folder,
)
from ._model import (
    Draft,
    MailError,
    MailMessage,
    MailNotFoundError,
    MailSummary,
    Query,
    compose,
    parse_bytes,
    to_draft,
    to_message,
)
from ._smtp import Security, SmtpTransport

_FETCH_UID = re.compile(rb"UID (\d+)")
_FETCH_FLAGS = re.compile(rb"FLAGS \(([^)]*)\)")
_APPENDUID = re.compile(rb"APPENDUID \d+ (\d+)")
_MAX_CANDIDATES = 200


def quote(text: str) -> str:
    """An IMAP quoted string (folder names, search words); non-ASCII cannot be quoted and is refused."""
    if not text.isascii() or any(ch in text for ch in "\r\n"):
        raise MailError(f"{text!r} cannot be sent to IMAP as a quoted string (non-ASCII or a line break)")
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def split_id(message_id: str) -> tuple[str, str]:
    folder, sep, uid = message_id.rpartition("/")
    if not sep or not folder or not uid.isdigit():
        raise MailNotFoundError(f"{message_id!r} is not a message id of the form '<folder>/<uid>'")
    return folder, uid


def _ok(answer: tuple[str, Any], what: str) -> list[Any]:
    status, data = answer
    if status != "OK":
        raise MailError(f"IMAP {what} failed: {data!r}")
    return list(data)


class ImapSmtpBackend:
    def __init__(
        self, host: str, *, port: int | None = None, security: Security = "ssl", username: str, password: str,
        from_address: str, smtp: SmtpTransport, drafts_folder: str = "Drafts", sent_folder: str = "Sent",
        trash_folder: str = "Trash", save_sent: bool = True, permanent_delete: bool = False,
        search_folders: Sequence[str] = ("INBOX", "Sent"), timeout: float = 30.0,
    ) -> None:
        if security == "none" and not is_loopback(host):
            raise UserError(
                f"IMAP to {host} with security 'none' would send the password in clear text; use 'ssl' or 'starttls'"
            )
        self.host = host
        self.port = port or (993 if security == "ssl" else 143)
        self.security = security
        self._username = username
        self._password = password
        self.from_address = from_address
        self.smtp = smtp
        self.drafts_folder = drafts_folder
        self.sent_folder = sent_folder
        self.trash_folder = trash_folder
        self.save_sent = save_sent
        self.permanent_delete = permanent_delete
        self.search_folders = list(search_folders)
        self.timeout = timeout
        for name in (drafts_folder, sent_folder, trash_folder, *self.search_folders):
            if not name.isascii() or any(ch in name for ch in "\r\n"):
                raise UserError(f"IMAP folder name {name!r}: only ASCII names without line breaks are supported")

    @property
    def description(self) -> str:
        return f"IMAP {self.host}:{self.port} ({self.security})"

    @property
    def transport(self) -> str:
        return self.smtp.description

    # -- connection --------------------------------------------------------------------------------------
    @contextmanager
    def _session(self) -> Iterator[imaplib.IMAP4]:
        try:
            conn: imaplib.IMAP4
            if self.security == "ssl":
                conn = imaplib.IMAP4_SSL(
                    self.host, self.port, ssl_context=ssl.create_default_context(), timeout=self.timeout
                )
            else:
                conn = imaplib.IMAP4(self.host, self.port, timeout=self.timeout)
                if self.security == "starttls":
                    conn.starttls(ssl_context=ssl.create_default_context())
        except (OSError, imaplib.IMAP4.error) as exc:
            raise MailError(f"cannot reach {self.description}: {type(exc).__name__}: {exc}") from None
        try:
            try:
                conn.login(self._username, self._password)
            except imaplib.IMAP4.error:
                raise MailError(
                    f"{self.description} refused the login; check the username and password environment variables"
                ) from None
            # servers announce more (MOVE, UIDPLUS) once logged in; imaplib keeps the greeting's list
            status, data = conn.capability()
            if status == "OK" and data and isinstance(data[-1], bytes):
                conn.capabilities = tuple(data[-1].decode().upper().split())
            yield conn
        except (OSError, imaplib.IMAP4.abort) as exc:
            raise MailError(f"{self.description} failed: {type(exc).__name__}: {exc}") from None
        except imaplib.IMAP4.error as exc:
            raise MailError(f"{self.description} answered with an error: {exc}") from None
        finally:
            with suppress(OSError, imaplib.IMAP4.error):
                conn.logout()

    def _select(self, conn: imaplib.IMAP4, folder: str, *, readonly: bool) -> bool:
        status, _ = conn.select(quote(folder), readonly=readonly)
        return status == "OK"

    def _ensure(self, conn: imaplib.IMAP4, folder: str) -> None:
        status, _ = conn.select(quote(folder), readonly=True)
        if status != "OK":
            _ok(conn.create(quote(folder)), f"CREATE {folder}")

    def _fetch(self, conn: imaplib.IMAP4, uids: list[str]) -> list[tuple[str, bytes, str]]:
        """(uid, raw message, flags) for each uid, without setting \\Seen (BODY.PEEK)."""
        if not uids:
            return []
        data = _ok(conn.uid("FETCH", ",".join(uids), "(UID FLAGS BODY.PEEK[])"), "FETCH")
        out = []
        for item in data:
            if not isinstance(item, tuple) or len(item) < 2:
                continue
            head, raw = item[0], item[1]
            uid = _FETCH_UID.search(head)
            flags = _FETCH_FLAGS.search(head)
            if uid is None or not isinstance(raw, bytes):
                continue
            out.append((uid.group(1).decode(), raw, flags.group(1).decode() if flags else ""))
        return out

    def _load(
        self, conn: imaplib.IMAP4, message_id: str, *, readonly: bool = False
    ) -> tuple[str, str, bytes, str]:
        folder, uid = split_id(message_id)
        if not self._select(conn, folder, readonly=readonly):
            raise MailNotFoundError(f"no folder {folder!r} on {self.description}")
        fetched = self._fetch(conn, [uid])
        if not fetched:
            raise MailNotFoundError(f"no message {message_id!r} on {self.description}")
        return folder, uid, fetched[0][1], fetched[0][2]

    def _remove(self, conn: imaplib.IMAP4, uid: str) -> None:
        """Expunge one message from the selected folder (UID EXPUNGE when the server has UIDPLUS)."""
        _ok(conn.uid("STORE", uid, "+FLAGS.SILENT", r"(\Deleted)"), "STORE")
        if "UIDPLUS" in conn.capabilities:
            _ok(conn.uid("EXPUNGE", uid), "UID EXPUNGE")
        else:
            _ok(conn.expunge(), "EXPUNGE")

    def _append(self, conn: imaplib.IMAP4, folder: str, raw: bytes, flags: str) -> str:
        self._ensure(conn, folder)
        data = _ok(conn.append(quote(folder), flags, imaplib.Time2Internaldate(time.time()), raw), "APPEND")
        match = _APPENDUID.search(b" ".join(d for d in data if isinstance(d, bytes)))
        if match is not None:
            return f"{folder}/{match.group(1).decode()}"
        # no UIDPLUS: find it again by its Message-ID
        message_id = parse_bytes(raw).get("Message-ID", "")
        self._select(conn, folder, readonly=True)
        found = _ok(conn.uid("SEARCH", "HEADER", "Message-ID", quote(str(message_id))), "SEARCH")
        uids = (found[0] or b"").split() if found and isinstance(found[0], bytes) else []
        if not uids:
            raise MailError(f"the message was stored in {folder} but the server did not say under which id")
        return f"{folder}/{uids[-1].decode()}"

    # -- the backend protocol ----------------------------------------------------------------------------
    def search(self, query: str, limit: int) -> list[MailSummary]:
        wanted = Query.parse(query)
        criteria: list[str] = []
        keys = {"from": "FROM", "to": "TO", "cc": "CC", "subject": "SUBJECT", "body": "BODY"}
        for field, value in wanted.fields:
            if value.isascii():
                criteria += [keys[field], quote(value)]
        for word in wanted.words:
            if word.isascii():
                criteria += ["TEXT", quote(word)]
        found: list[MailSummary] = []
        with self._session() as conn:
            for folder in self.search_folders:
                if not self._select(conn, folder, readonly=True):
                    continue
                data = _ok(conn.uid("SEARCH", *(criteria or ["ALL"])), "SEARCH")
                uids = (data[0] or b"").split() if data and isinstance(data[0], bytes) else []
                newest = [u.decode() for u in uids][-_MAX_CANDIDATES:]
                for uid, raw, flags in self._fetch(conn, newest):
                    message = to_message(f"{folder}/{uid}", folder, parse_bytes(raw))
                    if wanted.matches(message):
                        found.append(message.summary(unread="\\Seen" not in flags))
        return newest_first(found, limit)

    def read(self, message_id: str) -> MailMessage:
        with self._session() as conn:
            folder, _, raw, _ = self._load(conn, message_id, readonly=True)
        return to_message(message_id, folder, parse_bytes(raw))

    def create_draft(self, draft: Draft) -> Draft:
        raw = compose(draft).as_bytes(policy=policy.SMTP)  # IMAP APPEND wants CRLF line ends
        with self._session() as conn:
            draft_id = self._append(conn, self.drafts_folder, raw, r"(\Draft \Seen)")
        return to_draft(draft_id, parse_bytes(raw))

    def list_drafts(self, limit: int) -> list[Draft]:
        with self._session() as conn:
            if not self._select(conn, self.drafts_folder, readonly=True):
                return []
            data = _ok(conn.uid("SEARCH", "ALL"), "SEARCH")
            uids = [u.decode() for u in ((data[0] or b"").split() if isinstance(data[0], bytes) else [])]
            fetched = self._fetch(conn, uids[-_MAX_CANDIDATES:])
        return newest_drafts(self.drafts_folder, [(uid, parse_bytes(raw)) for uid, raw, _ in fetched], limit)

    def get_draft(self, draft_id: str) -> Draft:
        require_drafts_folder(draft_id, split_id(draft_id)[0], self.drafts_folder)
        with self._session() as conn:
            _, _, raw, _ = self._load(conn, draft_id, readonly=True)
        return to_draft(draft_id, parse_bytes(raw))

    def send_draft(self, draft_id: str) -> MailSummary:
        folder, _ = split_id(draft_id)
        require_drafts_folder(draft_id, folder, self.drafts_folder)
        with self._session() as conn:
            _, uid, raw, _ = self._load(conn, draft_id)
            message = parse_bytes(raw)
            draft = to_draft(draft_id, message)
            sender = bare_address(draft.sender) or self.from_address
            refused = self.smtp.send(message, sender=sender, recipients=draft.recipients)
            # sent: from here on a failure is reported, not raised (a retry would send it twice), and the draft
            # is removed only once filed
            sent_id, filed_in, unfiled = draft_id, folder, None
            try:
                if self.save_sent:
                    sent_id = self._append(conn, self.sent_folder, raw, r"(\Seen)")
                    filed_in = self.sent_folder
                self._select(conn, self.drafts_folder, readonly=False)
                self._remove(conn, uid)
            except (MailError, OSError, imaplib.IMAP4.error) as exc:
                unfiled = filing_failure(filed_in == self.sent_folder or not self.save_sent, self.sent_folder, exc)
        return to_message(sent_id, filed_in, message).summary(refused=refused, unfiled=unfiled)

    def delete(self, message_id: str) -> None:
        with self._session() as conn:
            folder, uid, _, _ = self._load(conn, message_id)
            if self.permanent_delete:
                self._remove(conn, uid)
                return
            refuse_second_trashing(message_id, folder, self.trash_folder)
            self._ensure(conn, self.trash_folder)
            self._select(conn, folder, readonly=False)
            if "MOVE" in conn.capabilities:
                _ok(conn.uid("MOVE", uid, quote(self.trash_folder)), "MOVE")
            else:
                _ok(conn.uid("COPY", uid, quote(self.trash_folder)), "COPY")
                self._remove(conn, uid)
