"""A calendar on a CalDAV server (Radicale, Nextcloud, Fastmail, iCloud...) through the `caldav` client.

`caldav` is an optional extra (`pip install 'agentkit[caldav]'`) and is imported only here, on first use:
it pulls `urllib3-future`, which replaces the `urllib3` import, so nobody pays for it without asking.
Each event is one calendar object resource (the series master and its overridden occurrences together);
the server narrows a time range, then the shared iCalendar code expands recurrences exactly as for a file.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

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
from ._time import bounds

T = TypeVar("T")


def no_secret_in(url: str) -> str:
    """The URL without any user:password part, for messages and previews."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def _dav_errors() -> Any:
    """caldav's error module, imported on first use; a clear message when the extra is not installed."""
    try:
        from caldav.lib import error
    except ImportError:
        raise CalendarError("the CalDAV backend needs the caldav package: pip install 'agentkit[caldav]'") from None
    return error


class CalDavBackend:
    """`url` is the server (or principal) URL and `calendar` a calendar's display name, or `calendar=None`
    when `url` is the calendar collection itself. `scheduling=True` declares that the server emails
    attendees itself (RFC 6638 implicit scheduling); previews then say invitations will be sent."""

    def __init__(
        self, url: str, *, calendar: str | None, username: str | None = None, password: str | None = None,
        create_if_missing: bool = False, scheduling: bool = False, timeout: float = 30.0,
    ) -> None:
        self.url = url
        self.calendar_name = calendar
        self._username = username
        self._password = password
        self.create_if_missing = create_if_missing
        self.sends_invitations = scheduling
        self.notifies_on_update = scheduling  # an implicitly scheduling server mails every organizer change
        self.timeout = timeout
        self._calendar: Any = None
        self._lock = threading.RLock()

    @property
    def description(self) -> str:
        name = f" calendar {self.calendar_name!r}" if self.calendar_name else ""
        return f"CalDAV{name} at {no_secret_in(self.url)}"

    # -- connection --------------------------------------------------------------------------------------
    def _connect(self) -> Any:
        if self._calendar is not None:
            return self._calendar
        _dav_errors()
        from caldav.davclient import DAVClient

        client: Any = DAVClient(
            url=self.url, username=self._username, password=self._password, timeout=int(self.timeout),
            # with credentials, send them at once (no anonymous round trip first); never look up DNS records
            auth_type="basic" if self._username else None, enable_rfc6764=False,
        )
        if self.calendar_name is None:
            self._calendar = client.calendar(url=self.url)
            return self._calendar
        principal = client.principal()
        for candidate in principal.calendars():
            if candidate.get_display_name() == self.calendar_name:
                self._calendar = candidate
                return candidate
        if not self.create_if_missing:
            raise CalendarError(
                f"no calendar named {self.calendar_name!r} at {no_secret_in(self.url)}; "
                "check the name or set create_if_missing: true"
            )
        self._calendar = principal.make_calendar(name=self.calendar_name)
        return self._calendar

    def _run(self, action: Callable[[Any], T]) -> T:
        """Run `action(calendar)`; every transport or DAV failure becomes one CalendarError naming the server."""
        dav_error = _dav_errors()
        with self._lock:
            try:
                return action(self._connect())
            except CalendarError:
                raise
            except dav_error.NotFoundError as exc:
                raise CalendarError(f"not found on the CalDAV server at {no_secret_in(self.url)}: {exc}") from None
            except dav_error.AuthorizationError:
                raise CalendarError(
                    f"the CalDAV server at {no_secret_in(self.url)} refused the credentials; check the username "
                    "and password environment variables named in the calendar config"
                ) from None
            except Exception as exc:
                raise CalendarError(
                    f"CalDAV request to {no_secret_in(self.url)} failed: {type(exc).__name__}: {exc}"
                ) from None

    def _object(self, calendar: Any, event_id: str) -> Any:
        try:
            return calendar.event_by_uid(event_id)
        except _dav_errors().NotFoundError:
            raise EventNotFoundError(f"no event with id {event_id!r} in the {self.description}") from None

    # -- the backend protocol ----------------------------------------------------------------------------
    def list_events(self, start: datetime, end: datetime) -> list[CalendarEvent]:
        def search(calendar: Any) -> list[str]:
            found = calendar.search(start=start, end=end, event=True, expand=False)
            return [str(obj.data) for obj in found]

        events: list[CalendarEvent] = []
        for data in self._run(search):
            events.extend(_ical.expand(_ical.parse_calendar(data, source=self.description), start, end))
        tz = start.tzinfo or UTC
        events.sort(key=lambda e: (bounds(e.start, e.end, tz)[0], e.title))
        return events

    def free_busy(self, start: datetime, end: datetime) -> list[BusyInterval]:
        return _ical.busy_from(self.list_events(start, end), start, end)

    def get_event(self, event_id: str) -> CalendarEvent:
        data = self._run(lambda calendar: str(self._object(calendar, event_id).data))
        cal = _ical.parse_calendar(data, source=self.description)
        component = _ical.master(cal, event_id)
        if component is None:
            raise EventNotFoundError(f"no event with id {event_id!r} in the {self.description}")
        return _ical.to_event(component)

    def create_event(self, draft: EventDraft) -> CalendarEvent:
        cal = _ical.new_calendar()
        component = _ical.new_component(draft)
        cal.add_component(component)
        data = _ical.finalize(cal).decode()
        self._run(lambda calendar: calendar.add_event(data, increase_seqno=False))
        return _ical.to_event(component)

    def _rewrite(self, event_id: str, change: Callable[[Any, Any], T]) -> T:
        """Apply `change(master, calendar)` to the event's object and save it."""

        def rewrite(calendar: Any) -> T:
            obj = self._object(calendar, event_id)
            cal = _ical.parse_calendar(str(obj.data), source=self.description)
            component = _ical.master(cal, event_id)
            if component is None:
                raise EventNotFoundError(f"no event with id {event_id!r} in the {self.description}")
            result = change(component, cal)
            obj.data = _ical.finalize(cal).decode()
            obj.save(increase_seqno=False)  # apply_changes already raised SEQUENCE
            return result

        return self._run(rewrite)

    def update_event(self, event_id: str, changes: EventChanges) -> CalendarEvent:
        def update(component: Any, cal: Any) -> CalendarEvent:
            _ical.apply_changes(component, changes, overrides=_ical.components_of(cal, event_id)[1:])
            return _ical.to_event(component)

        return self._rewrite(event_id, update)

    def invite(self, event_id: str, attendees: list[str]) -> InviteOutcome:
        def invite(component: Any, _: Any) -> InviteOutcome:
            added = _ical.add_attendees(component, attendees)
            notified = tuple(added) if self.sends_invitations else ()
            return InviteOutcome(event=_ical.to_event(component), notified=notified)

        return self._rewrite(event_id, invite)

    def delete_event(self, event_id: str) -> None:
        self._run(lambda calendar: self._object(calendar, event_id).delete())
