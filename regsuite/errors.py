"""One error grammar for the whole suite, after Keras' own messages.

"Invalid value for `x`. Expected …. Received: x=…" — tests assert these
messages, so they are built in one place.
"""

from __future__ import annotations

from typing import Any


class RegsuiteError(Exception):
    """Base class: every error regsuite raises on purpose."""


class SpecError(RegsuiteError, ValueError):
    """An experiment spec (or a value in it) is malformed."""


class DataError(RegsuiteError):
    """A dataset file exists but cannot be used (corrupt, truncated, wrong shape)."""


class DataUnavailable(RegsuiteError):
    """A dataset is nowhere to be found; the message says what to set."""


class BaselineError(RegsuiteError):
    """A baseline or result file is malformed, stale, or for another spec."""


class UnknownExperiment(RegsuiteError, KeyError):
    """An experiment id that is not in the registry."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ""


def invalid_value(name: str, expected: str, received: Any, *, where: str | None = None) -> str:
    """Format the suite's one error sentence; `where` names the file or spec."""
    prefix = f"{where}: " if where else ""
    return f"{prefix}Invalid value for `{name}`. Expected {expected}. Received: {name}={received!r}"
