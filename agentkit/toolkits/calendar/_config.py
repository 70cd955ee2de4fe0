"""Calendar toolkit options: which store (a local .ics file by default, CalDAV, Google) and a default zone."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from platformdirs import user_data_path
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from ..._errors import ModelRetry, UserError
from ..._tools import Tool
from .._env import from_env
from ._model import CalendarBackend
from ._time import zone
from ._tools import calendar_tools


def default_calendar_path() -> Path:
    return user_data_path("agentkit") / "calendar.ics"


class IcsFileConfig(BaseModel):
    """A local iCalendar file, created on the first write."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["ics"] = "ics"
    path: Path = Field(default_factory=default_calendar_path)


class CalDavConfig(BaseModel):
    """A CalDAV server. Credentials are read from the environment variables named here."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["caldav"]
    url: str = Field(description="server, principal or (with calendar unset) calendar collection URL")
    calendar: str | None = Field(default=None, description="display name of the calendar to use")
    username_env: str | None = None
    password_env: str | None = None
    create_if_missing: bool = False
    scheduling: bool = Field(default=False, description="the server emails attendees itself (RFC 6638)")
    timeout: float = Field(default=30.0, gt=0)

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value


class GoogleCalendarConfig(BaseModel):
    """Google Calendar with OAuth user credentials from an authorized-user JSON file."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["google"]
    credentials_file: Path
    calendar_id: str = "primary"


Backend = Annotated[IcsFileConfig | CalDavConfig | GoogleCalendarConfig, Field(discriminator="kind")]


class Config(BaseModel):
    """Options of the `calendar` toolkit."""

    model_config = ConfigDict(extra="forbid")

    backend: Backend = Field(default_factory=IcsFileConfig)
    default_timezone: str | None = Field(
        default=None, description="IANA zone for times given without offset or timezone (else they are refused)"
    )
    owner: Annotated[list[str], BeforeValidator(lambda v: [v] if isinstance(v, str) else v)] = Field(
        default_factory=list,
        description="your own addresses: the attendees of events you organise are vouched for, so a policy "
        "pack may let an agent invite or mail them (see policies/README.md, provenance)",
    )

    @field_validator("backend", mode="before")
    @classmethod
    def _default_kind(cls, value: object) -> object:
        """`backend: {path: ...}` means the local file: `kind` may be left out for the default."""
        if isinstance(value, dict) and "kind" not in value:
            return {**value, "kind": "ics"}
        return value

    @field_validator("default_timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                zone(value)
            except ModelRetry as exc:
                raise ValueError(exc.message) from None
        return value


def create_backend(config: Config) -> CalendarBackend:
    backend = config.backend
    if isinstance(backend, IcsFileConfig):
        from ._icsfile import IcsFileBackend

        return IcsFileBackend(backend.path)
    if isinstance(backend, CalDavConfig):
        from ._caldav import CalDavBackend

        return CalDavBackend(
            backend.url, calendar=backend.calendar,
            username=from_env(backend.username_env, purpose="CalDAV username"),
            password=from_env(backend.password_env, purpose="CalDAV password"),
            create_if_missing=backend.create_if_missing, scheduling=backend.scheduling, timeout=backend.timeout,
        )
    if isinstance(backend, GoogleCalendarConfig):
        from ._google import GoogleCalendarBackend

        return GoogleCalendarBackend.from_credentials_file(str(backend.credentials_file),
                                                           calendar_id=backend.calendar_id)
    raise UserError(f"unknown calendar backend {backend!r}")  # pragma: no cover - the union is closed


def toolkit(config: Config) -> list[Tool]:
    return calendar_tools(create_backend(config), default_timezone=config.default_timezone, owner=config.owner)
