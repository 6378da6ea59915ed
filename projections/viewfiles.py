"""On SQLite, the read models live in a file of their own beside the events' file,
attached to every connection as the schema `views`: `dossier.sqlite.views-<generation>`.

Why apart: a rebuild then writes a fresh file that no one else reads, without a
write-ahead log and without waiting for the disk, and swaps it in when complete. In the
events' file every page a rebuild wrote went into the write-ahead log and was copied
again into the file by a checkpoint (docs/performance.md has the numbers). Reads go on
from the previous file meanwhile, where before they met dropped tables; and a rebuild
that fails or is killed leaves the read models as they were.

Which file is live is a row in the events' file (`projection_files`), read in every
read-model transaction: a connection that has another file attached detaches it and
attaches the live one, and checks again in its next transaction. Generations only grow:
a rebuild claims a new one at its start, and swaps its file in only if no later rebuild
swapped in before it. The file it replaced is deleted at once (a process still reading
it keeps its open handle until its next transaction); any file of an older generation
that no rebuild is building is deleted then too.

PostgreSQL keeps read models in the events' database, rebuilt in place.
"""

import contextlib
import fcntl
import logging
import os
import re
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

log = logging.getLogger(__name__)

FIRST = 1  # the generation of a store's first read-model file
ATTEMPTS = 5  # transactions begun again while the live file keeps changing under them
POINTER_TABLE = (
    "CREATE TABLE IF NOT EXISTS projection_files (live INTEGER NOT NULL, claimed INTEGER NOT NULL)"
)


