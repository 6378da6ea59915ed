"""Which failures say something about the database or the machine, not about an event."""

import sqlite3

import psycopg
from eventsourcing import persistence

# SQLite's primary result codes that are about the database, not the statement: busy,
# locked, out of memory, read-only, interrupted, I/O error, full, cannot open, protocol.
SQLITE_INFRASTRUCTURE = frozenset({5, 6, 7, 8, 9, 10, 13, 14, 15})


def is_infrastructure(error: BaseException) -> bool:
    """Failures of the database or the machine (locks, connections, a full disk, memory)
    say nothing about the event: they are retried as a whole and never quarantine a pupil.
    A statement error (SQLite reports "no such column" as an OperationalError too) is a
    read model's bug, and quarantines."""
    if isinstance(error, sqlite3.Error):
        return getattr(error, "sqlite_errorcode", 0) & 0xFF in SQLITE_INFRASTRUCTURE
    if isinstance(error, psycopg.OperationalError | psycopg.InterfaceError | OSError | MemoryError):
        return True
    if isinstance(error, persistence.OperationalError | persistence.InterfaceError):
        cause = error.__cause__
        return is_infrastructure(cause) if cause is not None else True
    return False
