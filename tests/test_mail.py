"""Mail toolkit on a local Maildir, sending through a real SMTP server (aiosmtpd on 127.0.0.1).

Every tool runs end to end through `Agent` with a scripted model; sending is checked at the SMTP server.
"""

from __future__ import annotations

import mailbox
import re
from collections.abc import Callable, Iterator
from dataclasses import replace
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from agentkit import Agent, ConfirmationRequest, Confirmer, ToolResultMessage, UserError
from agentkit.testing import FunctionModel, ScriptedModel, ScriptedTurn, call, text
from agentkit.toolkits import load_toolkit
from agentkit.toolkits.mail import (
    Config,
    Draft,
    MaildirBackend,
    MaildirConfig,
    MailError,
    SmtpConfig,
    SmtpTransport,
    mail_tools,
    toolkit,
)

from .pim_servers import SmtpServer, smtp_server

pytestmark = pytest.mark.server  # aiosmtpd on 127.0.0.1

ME = "me@example.org"


@pytest.fixture(scope="module")
def smtp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SmtpServer]:
    with smtp_server(tmp_path_factory.mktemp("smtp") / "received") as server:
        yield server


@pytest.fixture
def received(smtp: SmtpServer) -> SmtpServer:
    smtp.clear()
    return smtp


def _message(sender: str, to: str, subject: str, body: str, date: str, *, html: str | None = None) -> bytes:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = date
    message.set_content(body)
    if html is not None:
        message.add_alternative(html, subtype="html")
    return message.as_bytes()


def _seed(root: Path) -> dict[str, str]:
    """Three inbox messages; returns subject -> id."""
    box = mailbox.Maildir(root, create=True)
    ids = {}
    for sender, subject, body, date in [
        ("Ana <ana@example.org>", "Invoice March", "Please pay invoice 42 by Friday.", "Mon, 10 Mar 2025 09:00:00 +0100"),
        ("bob@example.org", "Lunch?", "Lunch on Thursday at noon?", "Tue, 11 Mar 2025 10:00:00 +0100"),
        ("ana@example.org", "Re: invoice", "Paid, thanks.", "Wed, 12 Mar 2025 11:00:00 +0100"),
    ]:
        key = box.add(mailbox.MaildirMessage(_message(sender, ME, subject, body, date)))
        ids[subject] = f"INBOX/{key}"
    return ids


@pytest.fixture
def backend(tmp_path: Path, smtp: SmtpServer) -> MaildirBackend:
    return MaildirBackend(tmp_path / "Mail", from_address=ME, smtp=SmtpTransport(smtp.host, smtp.port, "none"))


def _tools(backend: MaildirBackend) -> dict[str, Any]:
    return {t.name: t for t in mail_tools(backend)}


def _steps(*steps: Callable[[str], ScriptedTurn]) -> FunctionModel:
    """A model whose n-th turn is computed from the content of the last message it was sent."""

    def respond(request: Any) -> ScriptedTurn:
        index = len(model.requests) - 1
        if index >= len(steps):
            raise AssertionError(f"unexpected model request #{index + 1}")
        return steps[index](getattr(request.messages[-1], "content", ""))

    model = FunctionModel(respond)
    return model


def _draft_id(content: str) -> str:
    match = re.search(r"draft_id: (\S+)", content)
    assert match, content
    return match.group(1)


def _approve(seen: list[ConfirmationRequest]) -> Confirmer:
    def answer(request: ConfirmationRequest) -> bool:
        seen.append(request)
        return True

    return Confirmer(answer)


def _tool_results(messages: list[Any]) -> list[ToolResultMessage]:
    return [m for m in messages if isinstance(m, ToolResultMessage)]


