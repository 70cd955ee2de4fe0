"""Building Google API clients (Gmail v1, Calendar v3) from an OAuth file the user names, offline-safe, and
running their requests with errors that say what failed.

`NO_GCE_CHECK` is set before google.auth is ever imported: without it, code that looks for default
credentials probes the cloud metadata address (169.254.169.254) and waits on it. agentkit never uses default
credentials (the user names the authorized-user file), and it never lets that probe happen.
The discovery documents ship with google-api-python-client (`static_discovery=True`): building a client
makes no network request.
"""

from __future__ import annotations

import os

os.environ.setdefault("NO_GCE_CHECK", "true")

from collections.abc import Collection
from pathlib import Path
from typing import Any

from .._errors import UserError


def load_credentials(path: str | Path, *, scopes: list[str] | None = None) -> Any:
    """OAuth user credentials from an authorized-user JSON file (the one `google-auth-oauthlib` writes)."""
    from google.oauth2.credentials import Credentials

    file = Path(path).expanduser()
    if not file.is_file():
        raise UserError(
            f"Google credentials file {file} does not exist; create it with an OAuth consent flow "
            "(an 'authorized_user' JSON with client_id, client_secret and refresh_token) and name it in the config"
        )
    try:
        return Credentials.from_authorized_user_file(str(file), scopes)  # type: ignore[no-untyped-call]
    except (ValueError, KeyError) as exc:
        raise UserError(
            f"Google credentials file {file} is not an authorized-user OAuth file ({exc}); it needs "
            "client_id, client_secret and refresh_token"
        ) from None


def build_service(name: str, version: str, *, credentials: Any = None, http: Any = None) -> Any:
    """A discovery-based client from the bundled document; pass `http` (e.g. HttpMockSequence) in tests."""
    from googleapiclient.discovery import build  # type: ignore[import-untyped]

    if credentials is None and http is None:
        raise UserError("a Google API client needs credentials (a credentials_file) or an explicit http transport")
    return build(
        name, version, credentials=credentials, http=http, static_discovery=True, cache_discovery=False,
    )


def http_error_status(exc: BaseException) -> int | None:
    """The HTTP status of a googleapiclient HttpError, else None."""
    try:
        from googleapiclient.errors import HttpError  # type: ignore[import-untyped]
    except ImportError:  # pragma: no cover - the client is a core dependency
        return None
    if isinstance(exc, HttpError):
        status = getattr(exc.resp, "status", None)
        return int(status) if status is not None else None
    return None


def http_error_reason(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None) or getattr(exc, "_get_reason", lambda: "")()
    return str(reason or exc)


def execute(
    request: Any, *, description: str, error: type[Exception], refused_hint: str,
    missing: Exception | None = None, missing_statuses: Collection[int] = (404,),
) -> Any:
    """Run one API request without retries. A failure becomes `error` naming the service and the HTTP status
    (with `refused_hint` on 401/403), or `missing` when the resource is gone (`missing_statuses`)."""
    try:
        return request.execute(num_retries=0)
    except Exception as exc:
        status = http_error_status(exc)
        if status is None:
            raise error(f"{description}: {type(exc).__name__}: {exc}") from None
        if status in missing_statuses and missing is not None:
            raise missing from None
        reason = http_error_reason(exc)
        if status in (401, 403):
            raise error(f"{description} refused the request ({status}: {reason}); {refused_hint}") from None
        raise error(f"{description} request failed ({status}: {reason})") from None
