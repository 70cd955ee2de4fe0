"""Descriptive statistics for lists of numbers."""

from __future__ import annotations

from collections.abc import Sequence


def mean(values: Sequence[float]) -> float:
    """The arithmetic mean."""
    if not values:
        raise ValueError("mean() of an empty list")
    return sum(values) / len(values)


def median(values: Sequence[float]) -> float:
    """The middle value; for an even count, the mean of the two middle values."""
    if not values:
        raise ValueError("median() of an empty list")
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2 == 1:
        return ordered[middle]
    return (ordered[middle] + ordered[middle + 1]) / 2


def spread(values: Sequence[float]) -> float:
    """The distance between the largest and the smallest value."""
    if not values:
        raise ValueError("spread() of an empty list")
    return max(values) - min(values)
