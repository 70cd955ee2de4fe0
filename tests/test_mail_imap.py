"""Mail toolkit over IMAP (a real pymap server) and SMTP (a real aiosmtpd server), both on 127.0.0.1."""

from __future__ import annotations

import imaplib
import re
import time
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from agentkit import Agent, ConfirmationRequest, ToolResultMessage, UserError
from agentkit.testing import FunctionModel, ScriptedModel, ScriptedTurn, call, text
from agentkit.toolkits import load_toolkit
from agentkit.toolkits.mail import Draft, ImapSmtpBackend, MailError, SmtpTransport, mail_tools

from .pim_servers import (
    IMAP_PASSWORD,
    IMAP_USER,
    ImapServer,
    SmtpServer,
    imap_server,
    recording_confirmer,
    smtp_server,
)

pytestmark = pytest.mark.server

ME = "alice@example.org"


@pytest.fixture(scope="module")
def imap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ImapServer]:
    with imap_server(tmp_path_factory.mktemp("imap")) as server:
        yield server


@pytest.fixture(scope="module")
def smtp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SmtpServer]:
    with smtp_server(tmp_path_factory.mktemp("smtp") / "received") as server:
        yield server


def _folder_uids(imap: ImapServer, folder: str) -> list[str]:
    conn = imap.connect()
    try:
        status, _ = conn.select(f'"{folder}"', readonly=True)
        if status != "OK":
            return []
        _, data = conn.uid("SEARCH", "ALL")
        return [u.decode() for u in (data[0] or b"").split()]
    finally:
        conn.logout()


def _empty(imap: ImapServer) -> None:
    conn = imap.connect()
    try:
        for folder in ("INBOX", "Drafts", "Sent", "Trash"):
            if conn.select(f'"{folder}"')[0] == "OK":
                conn.store("1:*", "+FLAGS.SILENT", r"(\Deleted)")
                conn.expunge()
    finally:
        conn.logout()


@pytest.fixture
def backend(imap: ImapServer, smtp: SmtpServer) -> ImapSmtpBackend:
    _empty(imap)
    smtp.clear()
    return ImapSmtpBackend(
        imap.host, port=imap.port, security="none", username=IMAP_USER, password=IMAP_PASSWORD, from_address=ME,
        smtp=SmtpTransport(smtp.host, smtp.port, "none"), timeout=10,
    )


def _deliver(imap: ImapServer, subject: str, body: str, sender: str = "ana@example.org") -> None:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = sender, ME, subject
    message["Date"] = "Mon, 10 Mar 2025 09:00:00 +0100"
    message.set_content(body)
    conn = imap.connect()
    try:
        conn.append("INBOX", "", imaplib.Time2Internaldate(time.time()), message.as_bytes())
    finally:
        conn.logout()


def _results(messages: list[Any]) -> list[ToolResultMessage]:
    return [m for m in messages if isinstance(m, ToolResultMessage)]


def test_draft_is_appended_with_the_draft_flag(backend: ImapSmtpBackend, imap: ImapServer) -> None:
    draft = backend.create_draft(Draft(id="", sender=ME, to=("bob@example.org",), subject="Hi", body="Hello"))
    folder, uid = draft.id.rsplit("/", 1)
    assert folder == "Drafts"
    conn = imap.connect()
    try:
        conn.select('"Drafts"', readonly=True)
        _, data = conn.uid("FETCH", uid, "(FLAGS)")
    finally:
        conn.logout()
    assert rb"\Draft" in data[0]
    assert backend.get_draft(draft.id).handle == draft.handle  # what the server gives back has the same digest


def test_every_tool_end_to_end(backend: ImapSmtpBackend, imap: ImapServer, smtp: SmtpServer) -> None:
    _deliver(imap, "Invoice 42", "Please pay invoice 42.")
    _deliver(imap, "Lunch", "Lunch on Thursday?", sender="bob@example.org")
    state: dict[str, str] = {}

    def respond(request: Any) -> ScriptedTurn:
        step = len(model.requests)
        last = getattr(request.messages[-1], "content", "")
        if step == 1:
            return call("search_mail", {"query": "invoice"})
        if step == 2:
            state["invoice"] = re.findall(r'"id": "([^"]+)"', last)[0]
            return call("read_mail", {"message_id": state["invoice"]})
        if step == 3:
            return call("draft_mail", {"to": ["ana@example.org"], "subject": "Re: Invoice 42", "body": "Paid."})
        if step == 4:
            return call("list_drafts", {})
        if step == 5:
            return call("send_mail", {"draft_id": re.findall(r'"draft_id": "([^"]+)"', last)[0]})
        if step == 6:
            return call("delete_mail", {"message_id": state["invoice"]})
        return text("all done")

    model = FunctionModel(respond)
    seen: list[ConfirmationRequest] = []
    result = Agent(model, tools=mail_tools(backend), confirmer=recording_confirmer(seen)).run_sync(
        "deal with the invoice"
    )
    assert result.output == "all done"
    search, read, drafted, listed, sent, deleted = _results(result.messages)
    assert not any(r.is_error for r in (search, read, drafted, listed, sent, deleted))
    assert re.search(r"draft_id: (\S+)", drafted.content).group(1) in listed.content  # type: ignore[union-attr]
    assert '"subject": "Invoice 42"' in search.content
    assert "Lunch" not in search.content
    assert "Please pay invoice 42." in read.content
    assert read.provenance == "untrusted"
    assert [r.effect for r in seen] == ["write", "send", "destructive"]
    assert "To: ana@example.org" in (seen[1].preview or "")
    assert "Paid." in (seen[1].preview or "")
    assert "Subject: Invoice 42" in (seen[2].preview or "")

    [delivered] = smtp.received()
    assert delivered["Subject"] == "Re: Invoice 42"
    assert delivered["X-RcptTo"] == "ana@example.org"
    assert _folder_uids(imap, "Drafts") == []
    assert len(_folder_uids(imap, "Sent")) == 1
    assert len(_folder_uids(imap, "Trash")) == 1
    assert [s.subject for s in backend.search("", 10)] == ["Re: Invoice 42", "Lunch"]  # INBOX + Sent


