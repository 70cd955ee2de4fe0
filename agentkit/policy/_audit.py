"""An append-only audit log: one JSON line per loop decision, each chained to the previous one by hash.

Each record is `{"seq", "time", "kind", "data", "alg", "prev_hash", "hash"}`; `hash` is SHA-256 over the
canonical JSON of every other field (HMAC-SHA256 when a key is given), `prev_hash` is the previous record's
hash (64 zeros for the first). A record is written with one `write(2)` on an O_APPEND descriptor and fsynced
before `write()` returns its id, so a record whose id was handed out survives a kill of the process.

A hash chain alone shows edits, reorders and deleted middle lines, but not a cut at the end. The anchor for
that is a sidecar `FILE.head` ({"seq", "hash"} of the last record), replaced atomically (temp file, fsync,
rename, fsync of the folder) after each record. After a crash the head may lag the log by exactly one record
(killed between the two writes); `verify` accepts that and nothing more. Without a key the chain detects
corruption and naive tampering; someone able to rewrite the whole file and the head can recompute both.
With a key (kept outside the log's folder) the hashes and the head are MACs that cannot be recomputed.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import hmac
import json
import os
import re
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from .._errors import UserError
from .._messages import canonical_json
from ._redact import redact_value

GENESIS = "0" * 64
Alg = Literal["sha256", "hmac-sha256"]
_FIELDS = ("seq", "time", "kind", "data", "alg", "prev_hash", "hash")
_TAIL_READ = 1 << 16
_SURROGATE = re.compile("[\ud800-\udfff]")


def _digest(body: dict[str, Any], key: bytes | None) -> str:
    payload = canonical_json(body).encode()
    if key is None:
        return hashlib.sha256(payload).hexdigest()
    return hmac.new(key, payload, hashlib.sha256).hexdigest()


def _head_mac(seq: int, record_hash: str, key: bytes | None) -> str | None:
    if key is None:
        return None
    return hmac.new(key, f"head\n{seq}\n{record_hash}".encode(), hashlib.sha256).hexdigest()


def head_path(path: Path) -> Path:
    return path.with_name(path.name + ".head")


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class AuditLog:
    """Append records to `path`; reopening an existing log continues its chain.

    One writer per file (an exclusive lock enforces it). `redact=True` masks secrets (API keys, tokens,
    private keys, `password=...`) in the data before it is written: the audit trail must not become the
    place credentials leak from.
    """

    def __init__(self, path: str | os.PathLike[str], *, key: bytes | None = None, redact: bool = True) -> None:
        self.path = Path(path)
        self.key = key
        self.alg: Alg = "hmac-sha256" if key is not None else "sha256"
        self.redact = redact
        self._lock = threading.Lock()
        self._fd = -1
        self.path.parent.mkdir(parents=True, exist_ok=True)
        created = not self.path.exists()
        fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise UserError(f"audit log {self.path} is open for writing in another process; use one writer per file") from None
        self._fd = fd
        if created:
            _fsync_dir(self.path.parent)
        try:
            self.seq, self.last_hash = self._recover()
        except BaseException:
            self.close()
            raise

    # -- opening ---------------------------------------------------------------------------------------
    def _recover(self) -> tuple[int, str]:
        """Find the last complete record; drop a torn tail left by a crash mid-write (never acknowledged)."""
        size = os.fstat(self._fd).st_size
        if size == 0:
            self._check_head(0, GENESIS)
            return 0, GENESIS
        start = max(0, size - _TAIL_READ)
        tail = os.pread(self._fd, size - start, start)
        while b"\n" not in tail[:-1] and start > 0:  # a record longer than the read window
            start = max(0, start - _TAIL_READ)
            tail = os.pread(self._fd, size - start, start)
        if not tail.endswith(b"\n"):
            cut = tail.rfind(b"\n")
            keep = start + cut + 1 if cut >= 0 else 0
            os.ftruncate(self._fd, keep)
            os.fsync(self._fd)
            tail = tail[: cut + 1] if cut >= 0 else b""
            if keep == 0:
                self._check_head(0, GENESIS)
                return 0, GENESIS
        lines = tail.rstrip(b"\n").split(b"\n")
        try:
            last = json.loads(lines[-1])
            seq, last_hash = int(last["seq"]), str(last["hash"])
        except (ValueError, KeyError, TypeError):
            raise UserError(
                f"the last line of audit log {self.path} is not a record; inspect it with `agentkit audit verify {self.path}`"
            ) from None
        if last.get("alg") != self.alg:
            raise UserError(
                f"audit log {self.path} uses {last.get('alg')!r} but this writer uses {self.alg!r}; "
                "open it with the same key it was written with"
            )
        self._check_head(seq, last_hash)
        return seq, last_hash

    def _check_head(self, seq: int, last_hash: str) -> None:
        head = read_head(self.path)
        if head is None:
            if seq > 0:
                raise UserError(f"audit log {self.path} has no head anchor {head_path(self.path).name}; "
                                f"check it with `agentkit audit verify {self.path}` before writing more")
            return
        if head["seq"] > seq:
            raise UserError(
                f"audit log {self.path} ends at record {seq} but its head anchor says {head['seq']}: records were "
                f"removed from the end; keep the file as evidence and start a new log"
            )
        if head["seq"] < seq - 1:
            raise UserError(f"audit log {self.path} has records past its head anchor; run `agentkit audit verify`")
        if head["seq"] == seq and head["hash"] != last_hash:
            raise UserError(f"audit log {self.path}: the last record does not match its head anchor; "
                            "run `agentkit audit verify`")
        if head["seq"] == seq - 1:  # killed between the record and the head update: catch the head up
            self._write_head(seq, last_hash)

    # -- writing ---------------------------------------------------------------------------------------
    def write(self, kind: str, data: dict[str, Any]) -> str:
        """Append one record, durably, and return its id ("<seq>-<hash prefix>")."""
        if self._fd < 0:
            raise UserError(f"audit log {self.path} is closed")
        safe: Any = redact_value(data) if self.redact else data
        with self._lock:
            body = {
                "seq": self.seq + 1,
                "time": datetime.now(UTC).isoformat(timespec="microseconds"),
                "kind": kind,
                # a lone surrogate (undecodable argv bytes, a JSON escape) has no UTF-8 form: keep a U+FFFD
                "data": json.loads(_SURROGATE.sub("\ufffd", canonical_json(safe))),
                "alg": self.alg,
                "prev_hash": self.last_hash,
            }
            record_hash = _digest(body, self.key)
            line = canonical_json({**body, "hash": record_hash}).encode() + b"\n"
            written = os.write(self._fd, line)
            if written != len(line):  # pragma: no cover - a full disk; never leave a torn record behind
                os.ftruncate(self._fd, os.fstat(self._fd).st_size - written)
                raise OSError(f"short write to audit log {self.path}")
            os.fsync(self._fd)
            self.seq += 1
            self.last_hash = record_hash
            self._write_head(self.seq, record_hash)
            return f"{self.seq}-{record_hash[:12]}"

    def _write_head(self, seq: int, record_hash: str) -> None:
        head = {"seq": seq, "hash": record_hash, "alg": self.alg, "mac": _head_mac(seq, record_hash, self.key)}
        target = head_path(self.path)
        tmp = target.with_name(target.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, json.dumps(head).encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, target)
        _fsync_dir(target.parent)

    def close(self) -> None:
        if getattr(self, "_fd", -1) >= 0:
            with contextlib.suppress(OSError):
                fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> AuditLog:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def __del__(self) -> None:
        self.close()


def _being_written(path: Path) -> bool:
    """True while an AuditLog holds the file (its exclusive lock blocks a shared one)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing drops the shared lock if it was taken
    return False


