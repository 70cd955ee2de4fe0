"""iCalendar in and out, shared by the local-file and CalDAV backends.

Expansion is `recurring_ical_events` (RRULE, RDATE, EXDATE, RECURRENCE-ID overrides, DST-correct wall times);
this module only turns its components into `CalendarEvent`s, filters them exactly on the requested window
(floating times are wall times of the caller's zone), and writes new or changed VEVENTs.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

import icalendar
import recurring_ical_events  # type: ignore[import-untyped]

from ._model import BusyInterval, CalendarError, CalendarEvent, EventChanges, EventDraft, merge_busy
from ._time import bounds

PRODID = "-//agentkit//calendar toolkit//EN"


def new_calendar() -> icalendar.Calendar:
    cal = icalendar.Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    return cal


def parse_calendar(data: str | bytes, *, source: str) -> icalendar.Calendar:
    """Parse iCalendar text; a clear error (naming the source) instead of a parser traceback."""
    try:
        cal = icalendar.Calendar.from_ical(data)
    except (ValueError, IndexError, KeyError) as exc:
        raise CalendarError(f"{source} is not valid iCalendar data ({exc}); fix or move the file") from None
    if not isinstance(cal, icalendar.Calendar):
        raise CalendarError(f"{source} does not hold a VCALENDAR")
    return cal


def _text(component: icalendar.cal.Component, name: str) -> str | None:
    value = component.get(name)
    return str(value) if value is not None and str(value) != "" else None


def _address(value: Any) -> str:
    text = str(value)
    return text[7:] if text.lower().startswith("mailto:") else text


def _dt(component: icalendar.cal.Component, name: str) -> datetime | date | None:
    prop = component.get(name)
    if prop is None:
        return None
    value = prop.dt
    if isinstance(value, datetime | date):
        return value
    return None


def _end_of(component: icalendar.cal.Component, start: datetime | date) -> datetime | date:
    end = _dt(component, "DTEND")
    if end is not None:
        return end
    duration = component.get("DURATION")
    if duration is not None and isinstance(duration.dt, timedelta):
        return start + duration.dt
    # RFC 5545 3.6.1: no end means one day for a date, zero length for a date-time
    return start if isinstance(start, datetime) else start + timedelta(days=1)


def to_event(component: icalendar.cal.Component, *, is_series: bool | None = None) -> CalendarEvent:
    start = _dt(component, "DTSTART")
    if start is None:
        raise CalendarError(f"event {_text(component, 'UID')!r} has no DTSTART")
    rrule = component.get("RRULE")
    recurrence = _dt(component, "RECURRENCE-ID")
    recurring = is_series if is_series is not None else bool(rrule or component.get("RDATE") or recurrence)
    attendees = component.get("ATTENDEE")
    if attendees is None:
        attendees = []
    elif not isinstance(attendees, list):
        attendees = [attendees]
    organizer = component.get("ORGANIZER")
    return CalendarEvent(
        event_id=_text(component, "UID") or "",
        title=_text(component, "SUMMARY") or "(no title)",
        start=start,
        end=_end_of(component, start),
        location=_text(component, "LOCATION"),
        description=_text(component, "DESCRIPTION"),
        attendees=tuple(_address(a) for a in attendees),
        organizer=_address(organizer) if organizer is not None else None,
        recurring=recurring,
        occurrence=recurrence if recurring else None,
        busy=(_text(component, "TRANSP") or "OPAQUE").upper() != "TRANSPARENT",
        status=(_text(component, "STATUS") or "").upper() or None,
        rule=rrule.to_ical().decode() if rrule is not None else None,
    )


def _series_uids(cal: icalendar.Calendar) -> set[str]:
    return {
        str(c.get("UID")) for c in cal.walk("VEVENT")
        if c.get("RRULE") is not None or c.get("RDATE") is not None or c.get("RECURRENCE-ID") is not None
    }


def expand(cal: icalendar.Calendar, start: datetime, end: datetime) -> list[CalendarEvent]:
    """Occurrences overlapping [start, end), sorted; floating times are read in the zone of `start`."""
    tz: tzinfo = start.tzinfo or UTC
    margin = timedelta(days=1)  # the library's own edge rules differ for floating and all-day events: re-filter
    try:
        components = recurring_ical_events.of(cal).between(
            (start - margin).astimezone(UTC), (end + margin).astimezone(UTC)
        )
    except Exception as exc:  # the library raises its own error types for broken rules
        raise CalendarError(f"cannot expand the calendar's recurring events: {exc}") from exc
    series = _series_uids(cal)
    events: list[CalendarEvent] = []
    for component in components:
        event = to_event(component, is_series=str(component.get("UID")) in series)
        if event.status == "CANCELLED":
            continue
        begin, finish = bounds(event.start, event.end, tz)
        if begin < end and (finish > start or (finish == begin and start <= begin)):
            events.append(event)
    events.sort(key=lambda e: (bounds(e.start, e.end, tz)[0], e.title))
    return events


def busy_from(events: Iterable[CalendarEvent], start: datetime, end: datetime) -> list[BusyInterval]:
    tz: tzinfo = start.tzinfo or UTC
    intervals = []
    for event in events:
        if not event.busy:
            continue
        begin, finish = bounds(event.start, event.end, tz)
        if finish > begin:
            intervals.append(BusyInterval(begin, finish))
    return merge_busy(intervals, start, end)


def components_of(cal: icalendar.Calendar, uid: str) -> list[icalendar.cal.Component]:
    """The VEVENTs of one UID: the master first, then its overridden occurrences."""
    found = [c for c in cal.walk("VEVENT") if str(c.get("UID")) == uid]
    return sorted(found, key=lambda c: c.get("RECURRENCE-ID") is not None)


def master(cal: icalendar.Calendar, uid: str) -> icalendar.cal.Component | None:
    """The series master of a UID, or its first occurrence when only overrides exist; None when absent."""
    found = components_of(cal, uid)
    return found[0] if found else None


def _moment(value: datetime) -> datetime:
    """Write times with an IANA zone as TZID times, everything else (fixed offsets) as UTC."""
    if isinstance(value.tzinfo, ZoneInfo):
        return value
    return value.astimezone(UTC)


def _stamp(component: icalendar.cal.Component) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    for name in ("DTSTAMP", "LAST-MODIFIED"):
        component.pop(name, None)
        component.add(name.lower(), now)


def new_component(draft: EventDraft, *, uid: str | None = None) -> icalendar.Event:
    event = icalendar.Event()
    event.add("uid", uid or f"{uuid.uuid4()}@agentkit")
    event.add("summary", draft.title)
    event.add("dtstart", _moment(draft.start))
    event.add("dtend", _moment(draft.end))
    if draft.location:
        event.add("location", draft.location)
    if draft.description:
        event.add("description", draft.description)
    event.add("sequence", 0)
    event.add("created", datetime.now(UTC).replace(microsecond=0))
    _stamp(event)
    return event


def _replace(component: icalendar.cal.Component, name: str, value: Any) -> None:
    component.pop(name.upper(), None)
    if value is not None and value != "":
        component.add(name, value)


def _shifted(value: datetime, old_start: datetime, new_start: datetime) -> datetime:
    """Where an occurrence at `value` of a series starting at `old_start` falls once the series starts at
    `new_start`: as far from the start in wall-clock time (so whole days stay whole days across DST)."""
    if value.tzinfo is not None and old_start.tzinfo is not None:
        value = value.astimezone(old_start.tzinfo)
    moved = new_start.replace(tzinfo=None) + (value.replace(tzinfo=None) - old_start.replace(tzinfo=None))
    return _moment(moved.replace(tzinfo=new_start.tzinfo))


def _shift_exceptions(
    master: icalendar.cal.Component, overrides: Sequence[icalendar.cal.Component], old: datetime, new: datetime,
) -> None:
    """Moving a series moves the occurrences its EXDATEs and overrides name (RFC 5545 matches them by exact
    time); otherwise a cancelled occurrence comes back and an overridden one shows twice."""
    exdates = master.get("EXDATE")
    if exdates is not None:
        values = [d.dt for prop in (exdates if isinstance(exdates, list) else [exdates]) for d in prop.dts]
        master.pop("EXDATE")
        master.add("exdate", [_shifted(v, old, new) if isinstance(v, datetime) else v for v in values])
    for override in overrides:
        occurrence = _dt(override, "RECURRENCE-ID")
        if not isinstance(occurrence, datetime):
            continue
        if _dt(override, "DTSTART") == occurrence:  # still at its usual slot: it moves with the series
            for name in ("DTSTART", "DTEND"):
                value = _dt(override, name)
                if isinstance(value, datetime):
                    _replace(override, name.lower(), _shifted(value, old, new))
        _replace(override, "recurrence-id", _shifted(occurrence, old, new))
        sequence = override.get("SEQUENCE")
        _replace(override, "sequence", int(sequence) + 1 if sequence is not None else 1)
        _stamp(override)


def apply_changes(
    component: icalendar.cal.Component, changes: EventChanges, *,
    overrides: Sequence[icalendar.cal.Component] = (),
) -> None:
    """Rewrite the fields `changes` sets; moving only the start keeps the event's length. `overrides` are
    the series' overridden occurrences, which move with it."""
    current = to_event(component)
    if changes.title is not None:
        _replace(component, "summary", changes.title)
    if changes.location is not None:
        _replace(component, "location", changes.location)
    if changes.description is not None:
        _replace(component, "description", changes.description)
    if changes.start is not None or changes.end is not None:
        updated = changes.apply_to(current)
        if not isinstance(updated.start, datetime) or not isinstance(updated.end, datetime):
            raise CalendarError("changing the times of an all-day event is not supported; delete and re-create it")
        component.pop("DURATION", None)
        _replace(component, "dtstart", _moment(updated.start))
        _replace(component, "dtend", _moment(updated.end))
        series = component.get("RRULE") is not None or component.get("RDATE") is not None
        if series and component.get("RECURRENCE-ID") is None and isinstance(current.start, datetime):
            _shift_exceptions(component, overrides, current.start, updated.start)
    sequence = component.get("SEQUENCE")
    _replace(component, "sequence", int(sequence) + 1 if sequence is not None else 1)
    _stamp(component)


def add_attendees(component: icalendar.cal.Component, attendees: list[str]) -> list[str]:
    """Add attendees not already invited; returns the ones added."""
    present = {a.lower() for a in to_event(component).attendees}
    added = []
    for address in attendees:
        if address.lower() in present:
            continue
        attendee = icalendar.vCalAddress(f"mailto:{address}")
        attendee.params["ROLE"] = "REQ-PARTICIPANT"
        attendee.params["PARTSTAT"] = "NEEDS-ACTION"
        attendee.params["RSVP"] = "TRUE"
        component.add("attendee", attendee)
        present.add(address.lower())
        added.append(address)
    if added:
        sequence = component.get("SEQUENCE")
        _replace(component, "sequence", int(sequence) + 1 if sequence is not None else 1)
        _stamp(component)
    return added


def finalize(cal: icalendar.Calendar) -> bytes:
    """Serialize with a VTIMEZONE for every TZID used, so other clients read the same wall times."""
    cal.add_missing_timezones()
    data: bytes = cal.to_ical()
    return data
