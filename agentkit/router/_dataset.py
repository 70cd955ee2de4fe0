"""The labelled routing set: loading it, and the honest evaluation (k-fold cross-validation).

Each line of `benchmarks/data/routing_set.jsonl` is one request:
`{"id", "prompt", "language": en|fr, "intent", "risk", "needs_fresh_data", "abstain"}`.
Vague requests (`abstain: true`) carry a best-guess intent that is not scored: for them the router must ask.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from .._errors import UserError
from .._hooks import Risk
from ._classifier import IntentClassifier, train
from ._decision import Intent, Language, RoutingDecision


class LabelledRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    prompt: str
    language: Language
    intent: Intent
    risk: Risk
    needs_fresh_data: bool
    abstain: bool = False


def load_labelled(path: str | Path) -> list[LabelledRequest]:
    """Read a labelled JSONL file; a bad line is reported with its number and what is wrong."""
    rows: list[LabelledRequest] = []
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise UserError(f"no labelled routing set at {path}") from None
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            rows.append(LabelledRequest.model_validate(json.loads(line)))
        except (ValueError, ValidationError) as exc:
            raise UserError(f"{path}:{number}: not a labelled request ({str(exc).splitlines()[0]})") from None
    return rows


def training_pairs(rows: Sequence[LabelledRequest]) -> list[tuple[str, Intent]]:
    return [(r.prompt, r.intent) for r in rows if not r.abstain]


def folds(rows: Sequence[LabelledRequest], k: int) -> list[tuple[list[LabelledRequest], list[LabelledRequest]]]:
    """k (train, test) splits, stratified by intent: every intent is spread over all folds."""
    if k < 2:
        raise UserError("cross-validation needs at least 2 folds")
    assignment: dict[str, int] = {}
    per_intent: dict[str, int] = {}
    for row in rows:
        key = f"{row.intent}:{row.abstain}"
        assignment[row.id] = per_intent.get(key, 0) % k
        per_intent[key] = per_intent.get(key, 0) + 1
    return [
        ([r for r in rows if assignment[r.id] != fold], [r for r in rows if assignment[r.id] == fold])
        for fold in range(k)
    ]


@dataclass(frozen=True)
class HeldOut:
    """One request judged by a classifier that never saw it: the classifier's own pick and the router's."""

    row: LabelledRequest
    classifier_intent: Intent
    decision: RoutingDecision


def cross_validate(
    rows: Sequence[LabelledRequest], k: int, router_for: Callable[[IntentClassifier], Callable[[str], RoutingDecision]],
) -> list[HeldOut]:
    """Judge every request with a classifier trained on the other folds only, in the order of `rows`.
    `router_for` builds the router around each fold's classifier (e.g. `lambda c: Router(classifier=c).route`)."""
    results: list[HeldOut] = []
    for train_rows, test_rows in folds(rows, k):
        classifier = train(training_pairs(train_rows))
        route = router_for(classifier)
        for row in test_rows:
            scores = classifier.predict(row.prompt)
            results.append(HeldOut(row, max(scores, key=scores.__getitem__), route(row.prompt)))
    order = {r.id: i for i, r in enumerate(rows)}
    return sorted(results, key=lambda held: order[held.row.id])
