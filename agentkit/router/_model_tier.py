"""Tier 3: the capable model settles a request the rules and the classifier were unsure about.

The answer is grammar-constrained: an `Agent` with `output_type=ModelVerdict` (a small, bounded schema: enums
and booleans only, so it cannot run past max_tokens mid-string). It runs only when the registry flags a
profile `capable_router`; when it fails, the first tiers' decision stands and the failure is noted.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Coroutine
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict

from .._decoding import DecodingSettings
from .._hooks import Risk
from ..models._base import Model
from ._decision import Intent

T = TypeVar("T")

SYSTEM = """You route requests for an assistant. Classify the user's request; do not answer it.
intent: code (programming), file (the user's files or attached documents), web (facts that change: news, prices,
weather, laws, current office holders, latest versions), calculation (arithmetic, conversions), mail (the user's
e-mail), calendar (the user's agenda, meetings, availability), chat (conversation, explanations, writing,
translation), unsupported (images, video, audio, phone calls, purchases, payments, smart home).
needs_fresh_data: true when the answer depends on facts that may have changed recently.
risk: low (reading, explaining), medium (changing the user's data, sending, code changes, medical or legal advice),
high (deleting, bulk or irreversible actions, payments), critical (malware, credential theft, exfiltration).
vague: true when the request names nothing to act on (e.g. "fix this" with no code, file or error).
Reply with the JSON object only."""

MAX_PROMPT_CHARS = 2000


class ModelVerdict(BaseModel):
    """What the model is asked for: bounded fields only (enums and booleans)."""

    model_config = ConfigDict(extra="forbid")

    intent: Intent
    needs_fresh_data: bool
    risk: Risk
    vague: bool


async def ask_model(model: Model, prompt: str) -> ModelVerdict:
    from .._agent import Agent

    agent = Agent(
        model, system=SYSTEM, output_type=ModelVerdict, preset="precise",
        settings=DecodingSettings(max_tokens=64), name="router",
    )
    shown = prompt if len(prompt) <= MAX_PROMPT_CHARS else prompt[:MAX_PROMPT_CHARS] + " [...]"
    result = await agent.run(f"Request to classify:\n<<<\n{shown}\n>>>")
    verdict = result.output
    assert isinstance(verdict, ModelVerdict)
    return verdict


def run_blocking(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion from synchronous code, inside or outside a running event loop.

    Inside a loop (the agent loop calls `Router.route` synchronously) it runs on a worker thread with its own
    loop; the caller's loop waits. `Router.aroute` avoids that wait for callers that can await.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    with concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="agentkit-router") as pool:
        return pool.submit(asyncio.run, coroutine).result()
