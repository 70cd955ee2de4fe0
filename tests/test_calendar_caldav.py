"""Calendar toolkit against a real CalDAV server (Radicale on 127.0.0.1, temporary storage, no auth)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import icalendar
import pytest

from agentkit import Agent, ConfirmationRequest, ToolResultMessage
from agentkit.testing import ScriptedModel, call, text
from agentkit.toolkits import load_toolkit
from agentkit.toolkits.calendar import CalDavBackend, CalendarError, calendar_tools

from .pim_servers import CalDavServer, free_port, radicale_server, recording_confirmer

pytestmark = pytest.mark.server
pytest.importorskip("caldav", reason="the CalDAV backend is the optional extra agentkit[caldav]")

RECURRING = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//tests//EN
BEGIN:VEVENT
UID:yoga
DTSTAMP:20250101T000000Z
SUMMARY:Yoga
DTSTART;TZID=Europe/Paris:20250324T180000
DTEND;TZID=Europe/Paris:20250324T190000
RRULE:FREQ=WEEKLY;COUNT=3
EXDATE;TZID=Europe/Paris:20250331T180000
END:VEVENT
BEGIN:VEVENT
UID:yoga
DTSTAMP:20250101T000000Z
RECURRENCE-ID;TZID=Europe/Paris:20250407T180000
SUMMARY:Yoga (outdoor)
DTSTART;TZID=Europe/Paris:20250407T170000
DTEND;TZID=Europe/Paris:20250407T180000
END:VEVENT
END:VCALENDAR
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CalDavServer]:
    with radicale_server(tmp_path_factory.mktemp("radicale")) as running:
        yield running


@pytest.fixture
def backend(server: CalDavServer) -> CalDavBackend:
    """A fresh calendar per test, created on first use."""
    return CalDavBackend(server.url, calendar=f"cal-{uuid.uuid4().hex[:8]}", username="alice", password="any",
                         create_if_missing=True, timeout=10)


def run(backend: CalDavBackend, *turns: Any, seen: list[ConfirmationRequest] | None = None) -> list[Any]:
    log = seen if seen is not None else []
    model = ScriptedModel([*turns, text("done")])
    result = Agent(model, tools=calendar_tools(backend),
                   confirmer=recording_confirmer(log)).run_sync("go")
    answers = [m for m in result.messages if isinstance(m, ToolResultMessage)]
    assert not any(a.is_error for a in answers), [a.content for a in answers]
    return [json.loads(a.content) if a.content.startswith("{") else a.content for a in answers]


def stored_objects(backend: CalDavBackend) -> list[str]:
    calendar = backend._connect()
    return [str(obj.data) for obj in calendar.events()]


def test_every_tool_end_to_end(backend: CalDavBackend) -> None:
    seen: list[ConfirmationRequest] = []
    [created] = run(backend, call("create_event", {
        "title": "Planning", "start": "2025-03-28T10:00", "end": "2025-03-28T11:00", "timezone": "Europe/Paris",
    }), seen=seen)
    event_id = created["created"]["event_id"]
    assert f"in the CalDAV calendar '{backend.calendar_name}' at {backend.url}" in (seen[0].preview or "")
    [data] = stored_objects(backend)
    assert "DTSTART;TZID=Europe/Paris:20250328T100000" in data

    listed, busy = run(
        backend,
        call("list_events", {"start": "2025-03-28", "end": "2025-03-29", "timezone": "America/New_York"}),
        call("free_busy", {"start": "2025-03-28T00:00:00Z", "end": "2025-03-29T00:00:00Z", "timezone": "UTC"}),
    )
    assert [(e["event_id"], e["start"]) for e in listed["events"]] == [(event_id, "2025-03-28T05:00:00-04:00")]
    assert busy["busy"] == [{"start": "2025-03-28T09:00:00+00:00", "end": "2025-03-28T10:00:00+00:00"}]

    updated, invited = run(
        backend,
        call("update_event", {"event_id": event_id, "title": "Planning (room 2)", "location": "Room 2"}),
        call("invite_to_event", {"event_id": event_id, "attendees": ["ana@example.org"]}),
        seen=seen,
    )
    assert updated["updated"]["title"] == "Planning (room 2)"
    assert invited["notified"] == []  # Radicale does no scheduling: nothing was sent, and the tool says so
    assert "no invitation leaves this machine" in (seen[2].preview or "")
    [data] = stored_objects(backend)
    [stored] = icalendar.Calendar.from_ical(data).walk("VEVENT")
    assert (str(stored["SUMMARY"]), str(stored["LOCATION"])) == ("Planning (room 2)", "Room 2")
    assert str(stored["ATTENDEE"]) == "mailto:ana@example.org"
    assert stored["SEQUENCE"] == 2  # once per change

    [deleted] = run(backend, call("delete_event", {"event_id": event_id}), seen=seen)
    assert deleted == f"Deleted event {event_id}."
    assert "Attendees: ana@example.org" in (seen[3].preview or "")
    assert stored_objects(backend) == []


def test_recurring_series_from_the_server_expands_correctly(backend: CalDavBackend) -> None:
    backend._connect().add_event(RECURRING)
    [listing] = run(backend, call("list_events", {"start": "2025-03-20", "end": "2025-04-30", "timezone": "UTC"}))
    # 24 Mar: Paris is UTC+1; 31 Mar excluded; 7 Apr (UTC+2) moved an hour earlier
    assert [(e["title"], e["start"]) for e in listing["events"]] == [
        ("Yoga", "2025-03-24T17:00:00+00:00"),
        ("Yoga (outdoor)", "2025-04-07T15:00:00+00:00"),
    ]


def test_write_without_confirmer_changes_nothing(backend: CalDavBackend) -> None:
    model = ScriptedModel([call("create_event", {"title": "x", "start": "2025-03-10T10:00:00Z",
                                                 "end": "2025-03-10T11:00:00Z"})])
    paused = Agent(model, tools=calendar_tools(backend)).run_sync("go")
    assert paused.status == "awaiting_confirmation"
    assert stored_objects(backend) == []


def test_missing_calendar_and_server_down_are_clear(server: CalDavServer) -> None:
    missing = CalDavBackend(server.url, calendar="does-not-exist", username="bob", password="x")
    with pytest.raises(CalendarError, match=r"no calendar named 'does-not-exist'.*create_if_missing"):
        missing.list_events(*_window())
    down = CalDavBackend(f"http://127.0.0.1:{free_port()}/", calendar="x", username="bob", password="x", timeout=2)
    model = ScriptedModel([call("list_events", {"start": "2025-03-10", "end": "2025-03-11", "timezone": "UTC"}),
                           text("the server is down")])
    result = Agent(model, tools=calendar_tools(down)).run_sync("go")
    [failure] = [m for m in result.messages if isinstance(m, ToolResultMessage)]
    assert failure.is_error
    assert "CalDAV request to http://127.0.0.1:" in failure.content


def _window() -> tuple[Any, Any]:
    from datetime import UTC, datetime

    return datetime(2025, 3, 1, tzinfo=UTC), datetime(2025, 3, 2, tzinfo=UTC)


def test_loaded_from_config_with_env_credentials(
    server: CalDavServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("AGENTKIT_TEST_CALDAV_USER", "carol")
    monkeypatch.setenv("AGENTKIT_TEST_CALDAV_PASSWORD", "secret")
    tools = {t.name: t for t in load_toolkit("calendar", {"backend": {
        "kind": "caldav", "url": server.url, "calendar": "Home", "create_if_missing": True,
        "username_env": "AGENTKIT_TEST_CALDAV_USER", "password_env": "AGENTKIT_TEST_CALDAV_PASSWORD",
    }})}
    assert tools["list_events"].function(start="2025-03-01", end="2025-03-02", timezone="UTC").value["events"] == []
    listing = httpx.request("PROPFIND", f"{server.url}carol/", headers={"Depth": "1"}, auth=("carol", "secret"))
    assert "Home" in listing.text  # the calendar was created under the user named by the environment
