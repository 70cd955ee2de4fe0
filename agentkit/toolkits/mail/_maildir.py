"""Mail in a local Maildir (stdlib `mailbox`): the default backend, no server needed.

Layout (Maildir++, what Dovecot, mutt and the stdlib use): the root is the inbox, folders are `.Drafts`,
`.Sent`, `.Trash`, created on first use. Ids are `<folder>/<key>`.

Search reads the newest `scan_limit` messages of each searched folder (default 5000), parsing each one:
fine for a personal mailbox, slow for a huge archive (use IMAP there, where the server searches).

Sending: a draft is delivered over SMTP when `smtp` is configured, otherwise into the `outbox` Maildir
(a queue another program picks up; Bcc kept so that program can honour it). With neither, sending is
refused with the settings to add. Either way the draft then moves from Drafts to Sent.
"""

from __future__ import annotations

import mailbox
import os
import threading
from collections.abc import Sequence
from pathlib import Path

from ..._errors import UserError
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
from ._smtp import SmtpTransport

INBOX = "INBOX"


def split_id(message_id: str) -> tuple[str, str]:
    folder, sep, key = message_id.rpartition("/")
    if not sep or not folder or not key:
        raise MailNotFoundError(f"{message_id!r} is not a message id of the form '<folder>/<key>'")
    return folder, key


