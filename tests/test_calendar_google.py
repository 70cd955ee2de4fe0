"""Google Calendar backend over the client's own HttpMockSequence and its shipped discovery document.

Each test asserts the exact requests (method, URI, JSON body): in particular which calls use
sendUpdates=all (inviting, cancelling) and which never notify anyone (creating, updating).
"""

from __future__ import annotations

import os

os.environ["NO_GCE_CHECK"] = "true"  # before anything imports google.auth

import json
from pathlib import Path
from typing import Any

import pytest
from googleapiclient.http import HttpMockSequence  # type: ignore[import-untyped]

from agentkit import Agent, ConfirmationRequest, ToolResultMessage, UserError
from agentkit.testing import ScriptedModel, call, text
from agentkit.toolkits import load_toolkit
from agentkit.toolkits._google_auth import build_service
from agentkit.toolkits.calendar import GoogleCalendarBackend, calendar_tools

from .pim_servers import recording_confirmer

API = "https://www.googleapis.com/calendar/v3"
EVENTS = f"{API}/calendars/primary/events"

EVENT = {
    "id": "ev1", "status": "confirmed", "summary": "Review",
    "start": {"dateTime": "2025-03-28T14:00:00+01:00", "timeZone": "Europe/Paris"},
    "end": {"dateTime": "2025-03-28T15:00:00+01:00", "timeZone": "Europe/Paris"},
    "attendees": [{"email": "ana@example.org", "responseStatus": "accepted"}],
}


def ok(body: Any) -> tuple[dict[str, str], str]:
    return {"status": "200"}, json.dumps(body)


def no_content() -> tuple[dict[str, str], str]:
    return {"status": "204"}, ""


def google(responses: list[tuple[dict[str, str], str]]) -> tuple[GoogleCalendarBackend, Any]:
    http = HttpMockSequence(responses)
    return GoogleCalendarBackend(build_service("calendar", "v3", http=http)), http


def requests(http: Any) -> list[tuple[str, str, Any]]:
    return [(method, uri, json.loads(body) if body else None) for uri, method, body, _ in http.request_sequence]


def agent_run(backend: GoogleCalendarBackend, name: str, arguments: dict[str, Any],
              seen: list[ConfirmationRequest] | None = None) -> ToolResultMessage:
    log = seen if seen is not None else []
    model = ScriptedModel([call(name, arguments), text("done")])
    result = Agent(model, tools=calendar_tools(backend),
                   confirmer=recording_confirmer(log)).run_sync("go")
    [answer] = [m for m in result.messages if isinstance(m, ToolResultMessage)]
    return answer


def test_list_events_expanded_by_google_and_paginated() -> None:
    backend, http = google([
        ok({"items": [
            {"id": "yoga_20250324T170000Z", "recurringEventId": "yoga", "summary": "Yoga", "status": "confirmed",
             "start": {"dateTime": "2025-03-24T18:00:00+01:00", "timeZone": "Europe/Paris"},
             "end": {"dateTime": "2025-03-24T19:00:00+01:00", "timeZone": "Europe/Paris"},
             "originalStartTime": {"dateTime": "2025-03-24T18:00:00+01:00", "timeZone": "Europe/Paris"}},
            {"id": "gone", "status": "cancelled"},
        ], "nextPageToken": "page2"}),
        ok({"items": [
            {"id": "holiday", "summary": "Holiday", "status": "confirmed", "transparency": "transparent",
             "start": {"date": "2025-04-01"}, "end": {"date": "2025-04-02"}},
        ]}),
    ])
    answer = agent_run(backend, "list_events", {"start": "2025-03-20T00:00:00Z", "end": "2025-04-05T00:00:00Z",
                                                "timezone": "America/New_York"})
    assert requests(http) == [
        ("GET", f"{EVENTS}?timeMin=2025-03-19T20%3A00%3A00-04%3A00&timeMax=2025-04-04T20%3A00%3A00-04%3A00"
                "&singleEvents=true&orderBy=startTime&maxResults=250&alt=json", None),
        ("GET", f"{EVENTS}?timeMin=2025-03-19T20%3A00%3A00-04%3A00&timeMax=2025-04-04T20%3A00%3A00-04%3A00"
                "&singleEvents=true&orderBy=startTime&maxResults=250&pageToken=page2&alt=json", None),
    ]
    listing = json.loads(answer.content)
    assert listing["events"] == [
        {"event_id": "yoga", "title": "Yoga", "start": "2025-03-24T13:00:00-04:00",
         "end": "2025-03-24T14:00:00-04:00", "recurring": True, "occurrence": "2025-03-24T13:00:00-04:00",
         "status": "CONFIRMED"},
        {"event_id": "holiday", "title": "Holiday", "start": "2025-04-01", "end": "2025-04-02", "all_day": True,
         "status": "CONFIRMED", "busy": False},
    ]


