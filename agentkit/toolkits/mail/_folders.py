"""What the folder stores (Maildir, IMAP) do alike: ids `<folder>/<key>`, listings newest first, drafts
only out of the Drafts folder, and nothing removed for good from the trash unless configured."""

from __future__ import annotations

from email.message import EmailMessage

from ._model import Draft, MailError, MailNotFoundError, MailSummary, sort_key, to_draft, to_message


def newest_first(found: list[MailSummary], limit: int) -> list[MailSummary]:
    """The `limit` most recent of `found` (undated ones last)."""
    return sorted(found, key=lambda s: sort_key(s.date), reverse=True)[:limit]


def newest_drafts(folder: str, stored: list[tuple[str, EmailMessage]], limit: int) -> list[Draft]:
    """The `limit` most recent of the (key, message) pairs stored in `folder`, as drafts."""
    ordered = sorted(stored, key=lambda item: sort_key(to_message("", "", item[1]).date), reverse=True)
    return [to_draft(f"{folder}/{key}", message) for key, message in ordered[:limit]]


def require_drafts_folder(draft_id: str, folder: str, drafts_folder: str) -> None:
    """Only a draft can be read or sent as one: a message elsewhere counts as not found."""
    if folder != drafts_folder:
        raise MailNotFoundError(f"{draft_id!r} is not in the {drafts_folder} folder")


def refuse_second_trashing(message_id: str, folder: str, trash_folder: str) -> None:
    """Deleting from the trash would lose the message for good, which needs `permanent_delete`."""
    if folder == trash_folder:
        raise MailError(
            f"{message_id} is already in {trash_folder}; removing it for good needs "
            "permanent_delete: true in the mail toolkit config"
        )


def filing_failure(filed: bool, sent_folder: str, exc: Exception) -> str:
    """What went wrong after a message went out: it is still in Drafts, and filed in Sent or not."""
    where = f"it was filed in {sent_folder} but" if filed else f"it could not be filed in {sent_folder} and"
    return f"{where} its draft stays in Drafts ({type(exc).__name__}: {exc})"
