"""A calendar in one local .ics file: the default, no server, readable by any calendar program.

Writes are atomic (a temporary file in the same folder, flushed, then renamed over the old one), so a crash
never leaves half a calendar. A file that does not parse is reported and never overwritten. The file is
created on the first write; reading a missing file gives an empty calendar.
"""

from __future__ import annotations

import os
import tempfile
import threading
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TypeVar

import icalendar

from . import _ical
from ._model import (
    BusyInterval,
    CalendarError,
    CalendarEvent,
    EventChanges,
    EventDraft,
    EventNotFoundError,
    InviteOutcome,
)

T = TypeVar("T")


class IcsFileBackend:
    """Events in a local iCalendar file. Inviting records attendees in the file; no message is sent."""

    sends_invitations = False
    notifies_on_update = False

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path).expanduser()
        self._lock = threading.Lock()

    @property
    def description(self) -> str:
        return f"local calendar file {self.path}"

    # -- file access -------------------------------------------------------------------------------------
    def _load(self) -> icalendar.Calendar:
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return _ical.new_calendar()
        except OSError as exc:
            raise CalendarError(f"cannot read the calendar file {self.path}: {exc.strerror or exc}") from None
        if not data.strip():
            return _ical.new_calendar()
        return _ical.parse_calendar(data, source=f"the calendar file {self.path}")

    def _save(self, cal: icalendar.Calendar) -> None:
        data = _ical.finalize(cal)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent)
            try:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(data)
                    handle.flush()
                    os.fsync(handle.fileno())
                if self.path.exists():
                    os.chmod(tmp, self.path.stat().st_mode & 0o777)
                os.replace(tmp, self.path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except OSError as exc:
            raise CalendarError(f"cannot write the calendar file {self.path}: {exc.strerror or exc}") from None

    def _modify(self, change: Callable[[icalendar.Calendar], T]) -> T:
        with self._lock:
            cal = self._load()
            result = change(cal)
            self._save(cal)
            return result

    def _master(self, cal: icalendar.Calendar, event_id: str) -> icalendar.cal.Component:
        component = _ical.master(cal, event_id)
        if component is None:
            raise EventNotFoundError(f"no event with id {event_id!r} in {self.path}")
        return component

    # -- the backend protocol ----------------------------------------------------------------------------
    def list_events(self, start: datetime, end: datetime) -> list[CalendarEvent]:
        with self._lock:
            cal = self._load()
        return _ical.expand(cal, start, end)

    def free_busy(self, start: datetime, end: datetime) -> list[BusyInterval]:
        return _ical.busy_from(self.list_events(start, end), start, end)

    def get_event(self, event_id: str) -> CalendarEvent:
        with self._lock:
            cal = self._load()
        return _ical.to_event(self._master(cal, event_id))

    def create_event(self, draft: EventDraft) -> CalendarEvent:
        component = _ical.new_component(draft)

        def add(cal: icalendar.Calendar) -> CalendarEvent:
            cal.add_component(component)
            return _ical.to_event(component)

        return self._modify(add)

    def update_event(self, event_id: str, changes: EventChanges) -> CalendarEvent:
        def update(cal: icalendar.Calendar) -> CalendarEvent:
            component = self._master(cal, event_id)
            _ical.apply_changes(component, changes, overrides=_ical.components_of(cal, event_id)[1:])
            return _ical.to_event(component)

        return self._modify(update)

    def invite(self, event_id: str, attendees: list[str]) -> InviteOutcome:
        def invite(cal: icalendar.Calendar) -> InviteOutcome:
            component = self._master(cal, event_id)
            _ical.add_attendees(component, attendees)
            return InviteOutcome(event=_ical.to_event(component), notified=())

        return self._modify(invite)

    def delete_event(self, event_id: str) -> None:
        def delete(cal: icalendar.Calendar) -> None:
            doomed = _ical.components_of(cal, event_id)
            if not doomed:
                raise EventNotFoundError(f"no event with id {event_id!r} in {self.path}")
            cal.subcomponents[:] = [c for c in cal.subcomponents if all(c is not d for d in doomed)]

        self._modify(delete)
