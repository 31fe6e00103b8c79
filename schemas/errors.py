"""The few exception classes tkitrack raises; each message names what was wrong, where, and what to do."""

from __future__ import annotations

__all__ = ["AuditError", "ConfigError", "InputError", "NotFoundError", "TkitrackError", "ValidationFailed"]


class TkitrackError(Exception):
    """Base class: anything the command line reports to a user without a traceback."""

    exit_code = 1


class InputError(TkitrackError, ValueError):
    """A value, option or file the user gave cannot be used (bad column, bad option, unreadable file)."""

    exit_code = 2


class ValidationFailed(TkitrackError, ValueError):
    """Records broke one or more rules; ``failures`` is the query listing (a DataFrame) with every failure."""

    def __init__(self, message: str, failures=None) -> None:  # failures: pandas.DataFrame | None
        super().__init__(message)
        self.failures = failures


class NotFoundError(TkitrackError, LookupError):
    """A patient or record id that does not exist (or was deleted)."""


class AuditError(TkitrackError, RuntimeError):
    """An audited change was refused (for example an edit without a reason) or the trail is broken."""


class ConfigError(TkitrackError, RuntimeError):
    """The environment is missing something: database unreachable, no browser for static images."""
