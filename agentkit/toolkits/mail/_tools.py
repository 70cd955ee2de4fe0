"""The mail tools the model sees, over any `MailBackend`.

    search_mail, read_mail, list_drafts   read         message bodies are untrusted tool output
    draft_mail                            write        saves a draft; nothing leaves the store
    send_mail                             send         sends a saved draft, nothing else
    delete_mail                           destructive  to the trash (or for good, when configured)

Sending always goes through a draft: `draft_mail` returns a `draft_id` of the form `<id>#<digest>`, where
the digest covers sender, recipients, subject and body. `send_mail(draft_id)` re-reads the draft and
refuses if it no longer matches the digest, so the preview a person approved is exactly what is sent,
to exactly the recipients shown; editing a draft elsewhere gives it a new digest and needs a new approval.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from pydantic import BeforeValidator, Field

from ..._errors import ModelRetry
from ..._tools import Tool, ToolReturn, tool
from .._addresses import has_line_break, is_address, validate_recipients
from .._preview import preview_call
from ._model import Draft, MailBackend, MailMessage, MailNotFoundError, MailSummary, snippet, split_handle


def _as_list(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


Recipients = Annotated[
    list[Annotated[str, Field(max_length=320)]],
    BeforeValidator(_as_list),
    Field(max_length=50, description="E-mail addresses, e.g. ['ana@example.org', 'Bo Li <bo@example.org>']."),
]
MessageId = Annotated[str, Field(min_length=1, max_length=1000, description="id from search_mail.")]
Limit = Annotated[int, Field(ge=1, le=50)]


def _summary(item: MailSummary) -> dict[str, Any]:
    shown: dict[str, Any] = {
        "id": item.id, "folder": item.folder, "from": item.sender, "to": list(item.to), "subject": item.subject,
        "date": item.date, "snippet": item.snippet,
    }
    if item.unread is not None:
        shown["unread"] = item.unread
    return shown


def _message(item: MailMessage, max_chars: int) -> dict[str, Any]:
    body = item.body
    if len(body) > max_chars:
        body = body[:max_chars] + f"\n[... truncated: {len(item.body) - max_chars} more characters]"
    shown: dict[str, Any] = {"id": item.id, "folder": item.folder, "from": item.sender, "to": list(item.to)}
    if item.cc:
        shown["cc"] = list(item.cc)
    shown.update({"subject": item.subject, "date": item.date, "body": body})
    if item.attachments:
        shown["attachments"] = list(item.attachments)
    return shown


def _draft(item: Draft) -> dict[str, Any]:
    shown: dict[str, Any] = {"draft_id": item.handle, "to": list(item.to)}
    if item.cc:
        shown["cc"] = list(item.cc)
    shown.update({"subject": item.subject, "snippet": snippet(item.body)})
    return shown


def mail_tools(backend: MailBackend, *, max_body_chars: int = 20_000) -> list[Tool]:
    """The six mail tools over `backend`; `read_mail` cuts bodies longer than `max_body_chars`."""

    sent_but_kept: set[str] = set()  # handles of drafts that went out but stayed in Drafts (filing failed)

    def not_found(exc: MailNotFoundError, hint: str) -> ModelRetry:
        return ModelRetry(f"{exc}. {hint}")

    def plan_draft(to: list[str], subject: str, body: str, cc: list[str] | None) -> Draft:
        recipients = validate_recipients(to, argument="to")
        copies = validate_recipients(cc or [], argument="cc", required=False)
        if has_line_break(subject):
            raise ModelRetry("subject must be one line: remove the line breaks.")
        return Draft(id="", sender=backend.from_address, to=tuple(recipients), cc=tuple(copies),
                     subject=subject.strip(), body=body)

    def checked_draft(draft_id: str) -> Draft:
        backend_id, digest = split_handle(draft_id)
        if draft_id in sent_but_kept:
            raise ModelRetry(f"The draft {backend_id} was already sent; it is still in Drafts only because filing it "
                             "failed. It is not sent again.")
        if digest is None:
            raise ModelRetry(
                f"{draft_id!r} is not a draft_id from draft_mail or list_drafts; those end with '#' and 16 hex "
                "digits. Pass the draft_id exactly as it was returned."
            )
        try:
            draft = backend.get_draft(backend_id)
        except MailNotFoundError as exc:
            raise not_found(exc, "Call list_drafts to see the saved drafts.") from None
        if draft.digest() != digest:
            raise ModelRetry(
                f"The draft {backend_id} was changed after it was shown, so it is not sent. Call list_drafts and "
                "send its new draft_id so that the current content is what gets approved."
            )
        bad = [r for r in draft.recipients if not is_address(r)]
        if not draft.recipients or bad:
            raise ModelRetry(
                f"The draft has {'invalid recipients ' + ', '.join(bad) if bad else 'no recipients'}; "
                "create a new draft with draft_mail."
            )
        return draft

    def owner_chosen(items: Sequence[MailSummary | MailMessage]) -> list[str]:
        """The recipients of the account's own sent mail: people the owner chose, vouched for."""
        return [person for item in items if item.folder == backend.sent_folder
                for person in (*item.to, *getattr(item, "cc", ()))]

    @tool(effect="read")
    def search_mail(query: str, limit: Limit = 10) -> ToolReturn:
        """Search the mailbox; newest first.

        Args:
            query: Words that must all appear; 'from:ana', 'subject:invoice' restrict a word to one field.
            limit: How many messages at most.
        """
        found = backend.search(query, limit)
        return ToolReturn([_summary(item) for item in found], vouched=owner_chosen(found))

    @tool(effect="read")
    def read_mail(message_id: MessageId) -> ToolReturn:
        """Read one message: headers and text body.

        Args:
            message_id: The id from search_mail.
        """
        try:
            message = backend.read(message_id)
        except MailNotFoundError as exc:
            raise not_found(exc, "Use an id returned by search_mail.") from None
        return ToolReturn(_message(message, max_body_chars), vouched=owner_chosen([message]))

    @tool(effect="read")
    def list_drafts(limit: Limit = 10) -> list[dict[str, Any]]:
        """List saved drafts, newest first, with the draft_id that send_mail takes.

        Args:
            limit: How many drafts at most.
        """
        return [_draft(item) for item in backend.list_drafts(limit)]

    @tool(effect="write")
    def draft_mail(
        to: Recipients, subject: Annotated[str, Field(max_length=500)],
        body: Annotated[str, Field(max_length=100_000)], cc: Recipients | None = None,
    ) -> str:
        """Save an e-mail as a draft (nothing is sent). Send it afterwards with send_mail(draft_id).

        Args:
            to: Recipient addresses.
            subject: One-line subject.
            body: Plain-text body.
            cc: Addresses to copy.
        """
        stored = backend.create_draft(plan_draft(to, subject, body, cc))
        return (f"Draft saved. draft_id: {stored.handle}\n\n{stored.render()}\n\n"
                f"Nothing was sent. To send it, call send_mail with draft_id {stored.handle!r}.")

    @draft_mail.preview
    async def _preview_draft(arguments: dict[str, Any]) -> str:
        def render(**kwargs: Any) -> str:
            return f"Save this draft in {backend.description} (nothing is sent):\n\n{plan_draft(**kwargs).render()}"

        return await preview_call(draft_mail, arguments, render)

    @tool(effect="send")
    def send_mail(draft_id: Annotated[str, Field(min_length=1, max_length=1000)]) -> str:
        """Send a saved draft exactly as it is.

        Args:
            draft_id: The draft_id returned by draft_mail or list_drafts.
        """
        draft = checked_draft(draft_id)
        sent = backend.send_draft(draft.id)
        refused = f" The server refused: {', '.join(sent.refused)}." if sent.refused else ""
        unfiled = ""
        if sent.unfiled:
            sent_but_kept.add(draft_id)
            unfiled = f" But {sent.unfiled}. It was sent: do not send it again."
        return f"Sent to {', '.join(draft.recipients)} (message id {sent.id}).{refused}{unfiled}"

    @send_mail.preview
    async def _preview_send(arguments: dict[str, Any]) -> str:
        def render(draft_id: str) -> str:
            draft = checked_draft(draft_id)
            return (f"Send this e-mail now, via {backend.transport}, to {', '.join(draft.recipients)}:\n\n"
                    f"{draft.render()}")

        return await preview_call(send_mail, arguments, render)

    @tool(effect="destructive")
    def delete_mail(message_id: MessageId) -> str:
        """Delete a message (to the trash unless the mailbox is set to delete for good).

        Args:
            message_id: The id from search_mail.
        """
        try:
            backend.delete(message_id)
        except MailNotFoundError as exc:
            raise not_found(exc, "Use an id returned by search_mail.") from None
        where = "permanently deleted" if backend.permanent_delete else "moved to the trash"
        return f"Message {message_id} {where}."

    @delete_mail.preview
    async def _preview_delete(arguments: dict[str, Any]) -> str:
        def render(message_id: str) -> str:
            try:
                message = backend.read(message_id)
            except MailNotFoundError as exc:
                raise not_found(exc, "Use an id returned by search_mail.") from None
            action = ("PERMANENTLY delete (cannot be undone)" if backend.permanent_delete
                      else "Move to the trash")
            cc = f"\nCc: {', '.join(message.cc)}" if message.cc else ""
            start = snippet(message.body, chars=300)
            return (f"{action} this message from {backend.description}:\n"
                    f"From: {message.sender}\nTo: {', '.join(message.to)}{cc}\nDate: {message.date}\n"
                    f"Subject: {message.subject}\n\n{start}")

        return await preview_call(delete_mail, arguments, render)

    return [search_mail, read_mail, list_drafts, draft_mail, send_mail, delete_mail]