def test_send_without_confirmer_pauses(backend: ImapSmtpBackend, imap: ImapServer, smtp: SmtpServer) -> None:
    draft = backend.create_draft(Draft(id="", sender=ME, to=("bob@example.org",), subject="Hi", body="Hello"))
    paused = Agent(ScriptedModel([call("send_mail", {"draft_id": draft.handle})]),
                   tools=mail_tools(backend)).run_sync("send it")
    assert paused.status == "awaiting_confirmation"
    assert smtp.received() == []
    assert len(_folder_uids(imap, "Drafts")) == 1


def test_search_does_not_mark_messages_read(backend: ImapSmtpBackend, imap: ImapServer) -> None:
    _deliver(imap, "Unread one", "body")
    [found] = backend.search("unread", 10)
    assert found.unread is True
    backend.read(found.id)
    assert backend.search("unread", 10)[0].unread is True


def test_permanent_delete_expunges(imap: ImapServer, smtp: SmtpServer, backend: ImapSmtpBackend) -> None:
    _deliver(imap, "Spam", "buy now")
    permanent = ImapSmtpBackend(
        imap.host, port=imap.port, security="none", username=IMAP_USER, password=IMAP_PASSWORD, from_address=ME,
        smtp=SmtpTransport(smtp.host, smtp.port, "none"), permanent_delete=True,
    )
    [found] = permanent.search("spam", 10)
    permanent.delete(found.id)
    assert permanent.search("spam", 10) == []
    assert _folder_uids(imap, "Trash") == []


def test_wrong_password_is_a_clear_error(imap: ImapServer, smtp: SmtpServer) -> None:
    backend = ImapSmtpBackend(
        imap.host, port=imap.port, security="none", username=IMAP_USER, password="wrong", from_address=ME,
        smtp=SmtpTransport(smtp.host, smtp.port, "none"),
    )
    with pytest.raises(MailError, match="refused the login"):
        backend.search("x", 5)


def test_unknown_message_id_is_a_correction(backend: ImapSmtpBackend) -> None:
    model = ScriptedModel([call("read_mail", {"message_id": "INBOX/999999"}), text("not found")])
    result = Agent(model, tools=mail_tools(backend)).run_sync("read it")
    [correction] = _results(result.messages)
    assert correction.is_error
    assert "Use an id returned by search_mail" in correction.content


def test_loaded_from_config_with_env_credentials(
    imap: ImapServer, smtp: SmtpServer, backend: ImapSmtpBackend, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
) -> None:
    monkeypatch.setenv("AGENTKIT_TEST_IMAP_USER", IMAP_USER)
    monkeypatch.setenv("AGENTKIT_TEST_IMAP_PASSWORD", IMAP_PASSWORD)
    _deliver(imap, "Config works", "yes")
    tools = {t.name: t for t in load_toolkit("mail", {"backend": {
        "kind": "imap", "host": imap.host, "port": imap.port, "security": "none",
        "username_env": "AGENTKIT_TEST_IMAP_USER", "password_env": "AGENTKIT_TEST_IMAP_PASSWORD",
        "from_address": ME, "smtp": {"host": smtp.host, "port": smtp.port, "security": "none"},
    }})}
    found = tools["search_mail"].function(query="config", limit=5).value
    assert [m["subject"] for m in found] == ["Config works"]


def test_clear_text_imap_to_a_remote_host_is_refused(smtp: SmtpServer) -> None:
    with pytest.raises(UserError, match="clear text"):
        ImapSmtpBackend("imap.example.org", security="none", username="u", password="p", from_address=ME,
                        smtp=SmtpTransport(smtp.host, smtp.port, "none"))
