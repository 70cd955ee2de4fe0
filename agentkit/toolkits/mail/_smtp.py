"""Sending over SMTP (stdlib smtplib): implicit TLS, STARTTLS, or plain on loopback only.

Credentials are passed in by the caller (the toolkit reads them from environment variables the config
names). Plain SMTP with a password is refused unless the server is on this machine: a password must not
cross a network in clear text.
"""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Literal

from ..._errors import UserError
from ..._net import is_loopback
from ._model import MailError, without_bcc

Security = Literal["ssl", "starttls", "none"]


@dataclass
class SmtpTransport:
    host: str
    port: int = 587
    security: Security = "starttls"
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    timeout: float = 30.0

    def __post_init__(self) -> None:
        if self.security == "none" and self.password and not is_loopback(self.host):
            raise UserError(
                f"SMTP to {self.host} with security 'none' would send the password in clear text; "
                "use security 'starttls' or 'ssl'"
            )
        if bool(self.username) != bool(self.password):
            raise UserError("SMTP needs both a username and a password, or neither")

    @property
    def description(self) -> str:
        return f"SMTP {self.host}:{self.port} ({self.security})"

    def send(self, message: EmailMessage, *, sender: str, recipients: list[str]) -> tuple[str, ...]:
        """Deliver `message` to `recipients` (the envelope, Bcc included); the Bcc header is never sent.

        Returns the recipients the server refused while accepting the others (the message did go out).
        """
        if not recipients:
            raise MailError("the draft has no recipients")
        outgoing = without_bcc(message)
        try:
            client: smtplib.SMTP
            if self.security == "ssl":
                client = smtplib.SMTP_SSL(
                    self.host, self.port, timeout=self.timeout, context=ssl.create_default_context()
                )
            else:
                client = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            with client:
                if self.security == "starttls":
                    client.starttls(context=ssl.create_default_context())
                if self.username and self.password:
                    client.login(self.username, self.password)
                refused = client.send_message(outgoing, from_addr=sender, to_addrs=recipients)
        except smtplib.SMTPAuthenticationError:
            raise MailError(
                f"{self.description} refused the login; check the username and password environment variables"
            ) from None
        except smtplib.SMTPRecipientsRefused as exc:
            raise MailError(f"{self.description} refused every recipient: {sorted(exc.recipients)}") from None
        except (smtplib.SMTPException, OSError) as exc:
            raise MailError(f"{self.description} failed: {type(exc).__name__}: {exc}") from None
        return tuple(sorted(refused))
