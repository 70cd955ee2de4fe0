"""Confirmers and the paused-run file: how a person answers "may this exact call run?".

- `interactive_confirmer()`: asks on a terminal (or any text streams), showing the call, its preview (the diff,
  the draft, the dry run), the policy's reason and the call's fingerprint. Anything but yes is a no.
- `callback_confirmer(fn)`: your own function decides (sync or async, returns bool or Confirmation).
- `deny_all()` / `approve_all()` from agentkit (approve_all only in tests: it warns on every call).
- With no confirmer, a run that needs one stops with a RunState: `save_state(state, path)` writes it
  (atomically, owner-only permissions: it holds the conversation), `load_state(path)` reads it back in any
  process, and `agent.run(state=..., decisions={fingerprint: "approve" | "deny"})` continues it.
  `claim_state(path)` loads and moves the file aside atomically: the same pause cannot be resumed twice.
"""

from __future__ import annotations

import getpass
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from pydantic import ValidationError

from .._errors import UserError
from .._gate import Confirmation, ConfirmationRequest, Confirmer, ConfirmFn
from .._result import RunState

_YES = {"y", "yes", "o", "oui"}


def _render(request: ConfirmationRequest) -> str:
    arguments = json.dumps(request.call.arguments, indent=2, ensure_ascii=False)
    lines = [
        "",
        f"== {request.effect.upper()} call needs your confirmation: {request.call.name}",
        f"arguments:\n{arguments}",
    ]
    if request.preview:
        lines.append("--- preview (what will happen) ---")
        lines.append(request.preview.rstrip("\n"))
        lines.append("--- end of preview ---")
    else:
        lines.append("(this tool offers no preview: judge from the arguments above)")
    lines.append(f"policy: {request.reason}")
    lines.append(f"fingerprint: {request.fingerprint[:16]} (this approval covers exactly this call)")
    return "\n".join(lines)


def interactive_confirmer(
    *, stdin: TextIO | None = None, stdout: TextIO | None = None, who: str | None = None,
) -> Confirmer:
    """Ask a person, call by call. End of input (Ctrl-D, closed pipe) counts as no."""
    person = who or _user_name()

    def ask(request: ConfirmationRequest) -> Confirmation:
        out = stdout or sys.stderr
        inp = stdin or sys.stdin
        out.write(_render(request) + "\nRun this exact call? [y/N] ")
        out.flush()
        line = inp.readline()
        approved = line.strip().lower() in _YES
        if not line:
            out.write("\n(no answer: not run)\n")
        return Confirmation(approved=approved, by=f"cli:{person}", note="" if line else "end of input")

    return Confirmer(ask, by=f"cli:{person}")


def callback_confirmer(callback: ConfirmFn, *, by: str = "callback") -> Confirmer:
    """Your function answers each request (bool or Confirmation, sync or async)."""
    return Confirmer(callback, by=by)


def _user_name() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return os.environ.get("USER", "user")


def save_state(state: RunState, path: str | os.PathLike[str]) -> Path:
    """Write a paused run atomically with owner-only permissions; returns the path."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(state.dump())
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return target


def load_state(path: str | os.PathLike[str]) -> RunState:
    """Read a state written by `save_state` (or `agentkit run --state-out`)."""
    source = Path(path)
    try:
        text = source.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError(f"no saved run state at {source}") from None
    try:
        state = RunState.load(text)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top level)"
        raise UserError(f"{source} is not a saved run state ({where}: {first['msg']}); "
                        "it must be the JSON written when a run paused") from None
    # A person approves what `pending` shows, by fingerprint: both must be the call the run makes next.
    queued = {call.fingerprint() for call in state.queue}
    for index, pending in enumerate(state.pending):
        if pending.call.fingerprint() != pending.fingerprint:
            problem = "does not match its fingerprint"
        elif pending.fingerprint not in queued:
            problem = "is not in the queue of calls to run"
        else:
            continue
        raise UserError(f"{source} was edited after it was saved: pending[{index}] ({pending.call.name}) {problem}; "
                        "do not approve anything from it, run the request again")
    return state


def claim_state(path: str | os.PathLike[str]) -> RunState:
    """Load a saved state and move the file aside in one atomic step, so a paused run is resumed once.

    Two processes resuming the same file cannot both run the approved call: the second finds the file gone.
    The claimed copy stays next to it (`<name>.claimed`) for the record.
    """
    source = Path(path)
    claimed = source.with_name(source.name + ".claimed")
    try:
        os.rename(source, claimed)
    except FileNotFoundError:
        if claimed.exists():
            raise UserError(f"the paused run in {source} was already resumed ({claimed.name} exists)") from None
        raise UserError(f"no saved run state at {source}") from None
    return load_state(claimed)


def decisions_for(state: RunState, decide: Callable[[str, str], bool]) -> dict[str, str]:
    """Build the `decisions` mapping for a resume by asking `decide(tool_name, fingerprint)` per pending call."""
    return {p.fingerprint: "approve" if decide(p.call.name, p.fingerprint) else "deny" for p in state.pending}
