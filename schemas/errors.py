"""The few exception classes tkitrack raises; each message names what was wrong, where, and what to do."""

from __future__ import annotations

import re

__all__ = [
    "CONTROL_CHARACTERS",
    "AuditError",
    "BusyError",
    "ConcurrentEditError",
    "ConfigError",
    "InputError",
    "NotFoundError",
    "TkitrackError",
    "ValidationFailed",
    "shorten",
]

#: Characters no cell may hold: NUL and the other C0 control characters but tab, line feed and carriage return.
CONTROL_CHARACTERS = r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]"
_CONTROL = re.compile(CONTROL_CHARACTERS)


def shorten(value: object, limit: int = 80) -> str:
    """A user value as a message shows it: control characters as ``\\xNN``, long text cut with its length.

    >>> shorten("x" * 100_000, 20)
    'xxxxxxxxxxxxxxx... (100,000 characters)'
    """
    text = _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", str(value))
    if len(text) <= limit:
        return text
    return f"{text[: max(limit - 5, 1)]}... ({len(str(value)):,} characters)"


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


class BusyError(TkitrackError, RuntimeError):
    """A write waited longer than the lock timeout for another writer's lock and gave up; nothing was written."""


class ConcurrentEditError(TkitrackError, RuntimeError):
    """An edit was refused because someone changed the record after the user saw it (optimistic check).

    ``conflicts`` lists each changed field as a dict: ``field``, ``seen`` (the value the user saw), ``current``
    (the value now stored), ``changed_by`` and ``changed_at`` (from the audit trail). ``field``, ``seen``,
    ``current``, ``changed_by`` and ``changed_at`` are those of the first conflict.
    """

    def __init__(self, message: str, *, record: str, record_id: str, conflicts: list[dict]) -> None:
        super().__init__(message)
        self.record = record
        self.record_id = record_id
        self.conflicts = conflicts
        first = conflicts[0] if conflicts else {}
        self.field = first.get("field")
        self.seen = first.get("seen")
        self.current = first.get("current")
        self.changed_by = first.get("changed_by")
        self.changed_at = first.get("changed_at")
