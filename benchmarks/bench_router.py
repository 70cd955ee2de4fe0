"""Router benchmark: accuracy per intent, confusion matrix, held-out accuracy, abstention, latency per tier.

    .venv/bin/python benchmarks/bench_router.py                 # everything, ~1 minute on 2 cores
    .venv/bin/python benchmarks/bench_router.py --model-tier 0  # skip the real-model tier

Figures, all measured in this run:
- the shipped router on the labelled set (its classifier was trained on that set: an upper bound),
- 5-fold cross-validation (each request routed by a classifier that never saw it) and rules alone,
- the holdout set (written after the rules; never used for training),
- latency per tier in wall-clock and CPU milliseconds (wall includes waiting for a busy CPU),
- the model tier: the embedded model flagged capable_router, on requests the first tiers were unsure of.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from agentkit.router import INTENTS, ModelRegistry, Router, RoutingDecision
from agentkit.router._dataset import LabelledRequest, cross_validate, load_labelled

DATA = Path(__file__).resolve().parent / "data"


def pct(hits: int, total: int) -> str:
    return f"{hits / total:6.1%} ({hits}/{total})" if total else "   n/a"


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(q * len(ordered)), len(ordered) - 1)]


def report(title: str, rows: Sequence[LabelledRequest], decisions: Sequence[RoutingDecision], *, full: bool) -> None:
    scored = [(r, d) for r, d in zip(rows, decisions, strict=True) if not r.abstain]
    print(f"\n== {title}: {len(rows)} requests ({sum(r.language == 'fr' for r in rows)} French)")
    print(f"intent accuracy     {pct(sum(d.intent == r.intent for r, d in scored), len(scored))}")
    for language in ("en", "fr"):
        subset = [(r, d) for r, d in scored if r.language == language]
        print(f"  {language}                {pct(sum(d.intent == r.intent for r, d in subset), len(subset))}")
    print(f"freshness accuracy  {pct(sum(d.needs_fresh_data == r.needs_fresh_data for r, d in scored), len(scored))}")
    print(f"risk accuracy       {pct(sum(d.risk == r.risk for r, d in scored), len(scored))}")
    critical = [(r, d) for r, d in scored if r.risk == "critical"]
    print(f"critical refused    {pct(sum(bool(d.refusal) for _, d in critical), len(critical))}")
    vague = [d for r, d in zip(rows, decisions, strict=True) if r.abstain]
    concrete = [d for r, d in zip(rows, decisions, strict=True) if not r.abstain]
    print(f"abstention: recall  {pct(sum(d.abstain for d in vague), len(vague))}   "
          f"false abstentions {sum(d.abstain for d in concrete)}/{len(concrete)}")
    rules_only = Router(use_classifier=False, use_model=False)
    rules_hits = sum(rules_only.route(r.prompt).intent == r.intent for r, _ in scored)
    print(f"  rules alone       {pct(rules_hits, len(scored))}")
    tiers = Counter(d.tier for _, d in scored)
    print("decided by          " + ", ".join(f"{t} {n} ({n / len(scored):.0%})" for t, n in tiers.most_common()))
    if not full:
        return
    print("\naccuracy per intent (recall; precision)")
    for intent in INTENTS:
        labelled = [(r, d) for r, d in scored if r.intent == intent]
        predicted = [(r, d) for r, d in scored if d.intent == intent]
        precision = sum(r.intent == intent for r, _ in predicted) / len(predicted) if predicted else 0.0
        print(f"  {intent:<12} {pct(sum(d.intent == intent for _, d in labelled), len(labelled))}   {precision:6.1%}")
    print("\nconfusion matrix (rows: label, columns: decision)")
    short = [i[:5] for i in INTENTS]
    print(" " * 13 + " ".join(f"{s:>5}" for s in short))
    for intent in INTENTS:
        counts = Counter(d.intent for r, d in scored if r.intent == intent)
        print(f"  {intent:<11}" + " ".join(f"{counts.get(c, 0) or '.':>5}" for c in INTENTS))


def cross_validation(rows: Sequence[LabelledRequest], k: int) -> None:
    scored = [h for h in cross_validate(rows, k, lambda c: Router(classifier=c, use_model=False).route)
              if not h.row.abstain]
    rules_only = Router(use_classifier=False, use_model=False)
    hits_router = sum(h.decision.intent == h.row.intent for h in scored)
    hits_classifier = sum(h.classifier_intent == h.row.intent for h in scored)
    hits_rules = sum(rules_only.route(h.row.prompt).intent == h.row.intent for h in scored)
    print(f"\n== held-out ({k}-fold cross-validation, classifier retrained per fold)")
    print(f"full router         {pct(hits_router, len(scored))}")
    print(f"classifier alone    {pct(hits_classifier, len(scored))}")
    print(f"rules alone         {pct(hits_rules, len(scored))}   (no training data involved)")


def latency(rows: Sequence[LabelledRequest], repeats: int) -> dict[str, list[float]]:
    router = Router(use_model=False)
    router.route("warm up")
    wall: dict[str, list[float]] = {"rules": [], "classifier": []}
    cpu: dict[str, list[float]] = {"rules": [], "classifier": []}
    for _ in range(repeats):
        for row in rows:
            w0, c0 = time.perf_counter(), time.thread_time()
            decision = router.route(row.prompt)
            c1, w1 = time.thread_time(), time.perf_counter()
            wall[decision.tier].append((w1 - w0) * 1000)
            cpu[decision.tier].append((c1 - c0) * 1000)
    print(f"\n== routing latency, no model call ({repeats} passes over the set), milliseconds")
    print("tier          n     wall median  wall p95   cpu median  cpu p95")
    everything_wall = [v for values in wall.values() for v in values]
    everything_cpu = [v for values in cpu.values() for v in values]
    for tier, w, c in [("rules", wall["rules"], cpu["rules"]), ("classifier", wall["classifier"], cpu["classifier"]),
                       ("all", everything_wall, everything_cpu)]:
        if w:
            print(f"{tier:<11} {len(w):>5}   {statistics.median(w):9.3f} {percentile(w, 0.95):9.3f}   "
                  f"{statistics.median(c):9.3f} {percentile(c, 0.95):8.3f}")
    return wall


def model_tier(rows: Sequence[LabelledRequest], count: int, first_tier_median_ms: float) -> None:
    print("\n== model tier: the embedded default model flagged capable_router, on the holdout set")
    try:
        registry = ModelRegistry([
            next(iter(ModelRegistry.default().profiles.values())).model_copy(update={"capable_router": True}),
        ])
        router = Router(models=registry)
        model = registry.resolve(registry.router_profile.name)  # type: ignore[union-attr]
    except Exception as exc:  # the benchmark reports, it does not fail, when the model is missing
        print(f"skipped: {exc}")
        return
    unsure = [r for r in rows if not r.abstain and router.first_tiers(r.prompt).unsure]
    print(f"requests the first tiers were unsure of: {len(unsure)}/{sum(not r.abstain for r in rows)}; "
          f"asking the model about {min(count, len(unsure))}")
    sample = unsure[:count]
    if not sample:
        print("nothing to ask the model")
        return
    load = getattr(model, "load", None)
    if load is not None:
        load()
    timings: list[float] = []
    agree = first_agree = 0
    for row in sample:
        start = time.perf_counter()
        decision = router.route(row.prompt)
        timings.append((time.perf_counter() - start) * 1000)
        agree += decision.intent == row.intent
        first_agree += router.first_tiers(row.prompt).intent == row.intent
        if decision.tier != "model":
            print(f"  (no verdict for {row.id}: {[s for s in decision.signals if 'model tier' in s]})")
    median = statistics.median(timings)
    print(f"latency median {median:.0f} ms, p95 {percentile(timings, 0.95):.0f} ms "
          f"= {median / first_tier_median_ms:,.0f}x the first tiers' median")
    print(f"intent accuracy on these {len(sample)}: model tier {pct(agree, len(sample))}, "
          f"first tiers alone {pct(first_agree, len(sample))} (a 135M model is weak at this; flag a stronger one)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--model-tier", type=int, default=8, help="requests sent to the real model tier (0: skip)")
    args = parser.parse_args(argv)
    rows = load_labelled(DATA / "routing_set.jsonl")
    holdout = load_labelled(DATA / "routing_holdout.jsonl")
    router = Router(use_model=False)
    report("shipped router on the labelled set", rows, [router.route(r.prompt) for r in rows], full=True)
    report("shipped router on the holdout set", holdout, [router.route(r.prompt) for r in holdout], full=False)
    if args.folds:
        cross_validation(rows, args.folds)
    wall = latency(rows, args.repeats)
    first_median = statistics.median([v for values in wall.values() for v in values])
    if args.model_tier:
        model_tier(holdout, args.model_tier, first_median)
    return 0


if __name__ == "__main__":
    sys.exit(main())
