"""The audit log: hash chain, head anchor, tamper detection, reopening, keyed logs, and a kill test."""

from __future__ import annotations

import itertools
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from agentkit import UserError
from agentkit.policy import AuditLog, verify

REPO = Path(__file__).resolve().parents[1]


def _write(path: Path, count: int, **kwargs: object) -> list[str]:
    with AuditLog(path, **kwargs) as log:  # type: ignore[arg-type]
        return [log.write("proposed_call", {"n": i, "call": {"name": "send", "arguments": {"to": [f"u{i}@x.org"]}}})
                for i in range(count)]


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines(keepends=True)


def test_records_are_chained_and_verify(tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    ids = _write(log, 5)
    records = [json.loads(line) for line in _lines(log)]
    assert [r["seq"] for r in records] == [1, 2, 3, 4, 5]
    assert records[0]["prev_hash"] == "0" * 64
    assert all(b["prev_hash"] == a["hash"] for a, b in itertools.pairwise(records))
    assert ids == [f"{r['seq']}-{r['hash'][:12]}" for r in records]
    assert set(records[0]) == {"seq", "time", "kind", "data", "alg", "prev_hash", "hash"}
    report = verify(log)
    assert report.ok, report
    assert report.records == 5
    assert oct(log.stat().st_mode & 0o777) == "0o600"


def test_reopening_continues_the_chain(tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    _write(log, 3)
    more = _write(log, 2)
    assert [i.split("-")[0] for i in more] == ["4", "5"]
    assert verify(log).ok
    assert verify(log).records == 5


def test_a_log_can_be_verified_while_its_writer_has_it_open(tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    with AuditLog(log) as audit:
        for i in range(3):
            audit.write("executed", {"n": i})
        report = verify(log)
        assert report.ok, report
        assert report.records == 3


def test_one_writer_per_file(tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    with AuditLog(log), pytest.raises(UserError, match="open for writing in another process"):
        AuditLog(log)


@pytest.mark.parametrize(("tamper", "line", "fragment"), [
    ("edit", 3, "does not match its hash (the record was edited)"),
    ("reorder", 3, "sequence number 4 where 3 was expected"),
    ("delete_middle", 3, "sequence number 4 where 3 was expected"),
    ("truncate", 6, "2 record(s) were cut from the end"),
    ("garbage", 2, "not a JSON record"),
    ("resequence", 3, "prev_hash does not match"),
])
def test_tampering_is_detected_at_the_first_bad_line(tmp_path: Path, tamper: str, line: int, fragment: str) -> None:
    log = tmp_path / "audit.jsonl"
    _write(log, 7)
    lines = _lines(log)
    if tamper == "edit":
        lines[2] = lines[2].replace("u2@x.org", "u9@x.org")
    elif tamper == "reorder":
        lines[2], lines[3] = lines[3], lines[2]
    elif tamper == "delete_middle":
        del lines[2]
    elif tamper == "truncate":
        lines = lines[:5]
    elif tamper == "garbage":
        lines[1] = lines[1][:40] + "\n"
    elif tamper == "resequence":  # remove a record and renumber the rest: the chain still breaks
        del lines[2]
        for i in range(2, len(lines)):
            record = json.loads(lines[i])
            record["seq"] = i + 1
            lines[i] = json.dumps(record) + "\n"
    log.write_text("".join(lines))
    report = verify(log)
    assert not report.ok
    assert report.line == line, report
    assert report.problem is not None
    assert fragment in report.problem, report



@pytest.mark.parametrize("tamper", ["crlf", "padding", "duplicate_key"])
def test_a_reformatted_line_is_an_edit(tmp_path: Path, tamper: str) -> None:
    """The writer's lines are canonical JSON; anything else was edited. A duplicate key is the dangerous case:
    Python keeps the last value (the hash still matches), a first-wins reader shows the forged one."""
    log = tmp_path / "audit.jsonl"
    _write(log, 4)
    lines = _lines(log)
    if tamper == "crlf":
        lines = [line.replace("\n", "\r\n") for line in lines]
    elif tamper == "padding":
        lines[1] = " " + lines[1]
    else:
        lines[1] = '{"kind":"forged",' + lines[1][1:]
    log.write_bytes("".join(lines).encode())
    report = verify(log)
    assert not report.ok
    assert report.line == (1 if tamper == "crlf" else 2), report
    assert report.problem is not None
    assert "canonical" in report.problem



@pytest.mark.parametrize("tamper", ["hash", "head_mac", "head_shape", "head_list"])
def test_a_forged_hash_or_head_of_any_shape_is_reported_not_a_crash(tmp_path: Path, tamper: str) -> None:
    log = tmp_path / "audit.jsonl"
    _write(log, 3, key=b"k")
    head = tmp_path / "audit.jsonl.head"
    anchor = json.loads(head.read_text())
    if tamper == "hash":  # compare_digest refuses non-ASCII text with a TypeError
        lines = _lines(log)
        record = json.loads(lines[2])
        record["hash"] = "\u00e9" + record["hash"][1:]
        lines[2] = json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False) + "\n"
        log.write_text("".join(lines))
    elif tamper == "head_mac":
        head.write_text(json.dumps({**anchor, "mac": "\u00e9"}))
    elif tamper == "head_shape":
        head.write_text(json.dumps({"seq": 3}))
    else:
        head.write_text("[3]")
    report = verify(log, key=b"k")
    assert not report.ok
    assert report.problem is not None
    if tamper == "hash":
        assert report.line == 3
        assert "does not match its hash" in report.problem
    else:
        assert "head anchor" in report.problem

def test_text_that_is_not_valid_unicode_is_recorded_not_fatal(tmp_path: Path) -> None:
    """A lone surrogate (a prompt from argv with undecodable bytes, a JSON escape from a server) cannot be
    encoded as UTF-8; the record keeps a replacement character instead of crashing the run."""
    log = tmp_path / "audit.jsonl"
    with AuditLog(log) as audit:
        audit.write("request", {"prompt": "caf\udce9 au lait"})
    assert json.loads(_lines(log)[0])["data"]["prompt"] == "caf\ufffd au lait"
    assert verify(log).ok

def test_truncation_needs_the_head_anchor(tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    _write(log, 3)
    (tmp_path / "audit.jsonl.head").unlink()
    report = verify(log)
    assert not report.ok
    assert "no head anchor" in str(report)
    with pytest.raises(UserError, match="no head anchor"):
        AuditLog(log)


def test_a_truncated_log_is_not_silently_continued(tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    _write(log, 4)
    log.write_text("".join(_lines(log)[:2]))
    with pytest.raises(UserError, match="ends at record 2 but its head anchor says 4"):
        AuditLog(log)


def test_keyed_log_cannot_be_recomputed_without_the_key(tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    _write(log, 3, key=b"k" * 32)
    assert verify(log, key=b"k" * 32).ok
    assert not verify(log, key=b"x" * 32).ok
    unkeyed = verify(log)
    assert not unkeyed.ok
    assert "pass the key it was written with" in str(unkeyed)
    # an attacker rewrites the last record as a plain sha256 record: a keyed verify refuses the downgrade
    import hashlib

    from agentkit._messages import canonical_json

    lines = _lines(log)
    record = json.loads(lines[2])
    record["data"] = {"n": 99}
    record["alg"] = "sha256"
    body = {k: v for k, v in record.items() if k != "hash"}
    record["hash"] = hashlib.sha256(canonical_json(body).encode()).hexdigest()
    lines[2] = json.dumps(record) + "\n"
    log.write_text("".join(lines))
    assert verify(log, key=b"k" * 32).line == 3


def test_secrets_are_redacted_before_they_are_written(tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    with AuditLog(log) as audit:
        audit.write("proposed_call", {"arguments": {"body": "key=AKIAIOSFODNN7EXAMPLE", "n": 3}})
    text = log.read_text()
    assert "AKIAIOSFODNN7EXAMPLE" not in text
    assert "[REDACTED:aws_access_key]" in text
    assert verify(log).ok


def test_torn_tail_from_a_crash_is_ignored_and_repaired(tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    _write(log, 3)
    with log.open("a") as handle:
        handle.write('{"seq": 4, "time": "2024')  # a write cut short: never acknowledged
    report = verify(log)
    assert report.ok
    assert "incomplete final line" in str(report)
    more = _write(log, 1)
    assert more[0].startswith("4-")
    assert verify(log).ok
    assert verify(log).notes == []


def test_cli_verify_exit_codes(tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    _write(log, 4)
    cli = [sys.executable, "-m", "agentkit._cli", "audit", "verify"]
    ok = subprocess.run([*cli, str(log)], capture_output=True, text=True)
    assert ok.returncode == 0
    assert "OK, 4 records" in ok.stdout
    log.write_text("".join(_lines(log)[:3]))
    bad = subprocess.run([*cli, str(log), "--json"], capture_output=True, text=True)
    assert bad.returncode == 1
    assert json.loads(bad.stdout)["line"] == 4
    missing = subprocess.run([*cli, str(tmp_path / "nope.jsonl")], capture_output=True, text=True)
    assert missing.returncode == 2
    assert "no audit log" in missing.stderr


_WRITER = """
import sys
from agentkit.policy import AuditLog
log = AuditLog(sys.argv[1])
print("ready", flush=True)
i = 0
while True:
    record_id = log.write("proposed_call", {"n": i, "pad": "x" * (i % 300)})
    print(record_id, flush=True)
    i += 1
"""


def test_killed_writer_loses_no_acknowledged_record(tmp_path: Path) -> None:
    """SIGKILL a writer at random points, five times over the same log: every id it printed (after write()
    returned) is in the file, and the log verifies after each kill and after being reopened."""
    log = tmp_path / "audit.jsonl"
    rng = random.Random(4)
    acknowledged: list[str] = []
    for _ in range(5):
        proc = subprocess.Popen([sys.executable, "-c", _WRITER, str(log)], stdout=subprocess.PIPE, text=True,
                                cwd=REPO)
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
        deadline = time.monotonic() + rng.uniform(0.05, 0.4)
        while time.monotonic() < deadline:
            acknowledged.append(proc.stdout.readline().strip())
        os.kill(proc.pid, signal.SIGKILL)
        rest, _ = proc.communicate()
        acknowledged.extend(line for line in rest.splitlines() if line.strip())
        report = verify(log)
        assert report.ok, report
        present = {f"{r['seq']}-{r['hash'][:12]}" for r in map(json.loads, _lines(log))}
        missing = [i for i in acknowledged if i not in present]
        assert not missing, f"acknowledged records lost: {missing[:5]}"
    assert len(acknowledged) > 10
    assert verify(log).records >= len(acknowledged)
