"""What the policy layer costs per step: a PolicyEngine decision (rules + provenance) against the core's
EffectGate, a fsynced audit record, and the streaming secret redactor against passing text through.

    .venv/bin/python benchmarks/bench_policy.py [--decisions 300] [--records 200]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from agentkit import (
    EffectGate,
    GateContext,
    Message,
    SystemMessage,
    ToolCall,
    ToolResultMessage,
    UserMessage,
    tool,
)
from agentkit.policy import AuditLog, PolicyEngine, SecretRedactor


@tool(effect="send")
def send_mail(to: list[str], subject: str, body: str) -> str:
    """Send an e-mail."""
    return "sent"


def context(chars: int) -> list[Message]:
    messages: list[Message] = [SystemMessage(content="You are Emma's assistant."),
                               UserMessage(content="Summarise my inbox and reply to alice@corp.com")]
    chunk = "From: bob@partner.org Subject: status. The quarterly numbers look fine, see the report. "
    per_result = max(1, chars // 10)
    for i in range(10):
        messages.append(ToolResultMessage(tool_call_id=f"c{i}", name="read_mail",
                                          content=(chunk * (per_result // len(chunk) + 1))[:per_result]))
    return messages


def time_decisions(gate: object, messages: list[Message], count: int) -> float:
    call = ToolCall(id="x", name="send_mail", arguments={
        "to": ["mark@evil.example", "alice@corp.com"], "subject": "Re: status", "body": "See https://bit.ly/x, thanks"})
    ctx = GateContext(run_id="bench", messages=messages)

    async def run() -> float:
        decide = gate.decide  # type: ignore[attr-defined]
        start = time.perf_counter()
        for _ in range(count):
            await decide(call, send_mail, ctx)
        return (time.perf_counter() - start) / count

    return asyncio.run(run())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--decisions", type=int, default=300)
    parser.add_argument("--records", type=int, default=200)
    args = parser.parse_args()

    engine, baseline = PolicyEngine("default"), EffectGate()
    print("policy decision (default pack, 3 string arguments, 10 tool results in the context):")
    for chars in (2_000, 20_000, 200_000):
        messages = context(chars)
        ours = time_decisions(engine, messages, args.decisions)
        base = time_decisions(baseline, messages, args.decisions)
        print(f"  context {chars:>7} chars: {ours * 1e3:7.3f} ms per decision ({ours / base:,.0f}x EffectGate's "
              f"{base * 1e6:.1f} us)")

    with tempfile.TemporaryDirectory() as folder, AuditLog(Path(folder) / "audit.jsonl") as log:
        start = time.perf_counter()
        for i in range(args.records):
            log.write("proposed_call", {"call": {"name": "send_mail", "arguments": {"to": [f"u{i}@x.org"]}}})
        per_record = (time.perf_counter() - start) / args.records
    print(f"audit record (3 fsyncs: record, head anchor, folder): {per_record * 1e3:.2f} ms")

    text = ("The answer is forty-two; nothing secret in this sentence at all. " * 2000)
    pieces = [text[i:i + 7] for i in range(0, len(text), 7)]  # token-sized deltas
    start = time.perf_counter()
    redactor = SecretRedactor()
    out = "".join(redactor.feed(p) for p in pieces) + redactor.flush()
    redact_seconds = time.perf_counter() - start
    assert out == text
    per_delta = redact_seconds / len(pieces)
    print(f"streaming redaction: {per_delta * 1e6:.1f} us per delta over {len(pieces)} deltas = "
          f"{per_delta * 70:.2%} of the time between two tokens at 70 tok/s (SmolLM2 decode here)")


if __name__ == "__main__":
    main()
