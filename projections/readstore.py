"""SQL access for read models, through the event store's own connection pool.

On PostgreSQL read models share the database with the events; on SQLite they live in a
file of their own, attached to the events' connections (projections.viewfiles), so that
a rebuild can write a fresh one. Read models name their tables in DDL through
`Tx.view`; other statements name them plainly. SQL here is written with `?`
placeholders and translated for PostgreSQL; rows come back as mappings on both.
"""

import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from contextlib import closing, contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any, NamedTuple
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.postgres import PostgresDatastore

from projections.viewfiles import ViewsFiles

Row = Mapping[str, Any]


class Tx:
    """One transaction: `execute` with `?` placeholders, then fetch mappings."""

    def __init__(
        self, cursor: Any, postgres: bool, schema: str = "views", generation: int | None = None
    ) -> None:
        self.cursor = cursor
        self.postgres = postgres
        self.schema = schema  # SQLite: where read models' DDL puts their tables
        self.generation = generation  # SQLite: of the read models' file it reads and writes
        self.batch: dict[str, Any] = {}  # read models' pending rows, for this transaction only

    def view(self, name: str) -> str:
        """A read model's table or index as DDL must name it: in the read models' own
        file on SQLite (schema `views`), plainly on PostgreSQL."""
        return name if self.postgres else f"{self.schema}.{name}"

    @property
    def keyed(self) -> str:
        """What ends the DDL of a table stored in its primary key's order: on SQLite
        WITHOUT ROWID (one B-tree, where a rowid table with a key also keeps an index
        of it: every lookup and change by key walks both); PostgreSQL has no such option."""
        return "" if self.postgres else " WITHOUT ROWID"

    def _sql(self, sql: str) -> str:
        return sql.replace("?", "%s") if self.postgres else sql

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        if self.postgres:
            self.cursor.execute(self._sql(sql), params, prepare=False)
        else:
            self.cursor.execute(sql, params)

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            self.cursor.executemany(self._sql(sql), rows)

    def fetchall(self) -> list[Row]:
        return list(self.cursor.fetchall())

    def fetchone(self) -> Row | None:
        row: Row | None = self.cursor.fetchone()
        return row

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        self.execute(sql, params)
        return self.fetchall()

    @contextmanager
    def dropping_derived_rows(self) -> Iterator[None]:
        """Around dropping read-model tables: SQLite as Debian builds it has
        `secure_delete` on, so a DROP writes zeros over every page it frees, which made
        dropping a 1M-event read model take 6 s of a rebuild's 40. The rows dropped are
        derived from events that stay in the store (and a rebuild writes them again at
        once), so zeroing them hides nothing. Off for the drop only, then as it was."""
        if self.postgres:
            yield
            return
        before = int(self.query("PRAGMA secure_delete")[0]["secure_delete"])
        self.execute("PRAGMA secure_delete = 0")
        try:
            yield
        finally:
            self.execute(f"PRAGMA secure_delete = {before}")


class ViewsOutrun(Exception):
    """A rebuild's new read-model file did not go live: a rebuild started later had
    swapped its own in first. The read models are those of that one."""


class LoggedEvent(NamedTuple):
    """A notification of the event log as SQLite stores it: what the library's
    `Notification` holds, with the aggregate's id as the text it is stored as."""

    id: int
    originator_id: str
    originator_version: int
    topic: str
    state: bytes


