"""Code toolkit: `run_tests` runs a project's test command in the sandbox and reports the failures.

`run_test_command` and `TestReport` are public for flows that test before and after a change
(examples/patch_code.py).
"""

from __future__ import annotations

from ._runner import Config, FailedTest, TestReport, run_test_command, toolkit

__all__ = ["Config", "FailedTest", "TestReport", "run_test_command", "toolkit"]
