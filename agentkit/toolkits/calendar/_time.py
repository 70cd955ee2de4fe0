"""Explicit time: every datetime a calendar tool accepts carries an offset or comes with an IANA zone.

A naive "10:00" means a different instant in every zone, so it is refused with a correction instead of
being guessed. Wall times that do not exist (the hour skipped when clocks spring forward) are refused too.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..._errors import ModelRetry


def zone(name: str) -> ZoneInfo:
    """An IANA zone by name; a correction names the expected form when it does not exist."""
    cleaned = name.strip()
    if cleaned.upper() == "UTC" or cleaned == "Z":
        cleaned = "UTC"
    try:
        if not cleaned or cleaned.startswith(("/", ".")) or ".." in cleaned:
            raise ValueError(name)
        return ZoneInfo(cleaned)
    except (ZoneInfoNotFoundError, ValueError):
        raise ModelRetry(
            f"Unknown time zone {name!r}. Use an IANA zone name such as 'Europe/Paris', 'America/New_York' or 'UTC'."
        ) from None


def zone_name(tz: tzinfo | None) -> str | None:
    """The IANA name of a zone, or None for fixed offsets (which have no name that survives DST)."""
    if isinstance(tz, ZoneInfo):
        return tz.key
    return None


def _localize(naive: datetime, tz: ZoneInfo, original: str) -> datetime:
    aware = naive.replace(tzinfo=tz)
    # A wall time inside a DST gap does not survive a round trip through UTC: it does not exist in that zone.
    if aware.astimezone(ZoneInfo("UTC")).astimezone(tz).replace(tzinfo=None) != naive:
        raise ModelRetry(
            f"{original!r} does not exist in {tz.key}: the clocks skip that hour (daylight saving time). "
            "Choose a time outside the skipped hour."
        )
    return aware


def parse_datetime(value: str, timezone: str | None, *, argument: str) -> datetime:
    """An aware datetime from ISO 8601 text.

    With an offset ("2025-03-10T10:00:00+01:00", "...Z") the offset fixes the instant and `timezone`, when given,
    only changes how it is expressed. Without one, `timezone` (an IANA name) says where the wall time is;
    without either, the value is refused. A date alone means midnight at the start of that day.
    """
    text = value.strip()
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ModelRetry(
            f"{argument}={value!r} is not an ISO 8601 date-time. Use e.g. '2025-03-10T14:30:00+01:00', "
            "or '2025-03-10T14:30:00' together with a timezone such as 'Europe/Paris'."
        ) from None
    tz = zone(timezone) if timezone else None
    if parsed.tzinfo is None:
        if tz is None:
            raise ModelRetry(
                f"{argument}={value!r} has no UTC offset and no timezone was given, so the time is ambiguous. "
                "Add an offset (e.g. '2025-03-10T14:30:00+01:00') or pass timezone='Europe/Paris' (an IANA name)."
            )
        return _localize(parsed, tz, value)
    return parsed.astimezone(tz) if tz is not None else parsed


def parse_range(start: str, end: str, timezone: str | None) -> tuple[datetime, datetime, tzinfo]:
    """A [start, end) window and the zone to show results in (the given zone, else the offset of `start`)."""
    begin = parse_datetime(start, timezone, argument="start")
    finish = parse_datetime(end, timezone, argument="end")
    if finish <= begin:
        raise ModelRetry(f"end ({end}) must be after start ({start}).")
    if finish - begin > timedelta(days=366):
        raise ModelRetry("The window is longer than a year; ask for at most 366 days at a time.")
    shown: tzinfo = zone(timezone) if timezone else begin.tzinfo or ZoneInfo("UTC")
    return begin, finish, shown


def as_zone(value: datetime | date, tz: tzinfo) -> datetime | date:
    """Express a moment in `tz`; floating (naive) times are read as wall times of `tz`; dates stay dates."""
    if not isinstance(value, datetime):
        return value
    if value.tzinfo is None:
        return value.replace(tzinfo=tz)
    return value.astimezone(tz)


def day_start(value: date, tz: tzinfo) -> datetime:
    return datetime(value.year, value.month, value.day, tzinfo=tz)


def bounds(start: datetime | date, end: datetime | date, tz: tzinfo) -> tuple[datetime, datetime]:
    """Comparable aware instants for any event edge: all-day dates span whole days in `tz`."""
    first = as_zone(start, tz)
    last = as_zone(end, tz)
    begin = first if isinstance(first, datetime) else day_start(first, tz)
    finish = last if isinstance(last, datetime) else day_start(last, tz)
    return begin, finish


def iso(value: datetime | date) -> str:
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    return value.isoformat()


def human(value: datetime | date) -> str:
    """'2025-03-10 14:30 Europe/Paris (UTC+01:00)': the form previews use, so a person can check it at a glance."""
    if not isinstance(value, datetime):
        return f"{value.isoformat()} (all day)"
    name = zone_name(value.tzinfo)
    offset = value.strftime("%z")
    offset = f"UTC{offset[:3]}:{offset[3:]}" if offset else "floating"
    where = f"{name} ({offset})" if name else offset
    return f"{value.strftime('%Y-%m-%d %H:%M')} {where}"