class ReadStore:
    def __init__(self, app: Application[Any]) -> None:
        self.datastore = app.factory.datastore  # type: ignore[attr-defined]
        self.postgres = isinstance(self.datastore, PostgresDatastore)
        self.files = None if self.postgres else ViewsFiles(self.datastore.pool.db_name)
        # Whether this process's write transactions may checkpoint SQLite's write-ahead
        # log when it has grown (SQLite's default). Rebuild helpers leave it to the
        # follower, which runs one after every range (`checkpoint`): one inside a helper's
        # commit would hold up every range after it.
        self.checkpoints = True

    @contextmanager
    def transaction(self, *, write: bool = False, durable: bool = True) -> Iterator[Tx]:
        """A transaction; a write one that is not `durable` commits without waiting for
        the disk. That suits what can be derived again: after a power cut such a commit
        may be lost, never half-kept, and the read models re-apply it from the log (whose
        events were committed durably before any read model saw them). On SQLite the read
        models' own file never waits for the disk, and the events' file always does."""
        if not self.postgres:
            with self._sqlite(write) as tx:
                yield tx
            return
        with self.datastore.transaction(commit=write) as cursor:
            tx = Tx(cursor, self.postgres)
            if not write:
                # One snapshot for every statement, as SQLite's read transactions have:
                # a read must not see a version from one commit and rows from a later one.
                tx.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            elif not durable:
                tx.execute("SET LOCAL synchronous_commit TO OFF")
            yield tx

    @contextmanager
    def _sqlite(self, write: bool) -> Iterator[Tx]:
        """An SQLite transaction with the read models' file attached; a write one takes
        the write lock at BEGIN.

        The library's plain BEGIN starts as a reader; a transaction whose first statement
        only reads (CREATE TABLE IF NOT EXISTS on an existing table, a SELECT) then fails
        at once with "database is locked" when it tries to write after another process
        has committed. BEGIN IMMEDIATE waits for the lock instead, up to the lock timeout.
        Every commit is durable in the events' file (its setting is left as it is) and
        none waits for the disk in the read models' (see ViewsFiles._attach).
        """
        assert self.files is not None
        with self.datastore.get_connection(commit=write) as connection:
            raw = connection._sqlite_conn
            if write and not self.checkpoints:
                raw.execute("PRAGMA wal_autocheckpoint=0")  # this connection's, for good
            generation = self.files.begin(connection, "BEGIN IMMEDIATE" if write else "BEGIN")
            try:
                yield Tx(connection.cursor(), postgres=False, generation=generation)
            except BaseException:
                raw.rollback()
                raise
            if write:
                raw.commit()
            else:
                raw.rollback()

    @contextmanager
    def building(self) -> Iterator[None]:
        """SQLite: while this runs, this thread's read-model transactions (and those of
        helpers given `building_generation`) use a fresh file of a new generation, which
        goes live when it ends without an error and is deleted when it fails."""
        files = self.files
        assert files is not None
        with self._events_write() as raw:
            generation = files.claim(raw)
        with files.mark(generation):
            try:
                files.discard(generation)  # one of that number, kept from before a restore
                files.building = generation
                try:
                    yield
                finally:
                    files.building = None
                files.make_durable(generation)
                with self._events_write() as raw:
                    if not files.swap_in(raw, generation):
                        raise ViewsOutrun(generation)
            except BaseException:
                with self._events_read() as raw:  # gone live even so if it failed after commit
                    if not files.is_live(raw, generation):
                        files.discard(generation)
                raise
            finally:
                files.unmark(generation)
        self.remove_stale()

    def live_file(self) -> Path | None:
        """SQLite: the read models' file in use; None on PostgreSQL."""
        if self.files is None:
            return None
        with self._events_read() as raw:
            return self.files.live_path(raw)

    def remove_stale(self) -> None:
        """SQLite: delete read-model files neither live nor being built (ViewsFiles)."""
        if self.files is not None:
            with self._events_read() as raw:
                self.files.remove_stale(raw)

    @property
    def building_generation(self) -> int | None:
        return None if self.files is None else self.files.building

    @contextmanager
    def building_file(self, threads: int = 0) -> Iterator[Tx]:
        """SQLite: a write transaction on the file being built alone, through a connection
        of its own, with `threads` helper threads for sorting. One through the pool would
        take the events' file's write lock too (BEGIN IMMEDIATE locks every attached
        database), and appends would wait for all that runs here: making an index of
        millions of rows takes seconds. Nothing reads or writes the file meanwhile."""
        assert self.files is not None and self.files.building is not None
        path = self.files.path(self.files.building)
        with closing(sqlite3.connect(path, isolation_level=None)) as raw:
            raw.execute("PRAGMA synchronous=OFF")  # made durable before it goes live
            raw.execute(f"PRAGMA threads = {int(threads)}")
            raw.execute("BEGIN IMMEDIATE")
            try:
                yield Tx(raw.cursor(), postgres=False, schema="main")
            except BaseException:
                raw.execute("ROLLBACK")
                raise
            raw.execute("COMMIT")

    def build_in(self, generation: int | None) -> None:
        """A rebuild helper's store: its transactions use the file being built."""
        if self.files is not None:
            self.files.building = generation

    def create_pointer(self) -> None:
        """SQLite: the events' file's row that names the live read-model file."""
        if self.files is not None:
            with self._events_write() as raw:
                self.files.create_pointer(raw)

    @contextmanager
    def _events_read(self) -> Iterator[sqlite3.Connection]:
        """A pooled connection to the events' file, for statements outside a transaction."""
        with self.datastore.get_connection(commit=False) as connection:
            yield connection._sqlite_conn

    @contextmanager
    def _events_write(self) -> Iterator[sqlite3.Connection]:
        """A durable write transaction for the events' file's own tables. BEGIN IMMEDIATE
        locks a read-model file the connection has attached too; every writer takes the
        events' file first, so the order is the same everywhere."""
        with self.datastore.get_connection(commit=True) as connection:
            raw = connection._sqlite_conn
            raw.execute("BEGIN IMMEDIATE")
            try:
                yield raw
            except BaseException:
                raw.rollback()
                raise
            raw.commit()

    def checkpoint(self) -> None:
        """Copy what SQLite's write-ahead log holds into the database file, as far as no
        reader still needs it, without waiting for writers or making them wait (PASSIVE).

        A rebuild's follower does this after each range, mostly while the next range is
        applied. SQLite starts the log again from its beginning only when a checkpoint has
        copied all of it before the next write begins, which one run beside the writes of
        the next range never has: with only those, the log grew to hold the whole rebuild
        (932 frames against 84 in the helpers' test). So every few ranges one runs between
        two turns, while no one writes (Follower._next_turn)."""
        if self.files is None:
            return
        with self.datastore.get_connection(commit=False) as connection:
            connection._sqlite_conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        self.files.flush()  # a rebuild's new file: no log, written to the disk instead

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        with self.transaction() as tx:
            return tx.query(sql, params)

    def read_log(
        self, table: str, after: int, limit: int, upto: int | None = None
    ) -> list[LoggedEvent]:
        """SQLite only: the notifications `after` < id (<= `upto`) of the library's events
        `table`, at most `limit`, as plain rows. The library's own read makes a UUID of
        every aggregate's id and a frozen dataclass of every row, which a rebuild only
        turns back into text: that was a fifth of reading and decoding an event."""
        sql = f"SELECT rowid, originator_id, originator_version, topic, state FROM {table} "
        params: tuple[int, ...] = (after, limit)
        if upto is not None:
            sql, params = sql + "WHERE rowid > ? AND rowid <= ? ", (after, upto, limit)
        else:
            sql += "WHERE rowid > ? "
        with self.datastore.get_connection(commit=False) as connection:
            cursor = connection._sqlite_conn.cursor()
            cursor.row_factory = None
            cursor.execute(sql + "ORDER BY rowid LIMIT ?", params)
            rows = cursor.fetchall()
        if self.datastore.originator_id_type != "uuid":
            return list(map(LoggedEvent._make, rows))
        return [LoggedEvent(n, _uuid_text(i), v, t, s) for n, i, v, t, s in rows]


@lru_cache(maxsize=1 << 16)
def _uuid_text(stored: str) -> str:
    """An aggregate id stored as a UUID (the library stores its hex digits) as the text
    the library's own UUID gives: the same id comes back for every event of a dossier."""
    return str(UUID(stored))
