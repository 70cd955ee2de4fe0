"""Google Calendar (API v3) through google-api-python-client.

Listings ask Google to expand recurring events (`singleEvents=true`, `timeMin`/`timeMax`); busy time comes
from `freebusy.query`. Only `invite` sends mail (`sendUpdates=all`); creating and updating use
`sendUpdates=none`; deleting uses `sendUpdates=all` so that attendees learn of the cancellation (the
delete preview says so). The API object is injectable: tests pass one built over `HttpMockSequence`.
"""

from __future__ import annotations

import threading
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .._google_auth import build_service, execute, load_credentials
from ._model import (
    BusyInterval,
    CalendarError,
    CalendarEvent,
    EventChanges,
    EventDraft,
    EventNotFoundError,
    InviteOutcome,
    merge_busy,
)

SCOPES = ["https://www.googleapis.com/auth/calendar"]


def _when(value: dict[str, Any] | None, zone_hint: str | None = None) -> datetime | date | None:
    if not value:
        return None
    if "date" in value:
        return date.fromisoformat(value["date"])
    moment = datetime.fromisoformat(value["dateTime"])
    name = value.get("timeZone") or zone_hint
    if name:
        try:
            return moment.astimezone(ZoneInfo(name))
        except (ZoneInfoNotFoundError, ValueError):
            return moment
    return moment


def _body_time(moment: datetime, timezone: str | None) -> dict[str, str]:
    body = {"dateTime": moment.isoformat()}
    if timezone:
        body["timeZone"] = timezone
    return body


def event_from_api(item: dict[str, Any]) -> CalendarEvent:
    start = _when(item.get("start"))
    end = _when(item.get("end"), (item.get("start") or {}).get("timeZone"))
    if start is None or end is None:
        raise CalendarError(f"Google returned event {item.get('id')!r} without start or end")
    recurring = bool(item.get("recurringEventId") or item.get("recurrence"))
    rules = [r[6:] for r in item.get("recurrence", []) if r.startswith("RRULE:")]
    return CalendarEvent(
        event_id=item.get("recurringEventId") or item["id"],
        title=item.get("summary") or "(no title)",
        start=start,
        end=end,
        location=item.get("location") or None,
        description=item.get("description") or None,
        attendees=tuple(a["email"] for a in item.get("attendees", []) if a.get("email")),
        organizer=(item.get("organizer") or {}).get("email"),
        recurring=recurring,
        occurrence=_when(item.get("originalStartTime")) if item.get("recurringEventId") else None,
        busy=item.get("transparency", "opaque") != "transparent",
        status=(item.get("status") or "").upper() or None,
        rule=rules[0] if rules else None,
    )