def read_head(path: Path) -> dict[str, Any] | None:
    try:
        head: Any = json.loads(head_path(path).read_text())
    except FileNotFoundError:
        return None
    except ValueError:
        head = None
    if not (isinstance(head, dict) and type(head.get("seq")) is int and head["seq"] >= 0
            and isinstance(head.get("hash"), str)):
        return {"seq": -1, "hash": "", "alg": "", "mac": None, "damaged": True}
    return head


@dataclass(frozen=True)
class VerifyReport:
    """The outcome of `verify`: ok, or the first bad line (1-based) and what is wrong with it."""

    path: str
    ok: bool
    records: int
    line: int | None = None
    problem: str | None = None
    notes: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        if self.ok:
            extra = "".join(f"; {n}" for n in self.notes)
            return f"{self.path}: OK, {self.records} records, chain and head anchor intact{extra}"
        where = f" line {self.line}:" if self.line is not None else ""
        return f"{self.path}:{where} {self.problem}"


def verify(path: str | os.PathLike[str], *, key: bytes | None = None) -> VerifyReport:
    """Check every record's hash, its link to the previous one, its sequence number and the head anchor.

    A log still open by its writer can be verified: the head is read before the log (the writer updates
    them in the other order), and records written meanwhile past the head are reported in the notes.
    """
    log = Path(path)
    name = str(log)
    live = _being_written(log)
    head = read_head(log)
    try:
        raw = log.read_bytes()
    except FileNotFoundError:
        raise UserError(f"no audit log at {log}") from None
    alg: Alg = "hmac-sha256" if key is not None else "sha256"
    chunks = raw.split(b"\n")
    torn = chunks.pop()  # after the last newline: b"" for a clean file, else a torn (unacknowledged) write
    notes: list[str] = []

    def bad(line: int | None, problem: str, records: int) -> VerifyReport:
        return VerifyReport(name, False, records, line, problem)

    prev = GENESIS
    hashes: list[str] = []
    for index, chunk in enumerate(chunks, start=1):
        try:
            record = json.loads(chunk)
        except ValueError:
            return bad(index, "not a JSON record (the line was edited or corrupted)", index - 1)
        if not isinstance(record, dict) or set(record) != set(_FIELDS):
            return bad(index, f"not an audit record (fields must be {', '.join(_FIELDS)})", index - 1)
        if record["alg"] != alg:
            hint = "pass the key it was written with" if record["alg"] == "hmac-sha256" else "it was written without a key"
            return bad(index, f"record uses {record['alg']!r}, expected {alg!r} ({hint})", index - 1)
        try:
            canonical = canonical_json(record).encode()
        except UnicodeEncodeError:
            return bad(index, "the record holds text that is not valid Unicode (the record was edited)", index - 1)
        if record["seq"] != index:
            return bad(index, f"sequence number {record['seq']} where {index} was expected "
                              "(records were removed, inserted or reordered)", index - 1)
        if record["prev_hash"] != prev:
            return bad(index, "prev_hash does not match the previous record's hash "
                              "(records were removed, inserted or reordered)", index - 1)
        body = {k: record[k] for k in _FIELDS if k != "hash"}
        if not hmac.compare_digest(_digest(body, key).encode(), str(record["hash"]).encode()):
            return bad(index, "the record's content does not match its hash (the record was edited)", index - 1)
        if chunk != canonical:  # a first-wins reader would show a duplicated key's forged value
            return bad(index, "the line is not in the canonical form its writer produces (its spacing, line "
                              "ending or keys were edited)", index - 1)
        prev = record["hash"]
        hashes.append(prev)
    count = len(hashes)
    if head is None:
        return bad(None, f"no head anchor {head_path(log).name}: a truncation cannot be ruled out", count)
    if head.get("damaged"):
        return bad(None, f"head anchor {head_path(log).name} is not valid: it must be the JSON "
                         '{"seq", "hash", ...} its writer keeps', count)
    head_seq: int = head["seq"]
    if key is not None and not hmac.compare_digest(str(head.get("mac")).encode(),
                                                   str(_head_mac(head_seq, head["hash"], key)).encode()):
        return bad(None, f"head anchor {head_path(log).name} was not written with this key", count)
    if head_seq > count:
        line = count + 1 if count else 1
        return bad(line, f"the log ends after record {count} but its head anchor says {head_seq}: "
                         f"{head_seq - count} record(s) were cut from the end", count)
    if head_seq and hashes[head_seq - 1] != head["hash"]:
        return bad(head_seq, "the record at the head anchor's position does not match the anchor", count)
    if head_seq < count - 1 and not live:
        return bad(head_seq + 2, f"{count - head_seq} records follow the head anchor (appended by something "
                                 "other than the audit writer)", count)
    if live and count > head_seq:
        notes.append(f"the log is open by its writer; {count - head_seq} record(s) written while verifying")
    elif head_seq == count - 1 and not live:
        notes.append("the last record was written just before a crash (head anchor one behind)")
    if torn:
        notes.append(f"an incomplete final line ({len(torn)} bytes, never acknowledged) is ignored")
    return VerifyReport(name, True, count, notes=notes)
