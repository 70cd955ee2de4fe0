"""Mail toolkit edge cases a demanding user hits: display names with commas or accents, line breaks other
than CR/LF in headers, and a send whose filing in Sent fails after the message went out."""

from __future__ import annotations

import imaplib
import json
import mailbox
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from agentkit import Agent, ToolResultMessage
from agentkit.testing import ScriptedModel, call, text
from agentkit.toolkits.mail import ImapSmtpBackend, MaildirBackend, MailError, SmtpTransport, mail_tools

from .pim_servers import (
    IMAP_PASSWORD,
    IMAP_USER,
    ImapServer,
    SmtpServer,
    imap_server,
    recording_confirmer,
    smtp_server,
)

pytestmark = pytest.mark.server  # aiosmtpd and pymap on 127.0.0.1

ME = "me@example.org"


@pytest.fixture(scope="module")
def smtp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SmtpServer]:
    with smtp_server(tmp_path_factory.mktemp("smtp") / "received") as server:
        yield server


@pytest.fixture
def received(smtp: SmtpServer) -> SmtpServer:
    smtp.clear()
    return smtp


@pytest.fixture
def backend(tmp_path: Path, smtp: SmtpServer) -> MaildirBackend:
    return MaildirBackend(tmp_path / "Mail", from_address=ME, smtp=SmtpTransport(smtp.host, smtp.port, "none"))


def run_tool(backend: Any, name: str, **arguments: Any) -> ToolResultMessage:
    """One tool call through the agent, every confirmation approved."""
    model = ScriptedModel([call(name, arguments), text("done")])
    result = Agent(model, tools=mail_tools(backend), confirmer=recording_confirmer([])).run_sync("go")
    [answer] = [m for m in result.messages if isinstance(m, ToolResultMessage)]
    return answer


def draft_handle(answer: ToolResultMessage) -> str:
    assert not answer.is_error, answer.content
    return answer.content.split("draft_id: ")[1].split()[0]


# -- display names -----------------------------------------------------------------------------------------
def test_a_display_name_with_a_comma_can_be_drafted_and_sent(backend: MaildirBackend, received: SmtpServer) -> None:
    handle = draft_handle(run_tool(backend, "draft_mail", to=['"Lima, Ana" <ana@example.org>', "bo@example.org"],
                                   subject="Hello", body="Hi both."))
    answer = run_tool(backend, "send_mail", draft_id=handle)
    assert not answer.is_error, answer.content
    [message] = received.received()
    assert sorted(r.strip() for r in message["X-RcptTo"].split(",")) == ["ana@example.org", "bo@example.org"]


def test_read_mail_quotes_display_names_so_they_can_be_reused(backend: MaildirBackend, received: SmtpServer) -> None:
    message = EmailMessage()
    message["From"] = '"Doe, John" <john@example.org>'
    message["To"] = f'"Lima, Ana" <ana@example.org>, {ME}'
    message["Subject"] = "Plans"
    message.set_content("See you.")
    key = mailbox.Maildir(backend.path, create=True).add(mailbox.MaildirMessage(message.as_bytes()))
    read = run_tool(backend, "read_mail", message_id=f"INBOX/{key}")
    assert json.loads(read.content)["to"] == ['"Lima, Ana" <ana@example.org>', ME]
    # replying to everyone shown works as shown: the names do not split into invalid addresses
    handle = draft_handle(run_tool(backend, "draft_mail", to=['"Lima, Ana" <ana@example.org>'], subject="Re: Plans",
                                   body="Yes."))
    assert not run_tool(backend, "send_mail", draft_id=handle).is_error
    assert [m["X-RcptTo"] for m in received.received()] == ["ana@example.org"]


async def test_the_draft_preview_shows_accented_names_as_written(backend: MaildirBackend) -> None:
    tools = {t.name: t for t in mail_tools(backend)}
    preview = await tools["draft_mail"].render_preview(
        {"to": ["José Núñez <jose@example.org>"], "subject": "Olá", "body": "Hi"}
    )
    assert preview is not None
    assert "To: José Núñez <jose@example.org>" in preview
    assert "=?utf-8?" not in preview


# -- line breaks -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("separator", ["\x0b", "\x0c", "\x1c", "\x85", "\u2028", "\u2029"])
def test_any_line_break_in_a_subject_or_name_is_a_correction(backend: MaildirBackend, separator: str) -> None:
    subject = run_tool(backend, "draft_mail", to=["ana@example.org"], subject=f"Hi{separator}Bcc: x@evil.org", body="b")
    assert subject.is_error
    assert subject.provenance == "trusted"
    assert "one line" in subject.content, subject.content
    name = run_tool(backend, "draft_mail", to=[f'"Ana{separator}Bcc: x@evil.org" <ana@example.org>'], subject="s",
                    body="b")
    assert name.is_error
    assert "line break" in name.content, name.content
    assert backend.list_drafts(10) == []


# -- filing after sending ----------------------------------------------------------------------------------
def test_a_send_whose_filing_fails_says_it_was_sent_and_a_retry_sends_nothing_twice(
    backend: MaildirBackend, received: SmtpServer,
) -> None:
    handle = draft_handle(run_tool(backend, "draft_mail", to=["ana@example.org"], subject="Once", body="Only once."))
    (backend.path / ".Sent").write_text("a file where the Sent folder should be")
    model = ScriptedModel([call("send_mail", {"draft_id": handle}), call("send_mail", {"draft_id": handle}),
                           text("done")])
    result = Agent(model, tools=mail_tools(backend), confirmer=recording_confirmer([])).run_sync("go")
    answer, retry = [m for m in result.messages if isinstance(m, ToolResultMessage)]
    assert retry.is_error
    assert "already sent" in retry.content, retry.content
    assert len(received.received()) == 1
    assert not answer.is_error, answer.content  # it did go out: the model must not be told it failed
    assert "Sent to ana@example.org" in answer.content
    assert "could not be filed" in answer.content
    assert "do not send it again" in answer.content
    # the draft (the only copy the owner has) is kept, and sending it again is refused
    assert [d.subject for d in backend.list_drafts(10)] == ["Once"]


class _SentFolderFull(ImapSmtpBackend):
    """A real pymap server whose Sent folder refuses the copy, as a server over quota does."""

    def _append(self, conn: imaplib.IMAP4, folder: str, raw: bytes, flags: str) -> str:
        if folder == self.sent_folder:
            raise MailError("IMAP APPEND failed: [b'[OVERQUOTA] Sent is full']")
        return super()._append(conn, folder, raw, flags)


@pytest.fixture(scope="module")
def imap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ImapServer]:
    with imap_server(tmp_path_factory.mktemp("imap")) as server:
        yield server


def test_imap_send_whose_filing_fails_is_reported_as_sent(imap: ImapServer, received: SmtpServer) -> None:
    backend = _SentFolderFull(
        imap.host, port=imap.port, security="none", username=IMAP_USER, password=IMAP_PASSWORD, from_address=ME,
        smtp=SmtpTransport(received.host, received.port, "none"), drafts_folder="EdgeDrafts",
    )
    handle = draft_handle(run_tool(backend, "draft_mail", to=["ana@example.org"], subject="Quota", body="x"))
    answer = run_tool(backend, "send_mail", draft_id=handle)
    assert len(received.received()) == 1
    assert not answer.is_error, answer.content
    assert "could not be filed" in answer.content
    assert "OVERQUOTA" in answer.content
    assert [d.subject for d in backend.list_drafts(10)] == ["Quota"]