# -- end to end through the agent ---------------------------------------------------------------------------
def test_draft_then_send_through_agent(backend: MaildirBackend, received: SmtpServer) -> None:
    model = _steps(
        lambda _: call("draft_mail", {"to": ["Bob <bob@example.org>"], "cc": "carol@example.org",
                                      "subject": "Lunch", "body": "Thursday at noon?"}),
        lambda content: call("send_mail", {"draft_id": _draft_id(content)}),
        lambda content: text(f"Done: {content}"),
    )
    seen: list[ConfirmationRequest] = []
    result = Agent(model, tools=mail_tools(backend), confirmer=_approve(seen)).run_sync("Invite Bob to lunch")

    assert [r.call.name for r in seen] == ["draft_mail", "send_mail"]
    assert [r.effect for r in seen] == ["write", "send"]
    draft_preview, send_preview = seen[0].preview or "", seen[1].preview or ""
    assert "nothing is sent" in draft_preview
    for preview in (draft_preview, send_preview):
        assert "From: me@example.org" in preview
        assert "To: Bob <bob@example.org>" in preview
        assert "Cc: carol@example.org" in preview
        assert "Subject: Lunch" in preview
        assert "Thursday at noon?" in preview
    assert f"via SMTP 127.0.0.1:{received.port}" in send_preview
    assert "to bob@example.org, carol@example.org" in send_preview

    [delivered] = received.received()
    assert delivered["Subject"] == "Lunch"
    assert delivered["X-RcptTo"] == "bob@example.org, carol@example.org"
    assert delivered["X-MailFrom"] == ME
    assert str(delivered.get_payload()).strip() == "Thursday at noon?"
    assert backend.list_drafts(10) == []
    sent = mailbox.Maildir(backend.path / ".Sent", create=False)
    assert [m["Subject"] for m in sent] == ["Lunch"]
    assert "Sent to bob@example.org, carol@example.org" in result.output


def test_send_without_confirmer_pauses_and_sends_nothing(backend: MaildirBackend, received: SmtpServer) -> None:
    draft = backend.create_draft(Draft(id="", sender=ME, to=("bob@example.org",), subject="Hi", body="Hello"))
    model = ScriptedModel([call("send_mail", {"draft_id": draft.handle})])
    agent = Agent(model, tools=mail_tools(backend))
    paused = agent.run_sync("send my draft")

    assert paused.status == "awaiting_confirmation"
    assert paused.state is not None
    pending = paused.state.pending[0]
    assert pending.effect == "send"
    assert "To: bob@example.org" in (pending.preview or "")
    assert "Hello" in (pending.preview or "")
    assert received.received() == []
    assert [d.subject for d in backend.list_drafts(10)] == ["Hi"]

    resumed = Agent(ScriptedModel([text("sent")]), tools=mail_tools(backend)).run_sync(
        state=paused.state, decisions={pending.fingerprint: "approve"}
    )
    assert resumed.output == "sent"
    assert [m["Subject"] for m in received.received()] == ["Hi"]
    assert backend.list_drafts(10) == []


def test_denied_send_sends_nothing(backend: MaildirBackend, received: SmtpServer) -> None:
    draft = backend.create_draft(Draft(id="", sender=ME, to=("bob@example.org",), subject="Hi", body="Hello"))
    model = ScriptedModel([call("send_mail", {"draft_id": draft.handle}), text("not sent")])
    result = Agent(model, tools=mail_tools(backend), confirmer=Confirmer(lambda r: False)).run_sync("send it")
    assert result.output == "not sent"
    assert received.received() == []
    assert len(backend.list_drafts(10)) == 1


def test_changed_draft_is_not_sent(backend: MaildirBackend, received: SmtpServer) -> None:
    draft = backend.create_draft(Draft(id="", sender=ME, to=("bob@example.org",), subject="Hi", body="Hello"))
    drafts = mailbox.Maildir(backend.path / ".Drafts", create=False)
    key = draft.id.split("/", 1)[1]
    edited = drafts.get_bytes(key).replace(b"Hello", b"Send me the password")
    drafts[key] = mailbox.MaildirMessage(edited)  # edited in another mail client: same id, new content

    model = ScriptedModel([call("send_mail", {"draft_id": draft.handle}), text("the draft changed")])
    seen: list[ConfirmationRequest] = []
    result = Agent(model, tools=mail_tools(backend), confirmer=_approve(seen)).run_sync("send it")
    assert "will be refused" in (seen[0].preview or "")
    [correction] = _tool_results(result.messages)
    assert correction.is_error
    assert "was changed after it was shown" in correction.content
    assert received.received() == []


def test_send_needs_a_draft_id_with_digest(backend: MaildirBackend, received: SmtpServer) -> None:
    draft = backend.create_draft(Draft(id="", sender=ME, to=("bob@example.org",), subject="Hi", body="Hello"))
    model = ScriptedModel([call("send_mail", {"draft_id": draft.id}), text("ok")])
    result = Agent(model, tools=mail_tools(backend), confirmer=Confirmer(lambda r: True)).run_sync("send it")
    [correction] = _tool_results(result.messages)
    assert "Pass the draft_id exactly as it was returned" in correction.content
    assert received.received() == []


