"""Where the events and read models live: `DOSSIER_DB` turned into library settings.

- unset: the embedded SQLite file `dossier.sqlite` in the working directory;
- a path (`/some/file.sqlite`): that SQLite file;
- `postgresql://user:password@host:port/dbname`: PostgreSQL.

SQLite runs in WAL mode (the library forces it) with `synchronous=FULL`, which the
library leaves at NORMAL: only FULL makes an acknowledged commit survive power loss.
Each application gets its own events table, named after it as on PostgreSQL. Writers
of all processes queue on a lock file beside the database (`<file>.writers`). The
library's reads are single statements, run without an explicit transaction (see
`DurableSQLiteDatastore.transaction`).
"""

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from eventsourcing.persistence import (
    AggregateRecorder,
    ApplicationRecorder,
    InterfaceError,
    OperationalError,
    StoredEvent,
)
from eventsourcing.postgres import (
    PostgresAggregateRecorder,
    PostgresApplicationRecorder,
    PostgresFactory,
)
from eventsourcing.sqlite import (
    SQLiteAggregateRecorder,
    SQLiteApplicationRecorder,
    SQLiteConnection,
    SQLiteConnectionPool,
    SQLiteCursor,
    SQLiteDatastore,
    SQLiteFactory,
    SQLiteTransaction,
)
from eventsourcing.utils import retry

from projections.writers import writers_queue

DEFAULT_DB = "dossier.sqlite"
LOCK_TIMEOUT_SECONDS = "10"


class DurableSQLiteConnectionPool(SQLiteConnectionPool):
    """The library's pool, with durable commits, and writers that also queue with the
    other processes' writers (see `projections.writers`)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._writers = writers_queue(self.db_name)

    def _create_connection(self) -> SQLiteConnection:
        connection = super()._create_connection()
        connection._sqlite_conn.execute("PRAGMA synchronous=FULL")
        return connection

    def get_connection(
        self, timeout: float | None = None, *, is_writer: bool | None = None
    ) -> SQLiteConnection:
        connection = super().get_connection(timeout, is_writer=is_writer)
        if is_writer:
            try:
                self._writers.acquire(float(self.lock_timeout or LOCK_TIMEOUT_SECONDS))
            except BaseException:
                super().put_connection(connection)
                raise
        return connection

    def put_connection(self, conn: SQLiteConnection) -> None:
        if conn.is_writer:
            self._writers.release()
        super().put_connection(conn)


class DurableSQLiteDatastore(SQLiteDatastore):
    """The library's datastore on a `DurableSQLiteConnectionPool`, whose reads run
    without an explicit transaction."""

    def __init__(self, library: SQLiteDatastore) -> None:
        super().__init__(
            library.pool.db_name,
            single_row_tracking=library.single_row_tracking,
            originator_id_type=library.originator_id_type,  # type: ignore[arg-type]
        )
        self.pool.close()
        self.pool = DurableSQLiteConnectionPool(
            db_name=library.pool.db_name, lock_timeout=library.pool.lock_timeout
        )

    @contextmanager
    def transaction(self, *, commit: bool) -> Iterator[SQLiteCursor]:
        """Writes as the library runs them; a read without `BEGIN` and `ROLLBACK`.

        Each of the library's reads is one statement (an aggregate's events, a page of
        the log, the last notification's or tracking id), and SQLite runs a statement
        outside a transaction in a read transaction of its own: the same snapshot,
        without two more statements. Every request reads its user and its dossier this
        way: a read of an aggregate's new events took ~30 µs of CPU with them and ~14
        without (and each statement lets go of the GIL and takes it again). A read of
        several statements that must agree needs a connection and a `BEGIN` of its own.
        """
        if commit:
            with super().transaction(commit=True) as cursor:
                yield cursor
            return
        with (
            self.get_connection(commit=False) as connection,
            _SingleStatement(connection) as cursor,
            cursor,
        ):
            yield cursor


class _SingleStatement(SQLiteTransaction):
    """The library's transaction, less its `BEGIN`: its exit still turns SQLite's errors
    into the library's, and its rollback does nothing outside a transaction."""

    def __enter__(self) -> SQLiteCursor:
        return self.connection.cursor()


