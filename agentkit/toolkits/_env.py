"""Secrets come from environment variables the config names, never from the config file itself."""

from __future__ import annotations

import os

from .._errors import UserError


def from_env(variable: str | None, *, purpose: str) -> str | None:
    """The value of `variable`, None when no variable is named; a UserError when it is named but unset."""
    if variable is None:
        return None
    value = os.environ.get(variable)
    if value is None:
        raise UserError(f"environment variable {variable} (the {purpose}) is not set; export it before running")
    return value