class MaildirBackend:
    def __init__(
        self, path: str | Path, *, from_address: str | None = None, outbox: str | Path | None = None,
        smtp: SmtpTransport | None = None, permanent_delete: bool = False, drafts_folder: str = "Drafts",
        sent_folder: str = "Sent", trash_folder: str = "Trash", search_folders: Sequence[str] = (INBOX, "Sent"),
        scan_limit: int = 5000,
    ) -> None:
        self.path = Path(path).expanduser()
        self._from_address = from_address
        self.outbox = Path(outbox).expanduser() if outbox is not None else None
        self.smtp = smtp
        self.permanent_delete = permanent_delete
        self.drafts_folder = drafts_folder
        self.sent_folder = sent_folder
        self.trash_folder = trash_folder
        self.search_folders = list(search_folders)
        self.scan_limit = scan_limit
        self._lock = threading.RLock()
        for name in (drafts_folder, sent_folder, trash_folder, *self.search_folders):
            if name != INBOX and ("/" in name or name.startswith(".") or not name):
                raise UserError(f"Maildir folder name {name!r} must not be empty, start with '.' or contain '/'")

    @property
    def description(self) -> str:
        return f"Maildir {self.path}"

    @property
    def from_address(self) -> str:
        if self._from_address is None:
            raise MailError("no sender address: set from_address in the mail toolkit config")
        return self._from_address

    @property
    def transport(self) -> str:
        if self.smtp is not None:
            return self.smtp.description
        if self.outbox is not None:
            return f"delivery into the outbox Maildir {self.outbox}"
        return "nothing (no smtp or outbox configured: sending will be refused)"

    # -- folders -----------------------------------------------------------------------------------------
    def _root(self) -> mailbox.Maildir:
        try:
            return mailbox.Maildir(self.path, factory=None, create=True)
        except OSError as exc:
            raise MailError(f"cannot open the Maildir {self.path}: {exc.strerror or exc}") from None

    def _folder_path(self, name: str) -> Path:
        return self.path if name == INBOX else self.path / f".{name}"

    def _folder(self, name: str, *, create: bool = False) -> mailbox.Maildir | None:
        root = self._root()
        if name == INBOX:
            return root
        if self._folder_path(name).is_dir():
            return root.get_folder(name)
        return root.add_folder(name) if create else None

    def _flags(self, name: str) -> dict[str, str]:
        """key -> Maildir flags, read from the file names; messages still in new/ have none (unread)."""
        flags: dict[str, str] = {}
        base = self._folder_path(name)
        for sub in ("new", "cur"):
            try:
                names = os.listdir(base / sub)
            except FileNotFoundError:
                continue
            for filename in names:
                key, _, info = filename.partition(":")
                flags[key] = info[2:] if info.startswith("2,") else ""
        return flags

    def _load(self, message_id: str) -> tuple[str, str, mailbox.Maildir, bytes]:
        folder, key = split_id(message_id)
        box = self._folder(folder)
        if box is None:
            raise MailNotFoundError(f"no folder {folder!r} in {self.description}")
        try:
            return folder, key, box, box.get_bytes(key)
        except KeyError:
            raise MailNotFoundError(f"no message {message_id!r} in {self.description}") from None

    def _store(self, folder: str, raw: bytes, flags: str) -> str:
        box = self._folder(folder, create=True)
        assert box is not None
        message = mailbox.MaildirMessage(raw)
        message.set_subdir("cur")
        message.set_flags(flags)
        return f"{folder}/{box.add(message)}"

    # -- the backend protocol ----------------------------------------------------------------------------
    def search(self, query: str, limit: int) -> list[MailSummary]:
        wanted = Query.parse(query)
        found: list[MailSummary] = []
        with self._lock:
            for folder in self.search_folders:
                box = self._folder(folder)
                if box is None:
                    continue
                flags = self._flags(folder)
                # keys start with the delivery time: newest first, and only the newest `scan_limit` are read
                for key in sorted(box.iterkeys(), reverse=True)[: self.scan_limit]:
                    try:
                        message = to_message(f"{folder}/{key}", folder, parse_bytes(box.get_bytes(key)))
                    except KeyError:  # removed meanwhile
                        continue
                    if wanted.matches(message):
                        found.append(message.summary(unread="S" not in flags.get(key, "")))
        return newest_first(found, limit)

    def read(self, message_id: str) -> MailMessage:
        with self._lock:
            folder, _, _, raw = self._load(message_id)
        return to_message(message_id, folder, parse_bytes(raw))

    def create_draft(self, draft: Draft) -> Draft:
        raw = compose(draft).as_bytes()
        with self._lock:
            draft_id = self._store(self.drafts_folder, raw, "DS")
        return to_draft(draft_id, parse_bytes(raw))

    def list_drafts(self, limit: int) -> list[Draft]:
        with self._lock:
            box = self._folder(self.drafts_folder)
            if box is None:
                return []
            drafts = [(key, parse_bytes(box.get_bytes(key))) for key in box.iterkeys()]
        return newest_drafts(self.drafts_folder, drafts, limit)

    def get_draft(self, draft_id: str) -> Draft:
        require_drafts_folder(draft_id, split_id(draft_id)[0], self.drafts_folder)
        with self._lock:
            _, _, _, raw = self._load(draft_id)
        return to_draft(draft_id, parse_bytes(raw))

    def send_draft(self, draft_id: str) -> MailSummary:
        if self.smtp is None and self.outbox is None:
            raise MailError(
                "this Maildir has nowhere to send mail: set `outbox` (a Maildir another program sends from) "
                "or `smtp` in the mail toolkit config"
            )
        with self._lock:
            folder, key, box, raw = self._load(draft_id)
            require_drafts_folder(draft_id, folder, self.drafts_folder)
            message = parse_bytes(raw)
            draft = to_draft(draft_id, message)
            refused: tuple[str, ...] = ()
            if self.smtp is not None:
                sender = bare_address(draft.sender) or self.from_address
                refused = self.smtp.send(message, sender=sender, recipients=draft.recipients)
            else:
                assert self.outbox is not None
                try:
                    outbox = mailbox.Maildir(self.outbox, factory=None, create=True)
                    queued = mailbox.MaildirMessage(raw)
                    outbox.add(queued)
                except OSError as exc:
                    raise MailError(f"cannot deliver into the outbox {self.outbox}: {exc.strerror or exc}") from None
            sent_id, filed_in, unfiled = draft_id, self.drafts_folder, None
            try:  # it went out: from here on a failure is reported, not raised (a retry would send it twice)
                sent_id, filed_in = self._store(self.sent_folder, raw, "S"), self.sent_folder
                box.remove(key)
            except (OSError, KeyError, MailError) as exc:
                unfiled = filing_failure(filed_in == self.sent_folder, self.sent_folder, exc)
        return to_message(sent_id, filed_in, message).summary(refused=refused, unfiled=unfiled)

    def delete(self, message_id: str) -> None:
        with self._lock:
            folder, key, box, raw = self._load(message_id)
            if not self.permanent_delete:
                refuse_second_trashing(message_id, folder, self.trash_folder)
                flags = self._flags(folder).get(key, "")
                self._store(self.trash_folder, raw, "".join(sorted(set(flags) | {"T"})))
            box.remove(key)
