"""The calendar tools the model sees, over any `CalendarBackend`.

Effects, so a gate can tell them apart:
    list_events, free_busy   read
    create_event             write        never has attendees: creating an event tells nobody
    update_event             write        changes title, time, place or text; notifies nobody, except on a
                                          CalDAV server declared `scheduling: true` (it mails attendees
                                          itself; the preview says so)
    invite_to_event          send         adds attendees; the backend emails them (Google, scheduling CalDAV)
    delete_event             destructive  removes the event (a whole series); Google notifies its attendees

Inviting people is a separate tool rather than an `attendees` argument because a tool's effect is fixed:
a `create_event` that sometimes sends mail would be labelled "write" while acting as "send".
Every previewed call shows the event exactly as it will be written, in the zone the call gave.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta, tzinfo
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from pydantic import Field

from ..._errors import ModelRetry
from ..._tools import Tool, ToolReturn, tool
from .._addresses import bare_address, validate_recipients
from .._preview import preview_call
from ._model import (
    CalendarBackend,
    CalendarEvent,
    EventChanges,
    EventDraft,
    EventNotFoundError,
)
from ._time import as_zone, iso, parse_datetime, parse_range, zone, zone_name

MAX_LISTED = 100  # a listing is read by a model: past this, a narrower window serves it better

Title = Annotated[str, Field(min_length=1, max_length=300, description="Short title of the event.")]
When = Annotated[
    str,
    Field(
        min_length=4, max_length=40,
        description="ISO 8601 date-time with a UTC offset (2025-03-10T14:30:00+01:00), or without one when "
        "`timezone` is given.",
    ),
]
TimeZoneName = Annotated[
    str | None,
    Field(
        max_length=64,
        description="IANA time zone (Europe/Paris, America/New_York, UTC) for date-times written without an "
        "offset; results are shown in it.",
    ),
]
EventId = Annotated[str, Field(min_length=1, max_length=512, description="event_id from list_events.")]
Attendees = Annotated[
    list[str], Field(min_length=1, max_length=100, description="E-mail addresses of the people to invite.")
]


def _render(event: CalendarEvent, tz: tzinfo | None) -> dict[str, Any]:
    start = as_zone(event.start, tz) if tz is not None else event.start
    end = as_zone(event.end, tz) if tz is not None else event.end
    shown: dict[str, Any] = {"event_id": event.event_id, "title": event.title, "start": iso(start), "end": iso(end)}
    if event.all_day:
        shown["all_day"] = True
    if event.recurring:
        shown["recurring"] = True
        if event.occurrence is not None:
            occurrence = as_zone(event.occurrence, tz) if tz is not None else event.occurrence
            shown["occurrence"] = iso(occurrence)
    for name in ("location", "description", "organizer", "status"):
        value = getattr(event, name)
        if value:
            shown[name] = value
    if event.attendees:
        shown["attendees"] = list(event.attendees)
    if not event.busy:
        shown["busy"] = False
    return shown


def _event_zone(start: datetime, timezone: str | None) -> str | None:
    return zone_name(start.tzinfo) or (zone(timezone).key if timezone else None)


def calendar_tools(
    backend: CalendarBackend, *, default_timezone: str | None = None, owner: Sequence[str] = ()
) -> list[Tool]:
    """The six calendar tools over `backend`. `default_timezone` (IANA) applies when a call gives none.
    `owner`: the account's own addresses; `list_events` vouches for the attendees of events one of them
    organises (`ToolReturn.vouched`) - people the owner chose, which no invitation from outside can set."""
    if default_timezone is not None:
        zone(default_timezone)
    owners = {bare_address(address).casefold() for address in owner}

    def tz_of(timezone: str | None) -> str | None:
        return timezone or default_timezone

    def lookup(event_id: str) -> CalendarEvent:
        try:
            return backend.get_event(event_id)
        except EventNotFoundError:
            raise ModelRetry(
                f"There is no event with event_id {event_id!r}. Call list_events to find the right event_id."
            ) from None

    def plan_create(
        title: str, start: str, end: str, timezone: str | None, location: str | None, description: str | None
    ) -> EventDraft:
        tz = tz_of(timezone)
        begin = parse_datetime(start, tz, argument="start")
        finish = parse_datetime(end, tz, argument="end")
        if finish <= begin:
            raise ModelRetry(f"end ({end}) must be after start ({start}).")
        if finish - begin > timedelta(days=31):
            raise ModelRetry("An event may last at most 31 days; check start and end.")
        return EventDraft(
            title=title.strip(), start=begin, end=finish, timezone=_event_zone(begin, tz),
            location=location or None, description=description or None,
        )

    def plan_update(
        event_id: str, title: str | None, start: str | None, end: str | None, timezone: str | None,
        location: str | None, description: str | None,
    ) -> tuple[CalendarEvent, EventChanges]:
        current = lookup(event_id)
        tz = tz_of(timezone)
        begin = parse_datetime(start, tz, argument="start") if start else None
        finish = parse_datetime(end, tz, argument="end") if end else None
        home = current.start.tzinfo if isinstance(current.start, datetime) else None
        if tz is None and isinstance(home, ZoneInfo):  # an offset alone keeps the event in its own zone
            begin = begin.astimezone(home) if begin is not None else None
            finish = finish.astimezone(home) if finish is not None else None
        if begin is not None and finish is None and isinstance(current.start, datetime):
            finish = begin + (current.end - current.start)
        changes = EventChanges(
            title=title, start=begin, end=finish, timezone=_event_zone(begin, tz) if begin else None,
            location=location, description=description,
        )
        if changes.empty:
            raise ModelRetry("Nothing to change: give at least one of title, start, end, location, description.")
        after = changes.apply_to(current)
        if isinstance(after.start, datetime) and isinstance(after.end, datetime) and after.end <= after.start:
            raise ModelRetry("After this change the event would end before it starts; give both start and end.")
        return current, changes

    def backend_call(event_id: str, action: Callable[[], Any]) -> Any:
        try:
            return action()
        except EventNotFoundError:
            raise ModelRetry(
                f"There is no event with event_id {event_id!r}. Call list_events to find the right event_id."
            ) from None

    @tool(effect="read")
    def list_events(start: When, end: When, timezone: TimeZoneName = None) -> ToolReturn:
        """List calendar events between start and end; recurring events appear once per occurrence.

        Args:
            start: Beginning of the window.
            end: End of the window (exclusive).
            timezone: Zone for times without an offset; results are shown in it.
        """
        begin, finish, shown = parse_range(start, end, tz_of(timezone))
        events = backend.list_events(begin, finish)
        listing: dict[str, Any] = {
            "timezone": zone_name(shown) or begin.strftime("UTC%z"),
            "events": [_render(event, shown) for event in events[:MAX_LISTED]],
        }
        if len(events) > MAX_LISTED:
            listing["more"] = (f"{len(events) - MAX_LISTED} more events after these; "
                               "ask for a shorter window to see them")
        chosen = [attendee for event in events[:MAX_LISTED]
                  if event.organizer and bare_address(event.organizer).casefold() in owners
                  for attendee in event.attendees]
        return ToolReturn(listing, vouched=chosen)

    @tool(effect="read")
    def free_busy(start: When, end: When, timezone: TimeZoneName = None) -> dict[str, Any]:
        """Busy and free time between start and end (events marked free are ignored).

        Args:
            start: Beginning of the window.
            end: End of the window (exclusive).
            timezone: Zone for times without an offset; results are shown in it.
        """
        begin, finish, shown = parse_range(start, end, tz_of(timezone))
        busy = backend.free_busy(begin, finish)
        free = []
        cursor = begin
        for interval in busy:
            if interval.start > cursor:
                free.append((cursor, interval.start))
            cursor = max(cursor, interval.end)
        if cursor < finish:
            free.append((cursor, finish))
        return {
            "timezone": zone_name(shown) or begin.strftime("UTC%z"),
            "busy": [{"start": iso(as_zone(i.start, shown)), "end": iso(as_zone(i.end, shown))} for i in busy],
            "free": [{"start": iso(as_zone(a, shown)), "end": iso(as_zone(b, shown))} for a, b in free],
        }

    @tool(effect="write")
    def create_event(
        title: Title, start: When, end: When, timezone: TimeZoneName = None,
        location: Annotated[str | None, Field(max_length=500)] = None,
        description: Annotated[str | None, Field(max_length=5000)] = None,
    ) -> dict[str, Any]:
        """Create an event in the user's calendar (no attendees; use invite_to_event to invite people).

        Args:
            title: Short title of the event.
            start: When it starts.
            end: When it ends.
            timezone: IANA zone the event lives in, used for times without an offset.
            location: Where it takes place.
            description: Notes for the event.
        """
        draft = plan_create(title, start, end, timezone, location, description)
        event = backend.create_event(draft)
        return {"created": _render(event, draft.start.tzinfo)}

    @create_event.preview
    async def _preview_create(arguments: dict[str, Any]) -> str:
        def render(**kwargs: Any) -> str:
            return f"Create this event in the {backend.description}:\n{plan_create(**kwargs).describe()}"

        return await preview_call(create_event, arguments, render)

    @tool(effect="write")
    def update_event(
        event_id: EventId, title: Annotated[str | None, Field(max_length=300)] = None, start: When | None = None,
        end: When | None = None, timezone: TimeZoneName = None,
        location: Annotated[str | None, Field(max_length=500)] = None,
        description: Annotated[str | None, Field(max_length=5000)] = None,
    ) -> dict[str, Any]:
        """Change an event (a whole series when it repeats). Moving only the start keeps its length.

        Args:
            event_id: The event to change, from list_events.
            title: New title.
            start: New start.
            end: New end.
            timezone: IANA zone for new times without an offset.
            location: New location.
            description: New notes.
        """
        _, changes = plan_update(event_id, title, start, end, timezone, location, description)
        event = backend_call(event_id, lambda: backend.update_event(event_id, changes))
        shown = changes.start.tzinfo if changes.start is not None else None
        return {"updated": _render(event, shown)}

    @update_event.preview
    async def _preview_update(arguments: dict[str, Any]) -> str:
        def render(**kwargs: Any) -> str:
            current, changes = plan_update(**kwargs)
            after = changes.apply_to(current)
            series = " (every occurrence of this repeating event)" if current.recurring else ""
            note = ""
            if current.attendees:
                note = (f"\nThe {backend.description} will notify its attendees of this change."
                        if backend.notifies_on_update else "\nAttendees are not notified of this change.")
            return (f"Change this event{series} in the {backend.description}:\n{current.describe()}\n\n"
                    f"It will become:\n{after.describe()}{note}")

        return await preview_call(update_event, arguments, render)

    @tool(effect="send")
    def invite_to_event(event_id: EventId, attendees: Attendees) -> dict[str, Any]:
        """Invite people to an existing event; they receive an invitation.

        Args:
            event_id: The event, from list_events or create_event.
            attendees: E-mail addresses of the people to invite.
        """
        people = [bare_address(p) for p in validate_recipients(attendees, argument="attendees")]
        outcome = backend_call(event_id, lambda: backend.invite(event_id, people))
        return {"event": _render(outcome.event, None), "notified": list(outcome.notified)}

    @invite_to_event.preview
    async def _preview_invite(arguments: dict[str, Any]) -> str:
        def render(event_id: str, attendees: list[str]) -> str:
            people = [bare_address(p) for p in validate_recipients(attendees, argument="attendees")]
            current = lookup(event_id)
            new = [p for p in people if p.lower() not in {a.lower() for a in current.attendees}]
            if backend.sends_invitations:
                how = f"The {backend.description} will email an invitation to: {', '.join(new) or '(nobody new)'}."
                if current.attendees:
                    how += f" The {len(current.attendees)} attendee(s) already invited may get an update notice."
            else:
                how = f"The {backend.description} only records them; no invitation leaves this machine."
            return f"Invite {', '.join(people)} to:\n{current.describe()}\n\n{how}"

        return await preview_call(invite_to_event, arguments, render)

    @tool(effect="destructive")
    def delete_event(event_id: EventId) -> str:
        """Delete an event; for a repeating event, every occurrence.

        Args:
            event_id: The event to delete, from list_events.
        """
        backend_call(event_id, lambda: backend.delete_event(event_id))
        return f"Deleted event {event_id}."

    @delete_event.preview
    async def _preview_delete(arguments: dict[str, Any]) -> str:
        def render(event_id: str) -> str:
            current = lookup(event_id)
            series = " and every occurrence of it" if current.recurring else ""
            notes = ""
            if current.attendees:
                notes = (f"\n{len(current.attendees)} attendee(s) will be sent a cancellation."
                         if backend.sends_invitations else "\nIts attendees are not notified.")
            return f"Delete this event{series} from the {backend.description}:\n{current.describe()}{notes}"

        return await preview_call(delete_event, arguments, render)

    return [list_events, free_busy, create_event, update_event, invite_to_event, delete_event]
