"""API keys: stored hashed (salted SHA-256), shown once, each with its own limits.

A key reads `ak_<id>_<secret>`: the id finds the record, the secret is checked against the stored digest in
constant time. Keys carry 256 bits of randomness, so a fast hash is enough (a slow password hash would only
add latency to every request). The keys file is JSON; `agentkit serve keys` manages it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from collections.abc import Iterable
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .._errors import UserError

Priority = Literal["interactive", "batch"]
KEY_PREFIX = "ak_"


class ApiKey(BaseModel):
    """One key's record (never the key itself). Limits of None mean unlimited."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[0-9a-f]{8}$")
    name: str = Field(min_length=1, max_length=100)
    salt: str
    digest: str
    requests_per_minute: float | None = Field(default=None, gt=0)
    burst: int | None = Field(default=None, ge=1, description="requests allowed at once (default: one minute's worth)")
    tokens_per_day: int | None = Field(default=None, ge=1)
    priority: Priority = "interactive"


class _KeysFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: Literal[1] = 1
    keys: list[ApiKey] = Field(default_factory=list)


def _digest(salt: str, secret: str) -> str:
    return hashlib.sha256(f"{salt}:{secret}".encode()).hexdigest()


class KeyStore:
    """The server's keys. Empty means authentication is off (allowed only on loopback by the CLI)."""

    def __init__(self, keys: Iterable[ApiKey] = ()) -> None:
        self._keys: dict[str, ApiKey] = {}
        for key in keys:
            if key.id in self._keys:
                raise UserError(f"two API keys share the id {key.id}; remove one from the keys file")
            self._keys[key.id] = key

    def __len__(self) -> int:
        return len(self._keys)

    @property
    def keys(self) -> list[ApiKey]:
        return list(self._keys.values())

    def create(
        self, name: str, *, requests_per_minute: float | None = None, burst: int | None = None,
        tokens_per_day: int | None = None, priority: Priority = "interactive",
    ) -> tuple[str, ApiKey]:
        """A new key: returns (the secret to hand out once, the record to store)."""
        if any(k.name == name for k in self._keys.values()):
            raise UserError(f"an API key named {name!r} exists already; revoke it first or pick another name")
        key_id = secrets.token_hex(4)
        while key_id in self._keys:
            key_id = secrets.token_hex(4)
        secret = secrets.token_urlsafe(32)
        salt = secrets.token_hex(16)
        try:
            record = ApiKey(id=key_id, name=name, salt=salt, digest=_digest(salt, secret),
                            requests_per_minute=requests_per_minute, burst=burst, tokens_per_day=tokens_per_day,
                            priority=priority)
        except ValidationError as exc:
            raise UserError(f"invalid API key settings: {exc.errors(include_url=False)[0]['msg']}") from None
        self._keys[key_id] = record
        return f"{KEY_PREFIX}{key_id}_{secret}", record

    def revoke(self, name_or_id: str) -> ApiKey:
        for key in list(self._keys.values()):
            if name_or_id in (key.name, key.id):
                return self._keys.pop(key.id)
        raise UserError(f"no API key named {name_or_id!r}; `agentkit serve keys list` shows them")

    def verify(self, presented: str) -> ApiKey | None:
        """The record of a valid key, or None. Runs in constant time in the secret."""
        if not presented.startswith(KEY_PREFIX):
            return None
        key_id, sep, secret = presented[len(KEY_PREFIX):].partition("_")
        record = self._keys.get(key_id) if sep else None
        if record is None:
            hmac.compare_digest(_digest("x", secret), "0" * 64)  # same work whether or not the id exists
            return None
        return record if hmac.compare_digest(_digest(record.salt, secret), record.digest) else None

    # -- file ------------------------------------------------------------------------------------------------
    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> KeyStore:
        file = Path(path)
        if not file.exists():
            raise UserError(f"keys file {file} does not exist; create keys with `agentkit serve keys add NAME --keys {file}`")
        try:
            data = _KeysFile.model_validate_json(file.read_bytes())
        except ValidationError as exc:
            first = exc.errors(include_url=False)[0]
            where = ".".join(str(p) for p in first["loc"])
            raise UserError(f"keys file {file} is invalid at {where or '(top)'}: {first['msg']}") from None
        return cls(data.keys)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write atomically with owner-only permissions (digests are not secrets, but limits are policy)."""
        file = Path(path)
        file.parent.mkdir(parents=True, exist_ok=True)
        tmp = file.with_name(file.name + ".tmp")
        text = json.dumps(_KeysFile(keys=self.keys).model_dump(mode="json"), indent=2)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(text + "\n")
        os.replace(tmp, file)