def test_invalid_recipient_gets_a_correction(backend: MaildirBackend) -> None:
    model = ScriptedModel([
        call("draft_mail", {"to": ["bob"], "subject": "Hi", "body": "x"}),
        call("draft_mail", {"to": ["bob@example.org"], "subject": "Hi", "body": "x"}),
        text("drafted"),
    ])
    seen: list[ConfirmationRequest] = []
    result = Agent(model, tools=mail_tools(backend), confirmer=_approve(seen)).run_sync("draft to bob")
    bad, good = _tool_results(result.messages)
    assert bad.is_error
    assert "Invalid e-mail address in to: 'bob'" in bad.content
    assert "will be refused" in (seen[0].preview or "")
    assert "Draft saved" in good.content
    assert [d.to for d in backend.list_drafts(10)] == [("bob@example.org",)]


def test_subject_with_line_break_is_refused(backend: MaildirBackend) -> None:
    model = ScriptedModel([
        call("draft_mail", {"to": ["bob@example.org"], "subject": "Hi\nBcc: eve@example.org", "body": "x"}),
        text("no"),
    ])
    result = Agent(model, tools=mail_tools(backend), confirmer=Confirmer(lambda r: True)).run_sync("x")
    [correction] = _tool_results(result.messages)
    assert "subject must be one line" in correction.content
    assert backend.list_drafts(10) == []


def test_search_and_read_through_agent(backend: MaildirBackend) -> None:
    ids = _seed(backend.path)
    model = _steps(
        lambda _: call("search_mail", {"query": "invoice", "limit": 5}),
        lambda _: call("read_mail", {"message_id": ids["Invoice March"]}),
        lambda _: text("read it"),
    )
    result = Agent(model, tools=mail_tools(backend)).run_sync("what about the invoice?")
    search, read = _tool_results(result.messages)
    assert search.provenance == "untrusted"
    assert read.provenance == "untrusted"
    assert re.findall(r'"subject": "([^"]+)"', search.content) == ["Re: invoice", "Invoice March"]  # newest first
    assert '"unread": true' in search.content
    assert "Please pay invoice 42 by Friday." in read.content
    assert '"from": "Ana <ana@example.org>"' in read.content


def test_search_fields_and_all_words(backend: MaildirBackend) -> None:
    _seed(backend.path)
    assert [s.subject for s in backend.search("from:bob", 10)] == ["Lunch?"]
    assert [s.subject for s in backend.search("subject:invoice paid", 10)] == ["Re: invoice"]
    assert [s.subject for s in backend.search('"invoice 42"', 10)] == ["Invoice March"]
    assert backend.search("invoice lunch", 10) == []
    assert len(backend.search("", 2)) == 2


def test_html_only_body_is_read_as_text(backend: MaildirBackend) -> None:
    box = mailbox.Maildir(backend.path, create=True)
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "news@example.org", ME, "News"
    message.set_content("<html><head><style>p{}</style></head><body><p>Big <b>news</b></p>"
                        "<script>alert(1)</script><p>Second</p></body></html>", subtype="html")
    key = box.add(mailbox.MaildirMessage(message.as_bytes()))
    read = backend.read(f"INBOX/{key}")
    assert read.body == "Big news\n\nSecond"


def test_delete_moves_to_trash_through_agent(backend: MaildirBackend) -> None:
    ids = _seed(backend.path)
    model = ScriptedModel([call("delete_mail", {"message_id": ids["Lunch?"]}), text("deleted")])
    seen: list[ConfirmationRequest] = []
    Agent(model, tools=mail_tools(backend), confirmer=_approve(seen)).run_sync("delete the lunch mail")
    [request] = seen
    assert request.effect == "destructive"
    assert "Move to the trash" in (request.preview or "")
    assert "Subject: Lunch?" in (request.preview or "")
    assert "From: bob@example.org" in (request.preview or "")
    assert "Lunch?" not in [s.subject for s in backend.search("", 10)]
    trash = mailbox.Maildir(backend.path / ".Trash", create=False)
    assert [m["Subject"] for m in trash] == ["Lunch?"]


def test_delete_without_confirmer_keeps_the_message(backend: MaildirBackend) -> None:
    ids = _seed(backend.path)
    paused = Agent(ScriptedModel([call("delete_mail", {"message_id": ids["Lunch?"]})]),
                   tools=mail_tools(backend)).run_sync("delete")
    assert paused.status == "awaiting_confirmation"
    assert len(backend.search("", 10)) == 3


