"""Mail toolkit options: the store (a local Maildir by default, IMAP + SMTP, Gmail) and how it sends.

Passwords are never in this config: it names the environment variables that hold them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from platformdirs import user_data_path
from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..._errors import UserError
from ..._tools import Tool
from .._addresses import is_address
from .._env import from_env
from ._model import MailBackend
from ._smtp import Security, SmtpTransport
from ._tools import mail_tools


def default_maildir() -> Path:
    return user_data_path("agentkit") / "mail"


def _address(value: str | None) -> str | None:
    if value is not None and not is_address(value):
        raise ValueError(f"{value!r} is not an e-mail address like 'ana@example.org'")
    return value


class SmtpConfig(BaseModel):
    """An SMTP server. With no username_env/password_env the client does not log in."""

    model_config = ConfigDict(extra="forbid")

    host: str
    port: int = Field(default=587, ge=1, le=65535)
    security: Security = "starttls"
    username_env: str | None = None
    password_env: str | None = None
    timeout: float = Field(default=30.0, gt=0)

    def transport(self) -> SmtpTransport:
        return SmtpTransport(
            self.host, self.port, self.security,
            username=from_env(self.username_env, purpose="SMTP username"),
            password=from_env(self.password_env, purpose="SMTP password"), timeout=self.timeout,
        )


class _Folders(BaseModel):
    model_config = ConfigDict(extra="forbid")

    drafts_folder: str = "Drafts"
    sent_folder: str = "Sent"
    trash_folder: str = "Trash"
    search_folders: list[str] = Field(default_factory=lambda: ["INBOX", "Sent"])
    permanent_delete: bool = Field(default=False, description="delete for good instead of moving to the trash")


class MaildirConfig(_Folders):
    """A local Maildir. Sending needs `smtp` or an `outbox` Maildir; without either it is refused."""

    kind: Literal["maildir"] = "maildir"
    path: Path = Field(default_factory=default_maildir)
    from_address: str | None = None
    outbox: Path | None = None
    smtp: SmtpConfig | None = None

    _check_address = field_validator("from_address")(_address)


class ImapConfig(_Folders):
    """An IMAP server for the mailbox and an SMTP server for sending."""

    kind: Literal["imap"]
    host: str
    port: int | None = Field(default=None, ge=1, le=65535)
    security: Security = "ssl"
    username_env: str
    password_env: str
    from_address: str
    smtp: SmtpConfig
    save_sent: bool = Field(default=True, description="file a copy in Sent (off when the server does it itself)")
    timeout: float = Field(default=30.0, gt=0)

    _check_address = field_validator("from_address")(_address)


class GmailConfig(BaseModel):
    """Gmail with OAuth user credentials from an authorized-user JSON file."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["gmail"]
    credentials_file: Path
    user_id: str = "me"
    from_address: str | None = None
    permanent_delete: bool = Field(default=False, description="users.messages.delete instead of trash")

    _check_address = field_validator("from_address")(_address)


Backend = Annotated[MaildirConfig | ImapConfig | GmailConfig, Field(discriminator="kind")]


class Config(BaseModel):
    """Options of the `mail` toolkit."""

    model_config = ConfigDict(extra="forbid")

    backend: Backend = Field(default_factory=MaildirConfig)
    max_body_chars: int = Field(default=20_000, ge=200)

    @field_validator("backend", mode="before")
    @classmethod
    def _default_kind(cls, value: object) -> object:
        """`backend: {path: ...}` means the local Maildir: `kind` may be left out for the default."""
        if isinstance(value, dict) and "kind" not in value:
            return {**value, "kind": "maildir"}
        return value


def create_backend(config: Config) -> MailBackend:
    backend = config.backend
    if isinstance(backend, MaildirConfig):
        from ._maildir import MaildirBackend

        return MaildirBackend(
            backend.path, from_address=backend.from_address, outbox=backend.outbox,
            smtp=backend.smtp.transport() if backend.smtp else None, permanent_delete=backend.permanent_delete,
            drafts_folder=backend.drafts_folder, sent_folder=backend.sent_folder,
            trash_folder=backend.trash_folder, search_folders=backend.search_folders,
        )
    if isinstance(backend, ImapConfig):
        from ._imap import ImapSmtpBackend

        username = from_env(backend.username_env, purpose="IMAP username")
        password = from_env(backend.password_env, purpose="IMAP password")
        assert username is not None
        assert password is not None
        return ImapSmtpBackend(
            backend.host, port=backend.port, security=backend.security, username=username, password=password,
            from_address=backend.from_address, smtp=backend.smtp.transport(),
            drafts_folder=backend.drafts_folder, sent_folder=backend.sent_folder,
            trash_folder=backend.trash_folder, save_sent=backend.save_sent,
            permanent_delete=backend.permanent_delete, search_folders=backend.search_folders,
            timeout=backend.timeout,
        )
    if isinstance(backend, GmailConfig):
        from ._gmail import GmailBackend

        return GmailBackend.from_credentials_file(
            str(backend.credentials_file), user_id=backend.user_id, from_address=backend.from_address,
            permanent_delete=backend.permanent_delete,
        )
    raise UserError(f"unknown mail backend {backend!r}")  # pragma: no cover - the union is closed


def toolkit(config: Config) -> list[Tool]:
    return mail_tools(create_backend(config), max_body_chars=config.max_body_chars)
