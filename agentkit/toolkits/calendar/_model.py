"""What every calendar backend speaks: events with aware times, drafts of new events, changes, busy time.

Backends return moments as they store them (any zone, or floating, or all-day dates); the tools express
them in the zone the caller asked for. Only the tools talk to the model; backends raise plain errors.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Protocol, runtime_checkable

from ._time import human


class CalendarError(RuntimeError):
    """A calendar backend failed (server down, file unreadable, request refused); the message says why."""


class EventNotFoundError(CalendarError):
    """No event has the given id."""


@dataclass(frozen=True)
class CalendarEvent:
    """One event, or one occurrence of a recurring series (then `occurrence` is its RECURRENCE-ID)."""

    event_id: str
    title: str
    start: datetime | date
    end: datetime | date
    location: str | None = None
    description: str | None = None
    attendees: tuple[str, ...] = ()
    organizer: str | None = None
    recurring: bool = False
    occurrence: datetime | date | None = None
    busy: bool = True
    status: str | None = None
    rule: str | None = None

    @property
    def all_day(self) -> bool:
        return not isinstance(self.start, datetime)

    def describe(self) -> str:
        lines = [f"Title: {self.title}", f"Start: {human(self.start)}", f"End:   {human(self.end)}"]
        if self.rule:
            lines.append(f"Repeats: {self.rule}")
        if self.location:
            lines.append(f"Location: {self.location}")
        if self.attendees:
            lines.append(f"Attendees: {', '.join(self.attendees)}")
        if self.description:
            lines.append(f"Description: {self.description}")
        return "\n".join(lines)


@dataclass(frozen=True)
class EventDraft:
    """A new event as it will be written: aware start/end; `timezone` is the IANA zone it lives in (None: UTC)."""

    title: str
    start: datetime
    end: datetime
    timezone: str | None = None
    location: str | None = None
    description: str | None = None

    def describe(self) -> str:
        lines = [f"Title: {self.title}", f"Start: {human(self.start)}", f"End:   {human(self.end)}"]
        if self.location:
            lines.append(f"Location: {self.location}")
        if self.description:
            lines.append(f"Description: {self.description}")
        return "\n".join(lines)


@dataclass(frozen=True)
class EventChanges:
    """Fields to change on an existing event; None leaves a field as it is."""

    title: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    timezone: str | None = None
    location: str | None = None
    description: str | None = None

    def apply_to(self, event: CalendarEvent) -> CalendarEvent:
        """The event as it will look after the change (for previews and for backends that rewrite whole events)."""
        return replace(
            event,
            title=self.title if self.title is not None else event.title,
            start=self.start if self.start is not None else event.start,
            end=self.end if self.end is not None else event.end,
            location=self.location if self.location is not None else event.location,
            description=self.description if self.description is not None else event.description,
        )

    @property
    def empty(self) -> bool:
        return all(v is None for v in (self.title, self.start, self.end, self.location, self.description))


@dataclass(frozen=True)
class BusyInterval:
    start: datetime
    end: datetime


@dataclass(frozen=True)
class InviteOutcome:
    """What an invitation did: the updated event and who was (or, for a local file, was not) notified."""

    event: CalendarEvent
    notified: tuple[str, ...] = field(default_factory=tuple)


@runtime_checkable
class CalendarBackend(Protocol):
    """A calendar store. Times passed in are aware; `list_events` expands recurring series into occurrences."""

    @property
    def description(self) -> str:
        """One line naming the store, shown in previews ("local file ~/cal.ics", "CalDAV https://...")."""
        ...

    @property
    def sends_invitations(self) -> bool:
        """True when adding attendees makes the store email them (Google, scheduling CalDAV servers)."""
        ...

    @property
    def notifies_on_update(self) -> bool:
        """True when changing an event with attendees emails them (CalDAV servers that schedule implicitly)."""
        ...

    def list_events(self, start: datetime, end: datetime) -> list[CalendarEvent]:
        """Occurrences overlapping [start, end), recurring series expanded, cancelled ones left out."""
        ...

    def free_busy(self, start: datetime, end: datetime) -> list[BusyInterval]:
        """Busy time within [start, end): opaque events only, clipped, merged, sorted."""
        ...

    def get_event(self, event_id: str) -> CalendarEvent:
        """The event (the whole series, for a recurring one) as stored; EventNotFoundError if absent."""
        ...

    def create_event(self, draft: EventDraft) -> CalendarEvent: ...

    def update_event(self, event_id: str, changes: EventChanges) -> CalendarEvent: ...

    def invite(self, event_id: str, attendees: list[str]) -> InviteOutcome: ...

    def delete_event(self, event_id: str) -> None: ...


def merge_busy(intervals: list[BusyInterval], start: datetime, end: datetime) -> list[BusyInterval]:
    """Clip to [start, end), sort, and merge overlapping or touching intervals."""
    clipped = sorted(
        (BusyInterval(max(i.start, start), min(i.end, end)) for i in intervals if i.end > start and i.start < end),
        key=lambda i: i.start,
    )
    merged: list[BusyInterval] = []
    for interval in clipped:
        if merged and interval.start <= merged[-1].end:
            last = merged[-1]
            merged[-1] = BusyInterval(last.start, max(last.end, interval.end))
        else:
            merged.append(interval)
    return merged