def test_free_busy_query() -> None:
    backend, http = google([ok({"kind": "calendar#freeBusy", "calendars": {"primary": {"busy": [
        {"start": "2025-03-10T09:00:00Z", "end": "2025-03-10T10:00:00Z"},
        {"start": "2025-03-10T09:30:00Z", "end": "2025-03-10T11:00:00Z"},
    ]}}})])
    answer = agent_run(backend, "free_busy", {"start": "2025-03-10T08:00:00Z", "end": "2025-03-10T12:00:00Z"})
    assert requests(http) == [("POST", f"{API}/freeBusy?alt=json", {
        "timeMin": "2025-03-10T08:00:00+00:00", "timeMax": "2025-03-10T12:00:00+00:00", "items": [{"id": "primary"}],
    })]
    assert json.loads(answer.content) == {
        "timezone": "UTC+0000",
        "busy": [{"start": "2025-03-10T09:00:00+00:00", "end": "2025-03-10T11:00:00+00:00"}],
        "free": [{"start": "2025-03-10T08:00:00+00:00", "end": "2025-03-10T09:00:00+00:00"},
                 {"start": "2025-03-10T11:00:00+00:00", "end": "2025-03-10T12:00:00+00:00"}],
    }


def test_free_busy_errors_are_reported() -> None:
    backend, _ = google([ok({"calendars": {"primary": {"errors": [{"domain": "global", "reason": "notFound"}]}}})])
    answer = agent_run(backend, "free_busy", {"start": "2025-03-10T08:00:00Z", "end": "2025-03-10T12:00:00Z"})
    assert answer.is_error
    assert "could not report busy time: notFound" in answer.content


def test_create_event_never_notifies() -> None:
    backend, http = google([ok({**EVENT, "attendees": []})])
    seen: list[ConfirmationRequest] = []
    agent_run(backend, "create_event", {"title": "Review", "start": "2025-03-28T14:00", "end": "2025-03-28T15:00",
                                        "timezone": "Europe/Paris", "description": "Q1"}, seen)
    assert requests(http) == [("POST", f"{EVENTS}?sendUpdates=none&alt=json", {
        "summary": "Review",
        "start": {"dateTime": "2025-03-28T14:00:00+01:00", "timeZone": "Europe/Paris"},
        "end": {"dateTime": "2025-03-28T15:00:00+01:00", "timeZone": "Europe/Paris"},
        "description": "Q1",
    })]
    assert "Create this event in the Google Calendar 'primary'" in (seen[0].preview or "")


