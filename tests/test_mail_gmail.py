"""Gmail backend over the client's own HttpMockSequence and its shipped discovery document: no network.

Each test asserts the exact requests (method, URI, JSON body) the tools make.
"""

from __future__ import annotations

import os

os.environ["NO_GCE_CHECK"] = "true"  # before anything imports google.auth

import base64
import json
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import pytest
from googleapiclient.http import HttpMockSequence  # type: ignore[import-untyped]

from agentkit import Agent, ConfirmationRequest, Confirmer, ToolResultMessage, UserError
from agentkit.testing import ScriptedModel, call, text
from agentkit.toolkits import load_toolkit
from agentkit.toolkits._google_auth import build_service
from agentkit.toolkits.mail import Draft, GmailBackend, mail_tools

from .pim_servers import recording_confirmer

API = "https://gmail.googleapis.com/gmail/v1/users/me"
ME = "me@example.org"


def ok(body: Any) -> tuple[dict[str, str], str]:
    return {"status": "200"}, json.dumps(body)


def not_found() -> tuple[dict[str, str], str]:
    return {"status": "404"}, json.dumps({"error": {"code": 404, "message": "Requested entity was not found."}})


def raw(sender: str, to: str, subject: str, body: str, **headers: str) -> str:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = sender, to, subject
    for name, value in headers.items():
        message[name] = value
    message.set_content(body)
    return base64.urlsafe_b64encode(message.as_bytes()).decode().rstrip("=")


def backend(responses: list[tuple[dict[str, str], str]], **options: Any) -> tuple[GmailBackend, Any]:
    http = HttpMockSequence(responses)
    options.setdefault("from_address", ME)
    return GmailBackend(build_service("gmail", "v1", http=http), **options), http


def requests(http: Any) -> list[tuple[str, str, Any]]:
    return [(method, uri, json.loads(body) if body else None) for uri, method, body, _ in http.request_sequence]


def results(messages: list[Any]) -> list[ToolResultMessage]:
    return [m for m in messages if isinstance(m, ToolResultMessage)]


def test_gce_probe_is_disabled() -> None:
    assert os.environ["NO_GCE_CHECK"] == "true"


def test_search_and_read(tmp_path: Path) -> None:
    gmail, http = backend([
        ok({"messages": [{"id": "m1", "threadId": "t1"}], "resultSizeEstimate": 1}),
        ok({"id": "m1", "labelIds": ["INBOX", "UNREAD"], "snippet": "Please pay &amp; thanks",
            "payload": {"headers": [{"name": "From", "value": "Ana <ana@example.org>"},
                                    {"name": "To", "value": '"Doe, Jo" <jo@example.org>, me@example.org'},
                                    {"name": "Subject", "value": "Invoice"},
                                    {"name": "Date", "value": "Mon, 10 Mar 2025 09:00:00 +0100"}]}}),
        ok({"id": "m1", "labelIds": ["INBOX"], "raw": raw("Ana <ana@example.org>", ME, "Invoice", "Pay 42 EUR.")}),
    ])
    model = ScriptedModel([
        call("search_mail", {"query": "from:ana invoice", "limit": 5}),
        call("read_mail", {"message_id": "m1"}),
        text("ok"),
    ])
    result = Agent(model, tools=mail_tools(gmail)).run_sync("invoice?")
    assert requests(http) == [
        ("GET", f"{API}/messages?q=from%3Aana+invoice&maxResults=5&alt=json", None),
        ("GET", f"{API}/messages/m1?format=metadata&metadataHeaders=From&metadataHeaders=To"
                "&metadataHeaders=Subject&metadataHeaders=Date&alt=json", None),
        ("GET", f"{API}/messages/m1?format=raw&alt=json", None),
    ]
    search, read = results(result.messages)
    found = json.loads(search.content)
    assert found == [{"id": "m1", "folder": "INBOX", "from": "Ana <ana@example.org>",
                      "to": ['"Doe, Jo" <jo@example.org>', "me@example.org"], "subject": "Invoice",
                      "date": "2025-03-10T09:00:00+01:00", "snippet": "Please pay & thanks", "unread": True}]
    assert json.loads(read.content)["body"] == "Pay 42 EUR."
    assert read.provenance == "untrusted"


