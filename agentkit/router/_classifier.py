"""Tier 2: a small trained intent classifier that ships with the package (plain Python, no numpy).

Multinomial logistic regression over binary features: accent-folded words, word bigrams, character 4-grams
inside words, and a few shapes (digits, file extensions, e-mail addresses, code punctuation). Trained by SGD
on `benchmarks/data/routing_set.jsonl`; the learned weights live in `classifier.json` next to this module.

Retrain after changing the labelled set:

    .venv/bin/python benchmarks/train_router.py            # writes agentkit/router/classifier.json
    .venv/bin/python benchmarks/train_router.py --folds 5  # also prints cross-validated accuracy
"""

from __future__ import annotations

import json
import math
import random
import re
from collections import Counter
from collections.abc import Sequence
from functools import cache
from importlib import resources
from itertools import pairwise
from pathlib import Path
from typing import Any

from .._errors import UserError
from ._decision import INTENTS, Intent
from ._text import fold, words

FORMAT_VERSION = 1
_EXTENSION = re.compile(r"\.([a-z]{1,5})\b")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.\w")
_CODE_CHARS = re.compile(r"[{}();=<>`\[\]]")


def features(text: str) -> list[str]:
    """The binary features of one request (deduplicated, order irrelevant)."""
    folded = fold(text)
    tokens = words(folded)
    found = {f"w:{t}" for t in tokens}
    found.update(f"b:{a}_{b}" for a, b in pairwise(tokens))
    for token in tokens:
        padded = f"<{token}>"
        found.update(f"c:{padded[i:i + 4]}" for i in range(max(len(padded) - 3, 0)))
    if any(ch.isdigit() for ch in text):
        found.add("s:digit")
    found.update(f"s:ext:{m.group(1)}" for m in _EXTENSION.finditer(folded))
    if _EMAIL.search(text):
        found.add("s:email")
    if len(_CODE_CHARS.findall(text)) >= 3:
        found.add("s:code")
    found.add(f"s:len:{min(len(tokens) // 4, 6)}")
    return sorted(found)


def _softmax(logits: Sequence[float]) -> list[float]:
    top = max(logits)
    exps = [math.exp(v - top) for v in logits]
    total = sum(exps)
    return [e / total for e in exps]


class IntentClassifier:
    """Weights per feature and class; `predict` returns a probability per intent."""

    def __init__(self, classes: Sequence[Intent], bias: Sequence[float], weights: dict[str, list[float]]) -> None:
        unknown = set(classes) - set(INTENTS)
        if unknown:
            raise UserError(f"classifier classes {sorted(unknown)} are not intents; retrain with benchmarks/train_router.py")
        self.classes: tuple[Intent, ...] = tuple(classes)
        self.bias = list(bias)
        self.weights = weights

    def predict(self, text: str) -> dict[Intent, float]:
        logits = list(self.bias)
        feats = [self.weights[f] for f in features(text) if f in self.weights]
        scale = 1.0 / math.sqrt(max(len(feats), 1))
        for row in feats:
            for k, w in enumerate(row):
                logits[k] += w * scale
        probs = _softmax(logits)
        return {intent: probs[k] for k, intent in enumerate(self.classes)}

    # -- persistence ---------------------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT_VERSION,
            "model": "multinomial logistic regression on words, bigrams, char 4-grams and shapes",
            "classes": list(self.classes),
            "bias": [round(b, 4) for b in self.bias],
            "weights": {f: [round(w, 3) if w else 0 for w in row] for f, row in sorted(self.weights.items())},
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> IntentClassifier:
        if data.get("format") != FORMAT_VERSION:
            raise UserError(
                f"classifier file format {data.get('format')!r} is not {FORMAT_VERSION}; "
                "retrain with benchmarks/train_router.py"
            )
        return cls(data["classes"], data["bias"], {f: list(row) for f, row in data["weights"].items()})

    @classmethod
    def load(cls, path: str | Path) -> IntentClassifier:
        try:
            return cls.from_json(json.loads(Path(path).read_text(encoding="utf-8")))
        except FileNotFoundError:
            raise UserError(f"no classifier file at {path}; train one with benchmarks/train_router.py") from None
        except (ValueError, KeyError, TypeError) as exc:
            raise UserError(f"{path} is not a router classifier file ({exc}); retrain it") from None

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_json(), separators=(",", ":")) + "\n", encoding="utf-8")


@cache
def default_classifier() -> IntentClassifier:
    """The classifier shipped inside the package (loaded once)."""
    text = resources.files("agentkit.router").joinpath("classifier.json").read_text(encoding="utf-8")
    return IntentClassifier.from_json(json.loads(text))


def train(
    examples: Sequence[tuple[str, Intent]], *, epochs: int = 40, learning_rate: float = 0.6, l2: float = 1e-4,
    min_count: int = 1, prune: float = 0.1, seed: int = 0,
) -> IntentClassifier:
    """Fit the classifier by stochastic gradient descent; deterministic for a given seed and example order."""
    if not examples:
        raise UserError("cannot train the router classifier on zero examples")
    classes = [c for c in INTENTS if any(label == c for _, label in examples)]
    index = {c: k for k, c in enumerate(classes)}
    encoded = [(features(text), index[label]) for text, label in examples]
    counts = Counter(f for feats, _ in encoded for f in feats)
    encoded = [([f for f in feats if counts[f] >= min_count], label) for feats, label in encoded]
    n_classes = len(classes)
    weights: dict[str, list[float]] = {f: [0.0] * n_classes for f in counts if counts[f] >= min_count}
    bias = [0.0] * n_classes
    rng = random.Random(seed)
    order = list(range(len(encoded)))
    for epoch in range(epochs):
        rng.shuffle(order)
        rate = learning_rate / (1.0 + epoch * 0.1)
        for i in order:
            feats, label = encoded[i]
            scale = 1.0 / math.sqrt(max(len(feats), 1))
            rows = [weights[f] for f in feats]
            logits = list(bias)
            for row in rows:
                for k in range(n_classes):
                    logits[k] += row[k] * scale
            probs = _softmax(logits)
            probs[label] -= 1.0  # now the gradient of the loss w.r.t. the logits
            decay = 1.0 - rate * l2
            for row in rows:
                for k in range(n_classes):
                    row[k] = row[k] * decay - rate * probs[k] * scale
            for k in range(n_classes):
                bias[k] -= rate * probs[k] * 0.1
    kept: dict[str, list[float]] = {}
    for name, row in weights.items():  # small weights change nothing measurable and triple the file
        sparse = [w if abs(w) >= prune else 0.0 for w in row]
        if any(sparse):
            kept[name] = sparse
    return IntentClassifier(classes, bias, kept)
