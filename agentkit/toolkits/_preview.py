"""Dry-run previews that never raise: a call that would be refused or fail says so, with the reason.

The person confirming must see every proposed call, including one that cannot run; a preview that raised
would hide it behind a generic error.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from pydantic import ValidationError

from .._errors import ModelRetry
from .._tools import Tool


async def preview_call(target: Tool, arguments: dict[str, Any], render: Callable[..., str]) -> str:
    """`render(**validated arguments)` in a worker thread (it may read the store), or why the call won't run."""
    try:
        parsed = target.validate(arguments)
        kwargs = {name: getattr(parsed, name) for name in type(parsed).model_fields}
        return await asyncio.to_thread(render, **kwargs)
    except ModelRetry as exc:
        return f"This call will be refused, nothing will change: {exc.message}"
    except ValidationError as exc:
        return f"This call will be refused, nothing will change: invalid arguments ({exc.error_count()} problems)."
    except Exception as exc:
        return f"This call will fail, nothing will change: {type(exc).__name__}: {exc}"