def test_draft_then_send_exact_requests() -> None:
    stored = raw(ME, "bob@example.org", "Lunch", "Thursday?", Date="Mon, 10 Mar 2025 09:00:00 +0100")
    draft_response = ok({"id": "r-123", "message": {"id": "m9", "raw": stored}})
    gmail, http = backend([
        ok({"id": "r-123", "message": {"id": "m9", "threadId": "t9", "labelIds": ["DRAFT"]}}),  # drafts.create
        draft_response,  # send preview: drafts.get
        draft_response,  # send_mail: the digest check
        draft_response,  # the backend reads what it sends
        ok({"id": "m9", "threadId": "t9", "labelIds": ["SENT"]}),  # drafts.send
    ])
    model = ScriptedModel([
        call("draft_mail", {"to": ["bob@example.org"], "subject": "Lunch", "body": "Thursday?"}),
        call("send_mail", {"draft_id": Draft(id="r-123", sender=ME, to=("bob@example.org",), subject="Lunch",
                                             body="Thursday?").handle}),
        text("sent"),
    ])
    seen: list[ConfirmationRequest] = []
    result = Agent(model, tools=mail_tools(gmail), confirmer=recording_confirmer(seen)).run_sync(
        "lunch with bob"
    )
    sent = requests(http)
    assert [(m, u) for m, u, _ in sent] == [
        ("POST", f"{API}/drafts?alt=json"),
        ("GET", f"{API}/drafts/r-123?format=raw&alt=json"),
        ("GET", f"{API}/drafts/r-123?format=raw&alt=json"),
        ("GET", f"{API}/drafts/r-123?format=raw&alt=json"),
        ("POST", f"{API}/drafts/send?alt=json"),
    ]
    created = sent[0][2]
    message = BytesParser(policy=default_policy).parsebytes(base64.urlsafe_b64decode(created["message"]["raw"]))
    assert (message["From"], message["To"], message["Subject"]) == (ME, "bob@example.org", "Lunch")
    assert message.get_content().strip() == "Thursday?"
    assert b"\r\n" in base64.urlsafe_b64decode(created["message"]["raw"])
    assert sent[4][2] == {"id": "r-123"}
    assert "via the Gmail API" in (seen[1].preview or "")
    assert "To: bob@example.org" in (seen[1].preview or "")
    drafted, done = results(result.messages)
    assert "draft_id: r-123#" in drafted.content
    assert done.content == "Sent to bob@example.org (message id m9)."


def test_list_drafts() -> None:
    stored = raw(ME, "bob@example.org", "Lunch", "Thursday?")
    gmail, http = backend([
        ok({"drafts": [{"id": "r-1", "message": {"id": "m1", "threadId": "t1"}}], "resultSizeEstimate": 1}),
        ok({"id": "r-1", "message": {"id": "m1", "raw": stored}}),
    ])
    result = Agent(ScriptedModel([call("list_drafts", {"limit": 3}), text("one")]), tools=mail_tools(gmail)).run_sync(
        "drafts?"
    )
    assert [(m, u) for m, u, _ in requests(http)] == [
        ("GET", f"{API}/drafts?maxResults=3&alt=json"),
        ("GET", f"{API}/drafts/r-1?format=raw&alt=json"),
    ]
    handle = Draft(id="r-1", sender=ME, to=("bob@example.org",), subject="Lunch", body="Thursday?").handle
    [listing] = results(result.messages)
    assert json.loads(listing.content) == [
        {"draft_id": handle, "to": ["bob@example.org"], "subject": "Lunch", "snippet": "Thursday?"}
    ]


