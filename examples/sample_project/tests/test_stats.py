"""The sample project's tests: test_median_even fails until the bug in tally/stats.py is fixed."""

import pytest
from tally import mean, median, spread


def test_mean() -> None:
    assert mean([1, 2, 3, 4]) == 2.5


def test_median_odd() -> None:
    assert median([3, 1, 2]) == 2


def test_median_even() -> None:
    assert median([4, 1, 3, 2]) == 2.5


def test_median_empty() -> None:
    with pytest.raises(ValueError, match="empty"):
        median([])


def test_spread() -> None:
    assert spread([2, 9, 4]) == 7