def test_update_event_patches_without_notifying() -> None:
    moved = {**EVENT, "start": {"dateTime": "2025-03-31T10:00:00+02:00", "timeZone": "Europe/Paris"},
             "end": {"dateTime": "2025-03-31T11:00:00+02:00", "timeZone": "Europe/Paris"}}
    backend, http = google([ok(EVENT), ok(EVENT), ok(moved)])
    seen: list[ConfirmationRequest] = []
    answer = agent_run(backend, "update_event", {"event_id": "ev1", "start": "2025-03-31T10:00",
                                                 "timezone": "Europe/Paris"}, seen)
    assert requests(http) == [
        ("GET", f"{EVENTS}/ev1?alt=json", None),  # preview
        ("GET", f"{EVENTS}/ev1?alt=json", None),  # the tool reads the current length
        ("PATCH", f"{EVENTS}/ev1?sendUpdates=none&alt=json", {
            "start": {"dateTime": "2025-03-31T10:00:00+02:00", "timeZone": "Europe/Paris"},
            "end": {"dateTime": "2025-03-31T11:00:00+02:00", "timeZone": "Europe/Paris"},
        }),
    ]
    assert "Attendees are not notified of this change." in (seen[0].preview or "")
    assert json.loads(answer.content)["updated"]["start"] == "2025-03-31T10:00:00+02:00"


def test_invite_adds_attendees_and_sends_updates() -> None:
    invited = {**EVENT, "attendees": [*EVENT["attendees"], {"email": "bo@example.org"}]}
    backend, http = google([ok(EVENT), ok(EVENT), ok(invited)])
    seen: list[ConfirmationRequest] = []
    answer = agent_run(backend, "invite_to_event",
                       {"event_id": "ev1", "attendees": ["Ana <ana@example.org>", "bo@example.org"]}, seen)
    assert requests(http) == [
        ("GET", f"{EVENTS}/ev1?alt=json", None),
        ("GET", f"{EVENTS}/ev1?alt=json", None),
        ("PATCH", f"{EVENTS}/ev1?sendUpdates=all&alt=json", {"attendees": [
            {"email": "ana@example.org", "responseStatus": "accepted"}, {"email": "bo@example.org"},
        ]}),
    ]
    assert seen[0].effect == "send"
    assert "will email an invitation to: bo@example.org." in (seen[0].preview or "")
    assert "The 1 attendee(s) already invited may get an update notice." in (seen[0].preview or "")
    assert json.loads(answer.content)["notified"] == ["bo@example.org"]


def test_delete_cancels_for_attendees() -> None:
    backend, http = google([ok(EVENT), no_content()])
    seen: list[ConfirmationRequest] = []
    answer = agent_run(backend, "delete_event", {"event_id": "ev1"}, seen)
    assert requests(http) == [
        ("GET", f"{EVENTS}/ev1?alt=json", None),
        ("DELETE", f"{EVENTS}/ev1?sendUpdates=all", None),
    ]
    assert "1 attendee(s) will be sent a cancellation." in (seen[0].preview or "")
    assert answer.content == "Deleted event ev1."


def test_missing_event_is_a_correction() -> None:
    gone = ({"status": "404"}, json.dumps({"error": {"code": 404, "message": "Not Found"}}))
    backend, http = google([gone, gone])
    seen: list[ConfirmationRequest] = []
    answer = agent_run(backend, "delete_event", {"event_id": "nope"}, seen)
    assert answer.is_error
    assert "There is no event with event_id 'nope'" in answer.content
    assert "will be refused" in (seen[0].preview or "")
    assert [m for m, _, _ in requests(http)] == ["GET", "DELETE"]


def test_credentials_file_from_config(tmp_path: Path) -> None:
    credentials = tmp_path / "token.json"
    credentials.write_text(json.dumps({
        "type": "authorized_user", "client_id": "id.apps.googleusercontent.com", "client_secret": "s",
        "refresh_token": "r",
    }))
    tools = load_toolkit("calendar", {"backend": {"kind": "google", "credentials_file": str(credentials)}})
    assert len(tools) == 6
    with pytest.raises(UserError, match="does not exist"):
        load_toolkit("calendar", {"backend": {"kind": "google", "credentials_file": str(tmp_path / "x.json")}})