def test_changed_draft_is_never_sent() -> None:
    changed = raw(ME, "eve@example.org", "Lunch", "Thursday?")
    gmail, http = backend([ok({"id": "r-1", "message": {"id": "m1", "raw": changed}})] * 2)
    handle = Draft(id="r-1", sender=ME, to=("bob@example.org",), subject="Lunch", body="Thursday?").handle
    model = ScriptedModel([call("send_mail", {"draft_id": handle}), text("refused")])
    result = Agent(model, tools=mail_tools(gmail), confirmer=Confirmer(lambda r: True)).run_sync("send")
    [correction] = results(result.messages)
    assert "was changed after it was shown" in correction.content
    assert all(uri.endswith("drafts/r-1?format=raw&alt=json") for _, uri, _ in requests(http))


def test_send_without_confirmer_makes_no_send_request() -> None:
    stored = raw(ME, "bob@example.org", "Lunch", "Thursday?")
    gmail, http = backend([ok({"id": "r-1", "message": {"id": "m1", "raw": stored}})])
    handle = Draft(id="r-1", sender=ME, to=("bob@example.org",), subject="Lunch", body="Thursday?").handle
    paused = Agent(ScriptedModel([call("send_mail", {"draft_id": handle})]), tools=mail_tools(gmail)).run_sync("send")
    assert paused.status == "awaiting_confirmation"
    assert [(m, u) for m, u, _ in requests(http)] == [("GET", f"{API}/drafts/r-1?format=raw&alt=json")]


@pytest.mark.parametrize(("permanent", "method", "uri"), [
    (False, "POST", f"{API}/messages/m1/trash?alt=json"),
    (True, "DELETE", f"{API}/messages/m1?"),  # no response body: the client sends no alt=json
])
def test_delete_trashes_unless_permanent(permanent: bool, method: str, uri: str) -> None:
    message = ok({"id": "m1", "labelIds": ["INBOX"], "raw": raw("ana@example.org", ME, "Old", "old news")})
    gmail, http = backend([message, ok({"id": "m1", "labelIds": ["TRASH"]} if not permanent else {})],
                          permanent_delete=permanent)
    seen: list[ConfirmationRequest] = []
    model = ScriptedModel([call("delete_mail", {"message_id": "m1"}), text("gone")])
    Agent(model, tools=mail_tools(gmail), confirmer=recording_confirmer(seen)).run_sync("delete")
    assert requests(http)[1][:2] == (method, uri)
    assert ("PERMANENTLY" in (seen[0].preview or "")) is permanent
    assert "Subject: Old" in (seen[0].preview or "")


def test_missing_message_is_a_correction() -> None:
    gmail, _http = backend([not_found()])
    result = Agent(ScriptedModel([call("read_mail", {"message_id": "nope"}), text("no")]),
                   tools=mail_tools(gmail)).run_sync("read")
    [correction] = results(result.messages)
    assert correction.is_error
    assert "no message 'nope'" in correction.content


def test_sender_comes_from_the_profile_once() -> None:
    gmail, http = backend([ok({"emailAddress": "owner@example.org", "messagesTotal": 1})], from_address=None)
    assert gmail.from_address == "owner@example.org"
    assert gmail.from_address == "owner@example.org"
    assert [(m, u) for m, u, _ in requests(http)] == [("GET", f"{API}/profile?alt=json")]


def test_credentials_file_from_config(tmp_path: Path) -> None:
    credentials = tmp_path / "token.json"
    credentials.write_text(json.dumps({
        "type": "authorized_user", "client_id": "id.apps.googleusercontent.com", "client_secret": "s",
        "refresh_token": "r",
    }))
    tools = load_toolkit("mail", {"backend": {"kind": "gmail", "credentials_file": str(credentials)}})
    assert [t.name for t in tools][:2] == ["search_mail", "read_mail"]
    with pytest.raises(UserError, match="does not exist"):
        load_toolkit("mail", {"backend": {"kind": "gmail", "credentials_file": str(tmp_path / "missing.json")}})
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(UserError, match="not an authorized-user OAuth file"):
        load_toolkit("mail", {"backend": {"kind": "gmail", "credentials_file": str(tmp_path / "bad.json")}})
