"""Errors, split by whose move it is.

    AgentkitError
    ├── UserError                  the library was misused; the message says the fix
    │   └── ModelNotFoundError     a model path or name that does not resolve to a usable GGUF / endpoint
    └── RunError                   a run started and failed
        ├── ModelError             the model backend failed (load, decode, HTTP, malformed stream)
        │   └── ModelTimeoutError  no answer within the configured timeout
        ├── UsageLimitExceeded     steps, tokens, tool calls or wall time ran out
        ├── RetryBudgetExhausted   the model kept producing unusable calls after corrections
        ├── OutputValidationError  the final output does not match the requested type
        └── ModelRequestsBlocked   a real model was asked to run while agentkit.testing forbids it

    ModelRetry                     not an error: a tool raises it to send a correction back to the model
"""

from __future__ import annotations


class AgentkitError(Exception):
    """Base of every exception agentkit raises on purpose."""


class UserError(AgentkitError):
    """The caller misused agentkit; the message says what to change."""


class ModelNotFoundError(UserError):
    """A model path, name or endpoint that cannot be used."""


class RunError(AgentkitError):
    """A run started and could not finish."""


class ModelError(RunError):
    """The model backend failed: load, decode, transport or a malformed stream."""


class ModelTimeoutError(ModelError):
    """The model backend did not answer in time."""


class UsageLimitExceeded(RunError):
    """A run limit (steps, tokens, tool calls, wall time) was reached."""


class RetryBudgetExhausted(RunError):
    """The model kept producing calls that could not be used, after every allowed correction."""


class OutputValidationError(RunError):
    """The final answer did not validate against the requested output type."""


class ModelRequestsBlocked(RunError):
    """A real model was called while `agentkit.testing.block_model_requests()` is active."""


class ModelRetry(Exception):
    """Raised by a tool to send `message` back to the model as a correction.

    It is a signal, not a failure: the loop turns it into a tool result the model can act on,
    within the run's retry budget.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
