"""tally: small statistics over lists of numbers (a sample project with a bug to fix)."""

from .stats import mean, median, spread

__all__ = ["mean", "median", "spread"]
