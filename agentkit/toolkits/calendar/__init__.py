"""Calendar toolkit: list events (recurrences expanded), free/busy, create, update, invite, delete.

    from agentkit.toolkits.calendar import Config, toolkit
    tools = toolkit(Config(default_timezone="Europe/Paris"))  # a local .ics file by default

Backends: a local iCalendar file (`IcsFileBackend`, the default), a CalDAV server (`CalDavBackend`, extra
`agentkit[caldav]`) and Google Calendar (`GoogleCalendarBackend`). Any object following `CalendarBackend`
works with `calendar_tools(backend)`. Times are explicit: an offset or an IANA zone, never a guess.
"""

from __future__ import annotations

from ._caldav import CalDavBackend
from ._config import CalDavConfig, Config, GoogleCalendarConfig, IcsFileConfig, create_backend, toolkit
from ._google import GoogleCalendarBackend
from ._icsfile import IcsFileBackend
from ._model import (
    BusyInterval,
    CalendarBackend,
    CalendarError,
    CalendarEvent,
    EventChanges,
    EventDraft,
    EventNotFoundError,
    InviteOutcome,
)
from ._tools import calendar_tools

__all__ = [
    "BusyInterval",
    "CalDavBackend",
    "CalDavConfig",
    "CalendarBackend",
    "CalendarError",
    "CalendarEvent",
    "Config",
    "EventChanges",
    "EventDraft",
    "EventNotFoundError",
    "GoogleCalendarBackend",
    "GoogleCalendarConfig",
    "IcsFileBackend",
    "IcsFileConfig",
    "InviteOutcome",
    "calendar_tools",
    "create_backend",
    "toolkit",
]