class DurableSQLiteFactory(SQLiteFactory):
    """The library's SQLite factory with durable commits and per-application tables."""

    def __init__(self, env: object) -> None:
        super().__init__(env)  # type: ignore[arg-type]
        library = self.datastore
        self.datastore = DurableSQLiteDatastore(library)
        library.close()

    def aggregate_recorder(self, purpose: str = "events") -> AggregateRecorder:
        recorder = SQLiteAggregateRecorder(self.datastore, f"{self.env.name.lower()}_{purpose}")
        if self.env_create_table():
            recorder.create_table()
        return recorder

    def application_recorder(self) -> ApplicationRecorder:
        recorder = SQLiteApplicationRecorder(self.datastore, f"{self.env.name.lower()}_events")
        if self.env_create_table():
            recorder.create_table()
        return recorder


# Events a PostgreSQL insert statement takes at most; a save of more (an imported history)
# takes several, in its one transaction.
INSERT_CHUNK = 1_000


class ChunkedPostgresApplicationRecorder(PostgresApplicationRecorder):
    """The library's recorder, except for a save of more than INSERT_CHUNK events.

    The library inserts a save's events in one statement, in psycopg's pipeline mode. One
    of ~16,700 events (~8 MB) hung for good with psycopg 3.3.9: the client waiting in
    `Pipeline.sync` for results, the server waiting to read more, nothing in either
    socket's queue; 10,000 went through. Nothing times such a write out. A larger save
    is written here outside pipeline mode instead, INSERT_CHUNK events a statement, each
    answered before the next is sent, in the same one transaction and after the same
    table lock and notification as the library's. Smaller saves (every save the service
    makes, but an import's) keep the library's path and its round trips. Both are tried
    again as the library tries its own: on a lost connection or a lock not granted in
    time, up to ten times, each a whole transaction."""

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        if len(stored_events) <= INSERT_CHUNK:
            return super().insert_events(stored_events, **kwargs)
        return self._insert_in_chunks(stored_events)

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def _insert_in_chunks(self, stored_events: Sequence[StoredEvent]) -> list[int]:
        ids: list[int] = []
        with (
            self.datastore.get_connection() as connection,
            connection.transaction(),
            connection.cursor() as cursor,
        ):
            self._lock_table(cursor)
            self._notify_channel(cursor)
            for start in range(0, len(stored_events), INSERT_CHUNK):
                chunk = stored_events[start : start + INSERT_CHUNK]
                # The plain insert (RETURNING notification_id), without this class's
                # lock and notification before each chunk: they were taken once above.
                PostgresAggregateRecorder._insert_stored_events(self, cursor, chunk)
                ids += [row["notification_id"] for row in cursor.fetchall()]
        return ids


class ChunkedPostgresFactory(PostgresFactory):
    """The library's PostgreSQL factory with `ChunkedPostgresApplicationRecorder`."""

    application_recorder_class = ChunkedPostgresApplicationRecorder


def is_postgres(db: str) -> bool:
    return db.startswith(("postgresql://", "postgres://"))


def library_env(db: str | None = None) -> dict[str, str]:
    """The eventsourcing settings for a `DOSSIER_DB` value (or the environment's)."""
    db = db or os.environ.get("DOSSIER_DB") or DEFAULT_DB
    if is_postgres(db):
        return postgres_env(db)
    Path(db).expanduser().resolve().parent.mkdir(parents=True, exist_ok=True)
    return {
        "PERSISTENCE_MODULE": "projections.storage:DurableSQLiteFactory",
        "SQLITE_DBNAME": str(Path(db).expanduser()),
        "SQLITE_LOCK_TIMEOUT": LOCK_TIMEOUT_SECONDS,
        "CREATE_TABLE": "false",
    }


def postgres_env(url: str) -> dict[str, str]:
    parts = urlparse(url)
    return {
        "PERSISTENCE_MODULE": "projections.storage:ChunkedPostgresFactory",
        "POSTGRES_DBNAME": parts.path.lstrip("/") or "postgres",
        "POSTGRES_HOST": parts.hostname or "127.0.0.1",
        "POSTGRES_PORT": str(parts.port or 5432),
        "POSTGRES_USER": unquote(parts.username or "postgres"),
        "POSTGRES_PASSWORD": unquote(parts.password or ""),
        "POSTGRES_LOCK_TIMEOUT": LOCK_TIMEOUT_SECONDS,
        "POSTGRES_POOL_SIZE": os.environ.get("DOSSIER_DB_POOL_SIZE", "5"),
        "CREATE_TABLE": "false",
    }