class GoogleCalendarBackend:
    """One Google calendar (`calendar_id`, default "primary"). Build with `from_credentials_file` or pass
    `service`, a Calendar v3 API object."""

    sends_invitations = True
    notifies_on_update = False  # updates use sendUpdates=none

    def __init__(self, service: Any, *, calendar_id: str = "primary") -> None:
        self.service = service
        self.calendar_id = calendar_id
        self._lock = threading.Lock()  # httplib2 connections are not thread-safe

    @classmethod
    def from_credentials_file(cls, path: str, *, calendar_id: str = "primary") -> GoogleCalendarBackend:
        credentials = load_credentials(path, scopes=SCOPES)
        return cls(build_service("calendar", "v3", credentials=credentials), calendar_id=calendar_id)

    @property
    def description(self) -> str:
        return f"Google Calendar {self.calendar_id!r}"

    def _execute(self, request: Any, *, event_id: str | None = None) -> Any:
        missing = None
        if event_id is not None:
            missing = EventNotFoundError(f"no event with id {event_id!r} in the {self.description}")
        with self._lock:
            return execute(
                request, description=self.description, error=CalendarError,
                refused_hint="check that the credentials file grants the calendar scope",
                missing=missing, missing_statuses=(404, 410),
            )

    def _events(self) -> Any:
        return self.service.events()

    # -- the backend protocol ----------------------------------------------------------------------------
    def list_events(self, start: datetime, end: datetime) -> list[CalendarEvent]:
        events: list[CalendarEvent] = []
        token: str | None = None
        while True:
            params: dict[str, Any] = {
                "calendarId": self.calendar_id, "timeMin": start.isoformat(), "timeMax": end.isoformat(),
                "singleEvents": True, "orderBy": "startTime", "maxResults": 250,
            }
            if token:
                params["pageToken"] = token
            page = self._execute(self._events().list(**params))
            events.extend(
                event_from_api(item) for item in page.get("items", []) if item.get("status") != "cancelled"
            )
            token = page.get("nextPageToken")
            if not token:
                return events

    def free_busy(self, start: datetime, end: datetime) -> list[BusyInterval]:
        body = {"timeMin": start.isoformat(), "timeMax": end.isoformat(), "items": [{"id": self.calendar_id}]}
        answer = self._execute(self.service.freebusy().query(body=body))
        calendar = (answer.get("calendars") or {}).get(self.calendar_id) or {}
        if calendar.get("errors"):
            reasons = ", ".join(e.get("reason", "?") for e in calendar["errors"])
            raise CalendarError(f"{self.description} could not report busy time: {reasons}")
        intervals = [
            BusyInterval(datetime.fromisoformat(b["start"]), datetime.fromisoformat(b["end"]))
            for b in calendar.get("busy", [])
        ]
        return merge_busy(intervals, start, end)

    def _get(self, event_id: str) -> dict[str, Any]:
        item: dict[str, Any] = self._execute(
            self._events().get(calendarId=self.calendar_id, eventId=event_id), event_id=event_id
        )
        if item.get("status") == "cancelled":
            raise EventNotFoundError(f"event {event_id!r} in the {self.description} was cancelled")
        return item

    def get_event(self, event_id: str) -> CalendarEvent:
        return event_from_api(self._get(event_id))

    def create_event(self, draft: EventDraft) -> CalendarEvent:
        body: dict[str, Any] = {
            "summary": draft.title,
            "start": _body_time(draft.start, draft.timezone),
            "end": _body_time(draft.end, draft.timezone),
        }
        if draft.location:
            body["location"] = draft.location
        if draft.description:
            body["description"] = draft.description
        created = self._execute(self._events().insert(calendarId=self.calendar_id, body=body, sendUpdates="none"))
        return event_from_api(created)

    def update_event(self, event_id: str, changes: EventChanges) -> CalendarEvent:
        body: dict[str, Any] = {}
        if changes.title is not None:
            body["summary"] = changes.title
        if changes.location is not None:
            body["location"] = changes.location
        if changes.description is not None:
            body["description"] = changes.description
        if changes.start is not None:
            body["start"] = _body_time(changes.start, changes.timezone)
        if changes.end is not None:
            body["end"] = _body_time(changes.end, changes.timezone)
        patched = self._execute(
            self._events().patch(calendarId=self.calendar_id, eventId=event_id, body=body, sendUpdates="none"),
            event_id=event_id,
        )
        return event_from_api(patched)

    def invite(self, event_id: str, attendees: list[str]) -> InviteOutcome:
        current = self._get(event_id)
        existing: list[dict[str, Any]] = list(current.get("attendees", []))
        present = {a.get("email", "").lower() for a in existing}
        added = [a for a in attendees if a.lower() not in present]
        if not added:  # a PATCH with sendUpdates=all would email every attendee about nothing
            return InviteOutcome(event=event_from_api(current), notified=())
        body = {"attendees": existing + [{"email": a} for a in added]}
        patched = self._execute(
            self._events().patch(calendarId=self.calendar_id, eventId=event_id, body=body, sendUpdates="all"),
            event_id=event_id,
        )
        return InviteOutcome(event=event_from_api(patched), notified=tuple(added))

    def delete_event(self, event_id: str) -> None:
        self._execute(
            self._events().delete(calendarId=self.calendar_id, eventId=event_id, sendUpdates="all"),
            event_id=event_id,
        )
