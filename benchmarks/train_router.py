"""Train the router's intent classifier on the labelled set and ship its weights inside the package.

    .venv/bin/python benchmarks/train_router.py             # writes agentkit/router/classifier.json
    .venv/bin/python benchmarks/train_router.py --folds 5   # first prints 5-fold cross-validated accuracy

Training is deterministic (fixed seed): the same set gives the same file.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from agentkit.router import Router, train
from agentkit.router._dataset import cross_validate, load_labelled, training_pairs

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "benchmarks" / "data" / "routing_set.jsonl"
OUTPUT = ROOT / "agentkit" / "router" / "classifier.json"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--output", type=Path, default=OUTPUT)
    parser.add_argument("--folds", type=int, default=0, help="also report k-fold cross-validated accuracy")
    args = parser.parse_args(argv)
    rows = load_labelled(args.data)
    scored = [r for r in rows if not r.abstain]
    if args.folds:
        held = cross_validate(rows, args.folds, lambda c: Router(classifier=c, use_model=False).route)
        hits_classifier = sum(h.classifier_intent == h.row.intent for h in held if not h.row.abstain)
        hits_router = sum(h.decision.intent == h.row.intent for h in held if not h.row.abstain)
        print(f"{args.folds}-fold held-out intent accuracy: classifier alone {hits_classifier / len(scored):.3f}, "
              f"full router {hits_router / len(scored):.3f} ({len(scored)} requests)")
    classifier = train(training_pairs(rows))
    classifier.save(args.output)
    print(f"trained on {len(scored)} requests, {len(classifier.weights)} features -> {args.output} "
          f"({args.output.stat().st_size / 1024:.0f} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
