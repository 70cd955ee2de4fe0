"""Gmail (API v1) through google-api-python-client, with OAuth credentials from a file the user names.

Requests: users.messages.list + users.messages.get (metadata) to search, users.messages.get (raw) to read,
users.drafts.create / list / get (raw) for drafts, users.drafts.send to send, users.messages.trash to
delete (users.messages.delete, which cannot be undone, only with `permanent_delete`). Raw messages are
parsed with the stdlib like every other backend. The API object is injectable: tests pass one built over
`HttpMockSequence` and check each request.
"""

from __future__ import annotations

import base64
import html
import threading
from email import policy
from typing import Any

from .._google_auth import build_service, execute, load_credentials
from ._model import (
    Draft,
    MailError,
    MailMessage,
    MailNotFoundError,
    MailSummary,
    compose,
    parse_bytes,
    parse_date,
    snippet,
    split_addresses,
    to_draft,
    to_message,
)

SCOPES = ["https://www.googleapis.com/auth/gmail.modify"]
PERMANENT_SCOPES = ["https://mail.google.com/"]
_FOLDERS = ("DRAFT", "SENT", "INBOX", "TRASH", "SPAM")


def encode_raw(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii")


def decode_raw(data: str) -> bytes:
    return base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))


def _folder(labels: list[str]) -> str:
    return next((label for label in _FOLDERS if label in labels), labels[0] if labels else "")


class GmailBackend:
    """`service` is a Gmail v1 API object; build one with `from_credentials_file`."""

    transport = "the Gmail API (users.drafts.send)"
    sent_folder = "SENT"  # the label Gmail itself puts on what this account sent

    def __init__(
        self, service: Any, *, user_id: str = "me", from_address: str | None = None, permanent_delete: bool = False,
    ) -> None:
        self.service = service
        self.user_id = user_id
        self._from_address = from_address
        self.permanent_delete = permanent_delete
        self._lock = threading.RLock()  # httplib2 connections are not thread-safe

    @classmethod
    def from_credentials_file(
        cls, path: str, *, user_id: str = "me", from_address: str | None = None, permanent_delete: bool = False,
    ) -> GmailBackend:
        credentials = load_credentials(path, scopes=PERMANENT_SCOPES if permanent_delete else SCOPES)
        return cls(
            build_service("gmail", "v1", credentials=credentials), user_id=user_id, from_address=from_address,
            permanent_delete=permanent_delete,
        )

    @property
    def description(self) -> str:
        return f"Gmail ({self.user_id})"

    def _users(self) -> Any:
        return self.service.users()

    def _execute(self, request: Any, *, missing: str | None = None) -> Any:
        with self._lock:
            return execute(
                request, description=self.description, error=MailError,
                refused_hint="check the credentials file and its scopes",
                missing=MailNotFoundError(missing) if missing is not None else None,
            )

    @property
    def from_address(self) -> str:
        """The account's address (users.getProfile, asked once) unless configured."""
        with self._lock:
            if self._from_address is None:
                profile = self._execute(self._users().getProfile(userId=self.user_id))
                self._from_address = str(profile["emailAddress"])
            return self._from_address

    # -- the backend protocol ----------------------------------------------------------------------------
    def search(self, query: str, limit: int) -> list[MailSummary]:
        listing = self._execute(self._users().messages().list(userId=self.user_id, q=query, maxResults=limit))
        found = []
        for ref in listing.get("messages", [])[:limit]:
            item = self._execute(
                self._users().messages().get(
                    userId=self.user_id, id=ref["id"], format="metadata",
                    metadataHeaders=["From", "To", "Subject", "Date"],
                ),
                missing=f"message {ref['id']!r} vanished",
            )
            headers = {h["name"].lower(): h["value"] for h in item.get("payload", {}).get("headers", [])}
            labels = item.get("labelIds", [])
            found.append(MailSummary(
                id=item["id"], folder=_folder(labels), sender=headers.get("from", ""),
                to=split_addresses(headers.get("to", "")),
                subject=headers.get("subject", ""), date=parse_date(headers.get("date")),
                snippet=html.unescape(item.get("snippet", "")), unread="UNREAD" in labels,
            ))
        return found

    def read(self, message_id: str) -> MailMessage:
        item = self._execute(
            self._users().messages().get(userId=self.user_id, id=message_id, format="raw"),
            missing=f"no message {message_id!r} in {self.description}",
        )
        return to_message(item["id"], _folder(item.get("labelIds", [])), parse_bytes(decode_raw(item["raw"])))

    def create_draft(self, draft: Draft) -> Draft:
        raw = compose(draft).as_bytes(policy=policy.SMTP)
        created = self._execute(
            self._users().drafts().create(userId=self.user_id, body={"message": {"raw": encode_raw(raw)}})
        )
        return to_draft(created["id"], parse_bytes(raw))

    def list_drafts(self, limit: int) -> list[Draft]:
        listing = self._execute(self._users().drafts().list(userId=self.user_id, maxResults=limit))
        return [self.get_draft(ref["id"]) for ref in listing.get("drafts", [])[:limit]]

    def get_draft(self, draft_id: str) -> Draft:
        item = self._execute(
            self._users().drafts().get(userId=self.user_id, id=draft_id, format="raw"),
            missing=f"no draft {draft_id!r} in {self.description}",
        )
        return to_draft(item["id"], parse_bytes(decode_raw(item["message"]["raw"])))

    def send_draft(self, draft_id: str) -> MailSummary:
        draft = self.get_draft(draft_id)
        sent = self._execute(
            self._users().drafts().send(userId=self.user_id, body={"id": draft_id}),
            missing=f"no draft {draft_id!r} in {self.description}",
        )
        return MailSummary(
            id=sent["id"], folder=_folder(sent.get("labelIds", ["SENT"])), sender=draft.sender, to=draft.to,
            subject=draft.subject, date=None, snippet=snippet(draft.body),
        )

    def delete(self, message_id: str) -> None:
        messages = self._users().messages()
        request = (
            messages.delete(userId=self.user_id, id=message_id) if self.permanent_delete
            else messages.trash(userId=self.user_id, id=message_id)
        )
        self._execute(request, missing=f"no message {message_id!r} in {self.description}")
