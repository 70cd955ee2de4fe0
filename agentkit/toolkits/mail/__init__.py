"""Mail toolkit: search, read, draft, send (a draft, after confirmation), delete.

    from agentkit.toolkits.mail import Config, MaildirConfig, toolkit
    tools = toolkit(Config(backend=MaildirConfig(path="~/Mail", from_address="me@example.org",
                                                 outbox="~/Mail-outbox")))

Backends: a local Maildir (`MaildirBackend`, the default), IMAP + SMTP (`ImapSmtpBackend`) and Gmail
(`GmailBackend`). Any object following `MailBackend` works with `mail_tools(backend)`. Sending always
goes through a saved draft whose content is bound to the approval (see `mail_tools`).
"""

from __future__ import annotations

from ._config import Config, GmailConfig, ImapConfig, MaildirConfig, SmtpConfig, create_backend, toolkit
from ._gmail import GmailBackend
from ._imap import ImapSmtpBackend
from ._maildir import MaildirBackend
from ._model import Draft, MailBackend, MailError, MailMessage, MailNotFoundError, MailSummary
from ._smtp import SmtpTransport
from ._tools import mail_tools

__all__ = [
    "Config",
    "Draft",
    "GmailBackend",
    "GmailConfig",
    "ImapConfig",
    "ImapSmtpBackend",
    "MailBackend",
    "MailError",
    "MailMessage",
    "MailNotFoundError",
    "MailSummary",
    "MaildirBackend",
    "MaildirConfig",
    "SmtpConfig",
    "SmtpTransport",
    "create_backend",
    "mail_tools",
    "toolkit",
]

