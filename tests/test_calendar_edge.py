"""Calendar toolkit edge cases a demanding user hits: moving a recurring series that has exceptions, and
inviting people who are already invited."""

from __future__ import annotations

import os

os.environ["NO_GCE_CHECK"] = "true"  # before anything imports google.auth

import json
from pathlib import Path
from typing import Any

from googleapiclient.http import HttpMockSequence  # type: ignore[import-untyped]

from agentkit import Agent, ConfirmationRequest, ToolResultMessage
from agentkit.testing import ScriptedModel, call, text
from agentkit.toolkits._google_auth import build_service
from agentkit.toolkits.calendar import GoogleCalendarBackend, IcsFileBackend, calendar_tools

from .pim_servers import recording_confirmer

# Daily 09:00 Paris: the 4 March one cancelled (EXDATE), the 5 March one moved to 15:00, the 6 March one renamed.
SERIES = """BEGIN:VCALENDAR\r
VERSION:2.0\r
PRODID:-//tests//EN\r
BEGIN:VEVENT\r
UID:standup\r
DTSTAMP:20250101T000000Z\r
SUMMARY:Standup\r
DTSTART;TZID=Europe/Paris:20250303T090000\r
DTEND;TZID=Europe/Paris:20250303T093000\r
RRULE:FREQ=DAILY;COUNT=5\r
EXDATE;TZID=Europe/Paris:20250304T090000\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:standup\r
DTSTAMP:20250101T000000Z\r
RECURRENCE-ID;TZID=Europe/Paris:20250305T090000\r
SUMMARY:Standup (afternoon)\r
DTSTART;TZID=Europe/Paris:20250305T150000\r
DTEND;TZID=Europe/Paris:20250305T153000\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:standup\r
DTSTAMP:20250101T000000Z\r
RECURRENCE-ID;TZID=Europe/Paris:20250306T090000\r
SUMMARY:Standup + demo\r
DTSTART;TZID=Europe/Paris:20250306T090000\r
DTEND;TZID=Europe/Paris:20250306T093000\r
END:VEVENT\r
END:VCALENDAR\r
"""


def run_tools(tools: list[Any], *calls: Any) -> list[ToolResultMessage]:
    model = ScriptedModel([*calls, text("done")])
    result = Agent(model, tools=tools, confirmer=recording_confirmer([])).run_sync("go")
    return [m for m in result.messages if isinstance(m, ToolResultMessage)]


def test_moving_a_series_keeps_its_cancelled_and_moved_occurrences(tmp_path: Path) -> None:
    path = tmp_path / "cal.ics"
    path.write_text(SERIES, newline="")
    tools = calendar_tools(IcsFileBackend(path))
    window = {"start": "2025-03-01T00:00:00", "end": "2025-03-10T00:00:00", "timezone": "Europe/Paris"}
    update, listing = run_tools(
        tools,
        call("update_event", {"event_id": "standup", "start": "2025-03-03T11:00:00", "timezone": "Europe/Paris"}),
        call("list_events", window),
    )
    assert not update.is_error, update.content
    shown = [(e["start"], e["title"]) for e in json.loads(listing.content)["events"]]
    assert shown == [
        ("2025-03-03T11:00:00+01:00", "Standup"),
        # 4 March stays cancelled; 5 March stays at the time it was moved to, and is not doubled
        ("2025-03-05T15:00:00+01:00", "Standup (afternoon)"),
        # 6 March (renamed, at the usual time) moves with the series
        ("2025-03-06T11:00:00+01:00", "Standup + demo"),
        ("2025-03-07T11:00:00+01:00", "Standup"),
    ]


def test_inviting_only_people_already_invited_notifies_nobody() -> None:
    event = {
        "id": "ev1", "status": "confirmed", "summary": "Review",
        "start": {"dateTime": "2025-03-28T14:00:00+01:00", "timeZone": "Europe/Paris"},
        "end": {"dateTime": "2025-03-28T15:00:00+01:00", "timeZone": "Europe/Paris"},
        "attendees": [{"email": "ana@example.org", "responseStatus": "accepted"}],
    }
    ok = ({"status": "200"}, json.dumps(event))
    http = HttpMockSequence([ok, ok, ok])
    backend = GoogleCalendarBackend(build_service("calendar", "v3", http=http))
    seen: list[ConfirmationRequest] = []
    model = ScriptedModel([call("invite_to_event", {"event_id": "ev1", "attendees": ["ANA@example.org"]}),
                           text("done")])
    result = Agent(model, tools=calendar_tools(backend), confirmer=recording_confirmer(seen)).run_sync("go")
    [answer] = [m for m in result.messages if isinstance(m, ToolResultMessage)]
    assert not answer.is_error, answer.content
    assert json.loads(answer.content)["notified"] == []
    # no PATCH with sendUpdates=all: re-saving an unchanged guest list would email every attendee again
    assert [method for _, method, _, _ in http.request_sequence] == ["GET", "GET"]

