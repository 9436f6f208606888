"""One rooted error tree.

Every error carries a message written for the person at the keyboard: what went
wrong and what to do next. Surfaces map these to an exit code, an HTTP status or
an MCP tool error once, in one place each.
"""

from __future__ import annotations


class NexusError(Exception):
    """Root of every error Nexus raises on purpose."""

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        self.message = message
        self.hint = hint
        super().__init__(self.one_line())

    def one_line(self) -> str:
        """The message and its hint on one line, for a terminal or a log."""
        if self.hint:
            return f"{self.message} ({self.hint})"
        return self.message


class NotFound(NexusError):
    """Something named by id or key does not exist."""


class InvalidInput(NexusError):
    """Input that can never succeed as given."""


class Conflict(NexusError):
    """The request clashes with the current state (a duplicate, a lost lease)."""


class StorageError(NexusError):
    """The database could not be read or written."""


class DatabaseCorrupt(StorageError):
    """The database file is not a usable SQLite database."""


class DatabaseBusy(StorageError):
    """Another process held the write lock for longer than the busy timeout."""


class ConfigError(NexusError):
    """A setting is missing or malformed."""


class IntegrationError(NexusError):
    """An agent tool's configuration could not be read or written."""


class NotAvailable(NexusError):
    """A capability exists in the interface but is not enabled or built yet."""


__all__ = [
    "ConfigError",
    "Conflict",
    "DatabaseBusy",
    "DatabaseCorrupt",
    "IntegrationError",
    "InvalidInput",
    "NexusError",
    "NotAvailable",
    "NotFound",
    "StorageError",
]