def test_permanent_delete_and_unknown_id(tmp_path: Path) -> None:
    backend = MaildirBackend(tmp_path / "Mail", from_address=ME, permanent_delete=True)
    ids = _seed(backend.path)
    tools = _tools(backend)
    model = ScriptedModel([
        call("delete_mail", {"message_id": ids["Lunch?"]}),
        call("delete_mail", {"message_id": "INBOX/nope"}),
        text("done"),
    ])
    seen: list[ConfirmationRequest] = []
    result = Agent(model, tools=list(tools.values()), confirmer=_approve(seen)).run_sync("delete")
    assert "PERMANENTLY delete" in (seen[0].preview or "")
    assert "will be refused" in (seen[1].preview or "")
    done, missing = _tool_results(result.messages)
    assert "permanently deleted" in done.content
    assert missing.is_error
    assert "Use an id returned by search_mail" in missing.content
    assert not (backend.path / ".Trash").exists()
    assert len(backend.search("", 10)) == 2


def test_outbox_delivery_keeps_bcc_for_the_sender(tmp_path: Path) -> None:
    backend = MaildirBackend(tmp_path / "Mail", from_address=ME, outbox=tmp_path / "outbox")
    draft = backend.create_draft(Draft(id="", sender=ME, to=("bob@example.org",), bcc=("boss@example.org",),
                                       subject="Report", body="Attached."))
    model = ScriptedModel([call("send_mail", {"draft_id": draft.handle}), text("ok")])
    seen: list[ConfirmationRequest] = []
    Agent(model, tools=mail_tools(backend), confirmer=_approve(seen)).run_sync("send")
    preview = seen[0].preview or ""
    assert "Bcc: boss@example.org" in preview
    assert "outbox Maildir" in preview
    [queued] = list(mailbox.Maildir(tmp_path / "outbox", create=False))
    assert queued["Bcc"] == "boss@example.org"
    assert queued["Subject"] == "Report"


def test_bcc_is_in_the_envelope_not_the_headers(tmp_path: Path, received: SmtpServer) -> None:
    backend = MaildirBackend(tmp_path / "Mail", from_address=ME,
                             smtp=SmtpTransport(received.host, received.port, "none"))
    draft = backend.create_draft(Draft(id="", sender=ME, to=("bob@example.org",), bcc=("boss@example.org",),
                                       subject="Report", body="Attached."))
    backend.send_draft(draft.id)
    [delivered] = received.received()
    assert delivered["Bcc"] is None
    assert delivered["X-RcptTo"] == "bob@example.org, boss@example.org"


def test_no_transport_is_refused_and_the_draft_kept(tmp_path: Path) -> None:
    backend = MaildirBackend(tmp_path / "Mail", from_address=ME)
    draft = backend.create_draft(Draft(id="", sender=ME, to=("bob@example.org",), subject="Hi", body="x"))
    model = ScriptedModel([call("send_mail", {"draft_id": draft.handle}), text("could not send")])
    result = Agent(model, tools=mail_tools(backend), confirmer=Confirmer(lambda r: True)).run_sync("send")
    [failure] = _tool_results(result.messages)
    assert failure.is_error
    assert "set `outbox`" in failure.content
    assert "`smtp`" in failure.content
    assert len(backend.list_drafts(10)) == 1


def test_smtp_server_down_keeps_the_draft(tmp_path: Path) -> None:
    from .pim_servers import free_port

    backend = MaildirBackend(tmp_path / "Mail", from_address=ME,
                             smtp=SmtpTransport("127.0.0.1", free_port(), "none", timeout=2))
    draft = backend.create_draft(Draft(id="", sender=ME, to=("bob@example.org",), subject="Hi", body="x"))
    with pytest.raises(MailError, match=r"SMTP 127\.0\.0\.1:\d+ \(none\) failed: ConnectionRefusedError"):
        backend.send_draft(draft.id)
    assert len(backend.list_drafts(10)) == 1


def test_list_drafts_gives_send_handles(backend: MaildirBackend) -> None:
    backend.create_draft(Draft(id="", sender=ME, to=("bob@example.org",), subject="One", body="1"))
    model = ScriptedModel([call("list_drafts", {}), text("one draft")])
    result = Agent(model, tools=mail_tools(backend)).run_sync("my drafts?")
    [listing] = _tool_results(result.messages)
    [draft] = backend.list_drafts(10)
    assert draft.handle in listing.content
    assert re.search(r"#[0-9a-f]{16}", draft.handle)