class ViewsFiles:
    """The read-model files of one events' file."""

    def __init__(self, db_name: str) -> None:
        self.db = Path(db_name).expanduser().resolve()
        self._thread = threading.local()

    @property
    def building(self) -> int | None:
        """The generation of the file this thread's transactions use while it rebuilds
        (in a rebuild helper: its one thread); the other threads use the live one."""
        return getattr(self._thread, "building", None)

    @building.setter
    def building(self, generation: int | None) -> None:
        self._thread.building = generation

    def path(self, generation: int) -> Path:
        return self.db.with_name(f"{self.db.name}.views-{generation}")

    def begin(self, connection: Any, begin: str) -> int:
        """Begin a transaction (`begin`: BEGIN or BEGIN IMMEDIATE) on a pooled connection
        with the right file attached: the one being built, else the live one, checked
        inside the transaction (so against the snapshot the transaction reads). Returns
        the file's generation."""
        raw = connection._sqlite_conn
        building = self.building
        if building is not None:
            self._attach(connection, building, building=True, create=True)
            raw.execute(begin)
            return building
        for _ in range(ATTEMPTS):
            raw.execute(begin)
            try:
                live = _live(raw)
            except BaseException:
                raw.rollback()  # never back to the pool inside a transaction
                raise
            if _attached(connection) == (live, False):
                return live
            raw.rollback()
            self._attach_live(connection, live)
        raise sqlite3.OperationalError("the read models' file kept changing; try again")

    def _attach_live(self, connection: Any, live: int) -> None:
        """Attach the live file, never making one that a rebuild has just replaced and
        deleted: when `live` has no file, it is made only if it is still the live one (a
        store restored without it, a first start), else the caller looks again."""
        try:
            self._attach(connection, live, building=False, create=False)
        except sqlite3.OperationalError as error:
            if getattr(error, "sqlite_errorcode", None) != sqlite3.SQLITE_CANTOPEN:
                raise
            if _live(connection._sqlite_conn) == live:
                self._attach(connection, live, building=False, create=True)

    def _attach(self, connection: Any, generation: int, *, building: bool, create: bool) -> None:
        attached = _attached(connection)
        if attached == (generation, building):
            return
        raw = connection._sqlite_conn
        if attached is not None:
            raw.execute("DETACH DATABASE views")
            connection.dossier_views = None
        uri = f"{self.path(generation).as_uri()}?mode={'rwc' if create else 'rw'}"
        raw.execute("ATTACH DATABASE ? AS views", (uri,))
        try:
            _set_up(raw, building)
        except BaseException:
            raw.execute("DETACH DATABASE views")
            raise
        connection.dossier_views = (generation, building)

    def create_pointer(self, raw: sqlite3.Connection) -> None:
        """The events' file's row naming the live read-model file (in a transaction)."""
        raw.execute(POINTER_TABLE)
        if raw.execute("SELECT 1 FROM projection_files").fetchone() is None:
            raw.execute("INSERT INTO projection_files VALUES (?, ?)", (FIRST, FIRST))

    def claim(self, raw: sqlite3.Connection) -> int:
        """A generation of its own for a rebuild's new file (in a write transaction)."""
        self.create_pointer(raw)
        raw.execute("UPDATE projection_files SET claimed = MAX(claimed, live) + 1")
        return int(raw.execute("SELECT claimed FROM projection_files").fetchone()[0])

    def mark(self, generation: int) -> IO[str]:
        """The lock that tells `remove_stale` (of every process) that `generation` is
        being built, held while the returned file is open. Until it is taken no file of
        the generation is written, and a cleaner holds the same lock while it deletes; a
        marker a cleaner unlinked just before it was locked here is made again."""
        while True:
            held = _locked(self._marker(generation), wait=True)
            if held is not None:
                return held

    def unmark(self, generation: int) -> None:
        """End of a build, done or given up: its marker goes (while still locked)."""
        self._marker(generation).unlink(missing_ok=True)

    def _marker(self, generation: int) -> Path:
        path = self.path(generation)
        return path.with_name(f"{path.name}.building")

    def make_durable(self, generation: int) -> None:
        """Before a built file goes live: its pages on disk (it was written without
        waiting for the disk), then in WAL mode, as live files are. No connection of this
        process holds a lock on it now, so closing the descriptor here releases none."""
        path = self.path(generation)
        _sync(path, os.fsync)
        _sync(path.parent, os.fsync)
        with contextlib.closing(sqlite3.connect(path)) as direct:
            direct.execute("PRAGMA journal_mode=WAL").fetchall()

    def flush(self) -> None:
        """Write what this thread's rebuild has written so far to the disk, while its
        helpers go on, so that `make_durable` has little left to wait for at the end.
        No connection of this process holds a lock on the file between two turns."""
        if self.building is not None:
            _sync(self.path(self.building), os.fdatasync)

    def swap_in(self, raw: sqlite3.Connection, generation: int) -> bool:
        """Make `generation` live, unless a later one is (in a write transaction on the
        events' file); whether it went live."""
        if generation <= _live(raw):
            return False
        raw.execute("UPDATE projection_files SET live = ?", (generation,))
        return True

    def remove_stale(self, raw: sqlite3.Connection) -> None:
        """Delete every read-model file that is neither live nor being built: the one a
        rebuild replaced, what a rebuild that failed or was killed left, and an empty one
        a reader made just as it was replaced. `raw`: a connection to the events' file
        outside a transaction. The live generation is read after a file's marker is found
        free, and a rebuild swaps its file in before it lets go of the marker, so a file
        that has just gone live is never taken for a leftover."""
        found = re.compile(re.escape(f"{self.db.name}.views-") + r"(\d+)")
        generations = {
            int(match[1]) for path in self.db.parent.iterdir() if (match := found.match(path.name))
        }
        for generation in sorted(generations):
            marker = self._marker(generation)
            held = _locked(marker, wait=False)
            if held is None:
                continue  # being built
            with held:  # no build of it can start until its marker is gone
                if generation != _live(raw):
                    self.discard(generation)
                marker.unlink()

    def discard(self, generation: int) -> None:
        """A generation's file and SQLite's companions of it: one left over, one of a
        build's number kept from before a backup was restored, or a build's that failed."""
        path = self.path(generation)
        if path.exists():
            log.info("deleting the read models' file %s", path.name)
        for suffix in ("", "-wal", "-shm", "-journal"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(f"{path}{suffix}")

    def live_path(self, raw: sqlite3.Connection) -> Path:
        return self.path(_live(raw))

    def is_live(self, raw: sqlite3.Connection, generation: int) -> bool:
        return _live(raw) == generation


def _locked(marker: Path, *, wait: bool) -> IO[str] | None:
    """`marker` made if missing, opened and locked (flock); None when another holds it
    (without `wait`) or unlinked it before the lock was taken here (the usual lock-file
    rule: the lock counts only on the file the name still stands for)."""
    held = open(marker, "a")  # noqa: SIM115 - returned open, the lock held while it is
    try:
        fcntl.flock(held, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
        if os.fstat(held.fileno()).st_ino == os.stat(marker).st_ino:
            return held
    except (BlockingIOError, FileNotFoundError):
        pass
    except BaseException:
        held.close()
        raise
    held.close()
    return None


def _sync(path: Path, sync: Callable[[int], None]) -> None:
    """`sync` (fsync, fdatasync) a file or directory through a descriptor of its own."""
    fd = os.open(path, os.O_RDONLY)
    try:
        sync(fd)
    finally:
        os.close(fd)


# Pages of a new read-model file, in bytes. Against SQLite's default of 4,096, a rebuild
# inserts a timeline row in ~15 % less CPU and indexes the rows in a fifth less time, while
# reading a pupil's rows (scattered over the file) takes as long; from 32,768 on they took
# longer (twenty-first session, 907k real rows). Set before the file's first table is made;
# a file made before keeps its pages until it is rebuilt.
PAGE_SIZE = 16_384


def _set_up(raw: sqlite3.Connection, building: bool) -> None:
    raw.execute(f"PRAGMA views.page_size={PAGE_SIZE}")  # no effect on a file with tables
    if building:
        # A rollback journal on disk, not in memory: a helper killed in its turn leaves
        # it for the next writer to roll its range back. Nothing waits for the disk; a
        # power cut only leaves a file no one uses (`ViewsFiles.make_durable`).
        raw.execute("PRAGMA views.journal_mode=PERSIST").fetchall()
        raw.execute("PRAGMA views.synchronous=OFF")
    else:  # derived data: a power cut may lose the last commits, never half of one
        raw.execute("PRAGMA views.journal_mode=WAL").fetchall()
        raw.execute("PRAGMA views.synchronous=NORMAL")


def _attached(connection: Any) -> tuple[int, bool] | None:
    """Which file a pooled connection has attached (generation, being built), kept on
    the library's connection object, which the pool lends to every store of the file."""
    return getattr(connection, "dossier_views", None)


def _live(raw: sqlite3.Connection) -> int:
    """The live generation; the first before the pointer's table exists."""
    try:
        row = raw.execute("SELECT live FROM projection_files").fetchone()
    except sqlite3.OperationalError as error:
        if "no such table" not in str(error):
            raise
        return FIRST
    return int(row[0]) if row is not None else FIRST