def test_digest_binds_people_and_text_not_encoding() -> None:
    base = Draft(id="d", sender="Me <me@example.org>", to=("Bob <bob@example.org>",), subject="Hi  there",
                 body="Line 1\nLine 2\n")
    reencoded = Draft(id="d", sender="me@example.org", to=("BOB@example.org",), subject="Hi there",
                      body="Line 1  \r\nLine 2")
    assert base.digest() == reencoded.digest()
    changes = [
        replace(base, to=("eve@example.org",)), replace(base, cc=("eve@example.org",)),
        replace(base, to=(), bcc=("bob@example.org",)), replace(base, sender="boss@example.org"),
        replace(base, subject="Bye"), replace(base, body="Line 1\nLine 3"),
    ]
    assert len({base.digest(), *(c.digest() for c in changes)}) == len(changes) + 1


# -- configuration ------------------------------------------------------------------------------------------
def test_registry_loads_the_mail_toolkit(tmp_path: Path) -> None:
    tools = load_toolkit("mail", {"backend": {"kind": "maildir", "path": str(tmp_path / "M"), "from_address": ME}})
    assert {t.name: t.effect for t in tools} == {
        "search_mail": "read", "read_mail": "read", "list_drafts": "read", "draft_mail": "write",
        "send_mail": "send", "delete_mail": "destructive",
    }
    assert all(t.has_preview for t in tools if t.effect != "read")


def test_config_errors_say_what_to_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(UserError, match=r"backend\.maildir\.passwd: Extra inputs are not permitted"):
        load_toolkit("mail", {"backend": {"kind": "maildir", "passwd": "x"}})
    with pytest.raises(UserError, match="not an e-mail address"):
        load_toolkit("mail", {"backend": {"kind": "maildir", "from_address": "me"}})
    monkeypatch.delenv("AGENTKIT_TEST_SMTP_PASSWORD", raising=False)
    monkeypatch.setenv("AGENTKIT_TEST_SMTP_USER", "me")
    config = Config(backend=MaildirConfig(from_address=ME, smtp=SmtpConfig(
        host="127.0.0.1", security="none", username_env="AGENTKIT_TEST_SMTP_USER",
        password_env="AGENTKIT_TEST_SMTP_PASSWORD")))
    with pytest.raises(UserError, match=r"AGENTKIT_TEST_SMTP_PASSWORD .* is not set"):
        toolkit(config)


def test_clear_text_password_to_a_remote_server_is_refused() -> None:
    with pytest.raises(UserError, match="clear text"):
        SmtpTransport("smtp.example.org", 25, "none", username="me", password="secret")


def test_unset_sender_is_reported(tmp_path: Path) -> None:
    backend = MaildirBackend(tmp_path / "Mail")
    model = ScriptedModel([call("draft_mail", {"to": ["bob@example.org"], "subject": "Hi", "body": "x"}), text("no")])
    seen: list[ConfirmationRequest] = []
    result = Agent(model, tools=mail_tools(backend), confirmer=_approve(seen)).run_sync("x")
    assert "set from_address" in (seen[0].preview or "")
    [failure] = _tool_results(result.messages)
    assert failure.is_error
    assert "set from_address" in failure.content


def test_the_recipients_of_your_own_sent_mail_are_vouched_for(tmp_path: Path) -> None:
    """Only the account files mail in Sent: its recipients are people the owner chose. The inbox vouches for
    nobody (anyone can write to you, and name anyone in the mail)."""
    backend = MaildirBackend(tmp_path / "Mail", from_address=ME)
    ids = _seed(backend.path)
    sent = mailbox.Maildir(backend.path / ".Sent", create=True)
    key = sent.add(mailbox.MaildirMessage(_message(ME, "Carol <carol@partner.example>", "Plan", "The plan.",
                                                   "Thu, 13 Mar 2025 09:00:00 +0100")))
    model = ScriptedModel([call("search_mail", {"query": "plan", "limit": 5}),
                           call("read_mail", {"message_id": f"Sent/{key}"}),
                           call("read_mail", {"message_id": ids["Invoice March"]}), text("ok")])
    result = Agent(model, tools=mail_tools(backend)).run_sync("who got the plan?")
    search, read_sent, read_inbox = _tool_results(result.messages)
    assert search.vouched == ["Carol <carol@partner.example>"]
    assert read_sent.vouched == ["Carol <carol@partner.example>"]
    assert read_inbox.vouched == []
    assert read_sent.provenance == "untrusted"  # the body stays content
