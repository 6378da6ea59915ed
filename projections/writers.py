"""The queue of writers to one SQLite file, shared by every process that writes to it.

SQLite lets one connection write at a time. Within a process the library queues its
writers; between processes SQLite's own wait polls, sleeping 1, 2, 5, 10 … up to 100 ms
between tries, which leaves the file idle while writers sleep (two processes appending
wrote ~1,060 events/s together, little more than one). Here a writer also holds an
exclusive `flock` on `<database>.writers`, tried again every 0.1 ms at most; the kernel
frees it if its process dies. Two processes then wrote ~1,400 events/s, trying every
0.5 ms at most, as until the seventeenth session. A commit holds the lock ~0.2 ms, so
such a waiter slept through most of the next one too, and a server process whose two
threads both waited left its core idle: 16-17 % of the machine idle under HTTP load,
12-14 % at 0.1 ms.

- One lock per database file per process: the applications' pools share it, and a
  thread that already holds it may take it again (so nested writes never wait for
  themselves; SQLite then decides, as it did before).
- Waiting ends after the database's lock timeout with an OperationalError, as SQLite's
  own "database is locked" would: a stalled process never hangs everyone for good.
- Without `fcntl` (Windows), an in-memory database or a lock file that cannot be
  created (a read-only directory), only SQLite's own waiting remains.
"""

import logging
import os
import threading
import time
from pathlib import Path

from eventsourcing.persistence import OperationalError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger(__name__)
LONGEST_PAUSE = 0.0001  # seconds between tries while another process writes
_queues: dict[str, "WritersQueue"] = {}
_queues_lock = threading.Lock()


def writers_queue(db_name: str) -> "WritersQueue":
    """The one queue of this process for the database file `db_name`."""
    key = db_name if _in_memory(db_name) else str(Path(db_name).expanduser().resolve())
    with _queues_lock:
        if key not in _queues:
            _queues[key] = WritersQueue(None if _in_memory(db_name) else f"{key}.writers")
        return _queues[key]


def _reopen_after_fork() -> None:
    global _queues_lock
    _queues_lock = threading.Lock()
    for queue in _queues.values():
        queue._after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reopen_after_fork)


def _in_memory(db_name: str) -> bool:
    return ":memory:" in db_name or "mode=memory" in db_name


class WritersQueue:
    def __init__(self, lock_path: str | None) -> None:
        self._path = lock_path
        self._fd = _open(lock_path)
        self._threads = threading.Lock()  # one thread of this process queues at a time
        self._owner: int | None = None
        self._depth = 0

    def _after_fork(self) -> None:
        """A forked child must queue on a file description of its own: a `flock` belongs
        to the open file, so a parent's inherited descriptor would let every worker of
        `serve --workers` hold the lock at once (they then met in SQLite's sleeping wait
        again). What the forking thread held is not the child's either."""
        inherited, self._fd = self._fd, _open(self._path)
        if inherited is not None:
            os.close(inherited)
        self._threads = threading.Lock()
        self._owner, self._depth = None, 0

    def acquire(self, timeout: float) -> None:
        me = threading.get_ident()
        if self._owner == me:
            self._depth += 1
            return
        deadline = time.monotonic() + timeout
        if not self._threads.acquire(timeout=max(timeout, 0)):
            raise OperationalError("database is locked: timed out waiting for other writers")
        try:
            self._lock_file(deadline)
        except BaseException:
            self._threads.release()
            raise
        self._owner, self._depth = me, 1

    def release(self) -> None:
        self._depth -= 1
        if self._depth:
            return
        self._owner = None
        try:
            if self._fd is not None:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._threads.release()

    def _lock_file(self, deadline: float) -> None:
        if self._fd is None:
            return
        pause = LONGEST_PAUSE / 8
        while True:
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    msg = "database is locked: another process has been writing too long"
                    raise OperationalError(msg) from None
                time.sleep(pause)
                pause = min(pause * 2, LONGEST_PAUSE)


def _open(path: str | None) -> int | None:
    """Opened read-only, which is all flock needs: whoever may read the lock file may
    queue, also when another user (an admin running the CLI) created it. No path (an
    in-memory database), no lock."""
    if fcntl is None or path is None:
        return None
    try:
        return os.open(path, os.O_RDONLY | os.O_CREAT, 0o666)
    except OSError as error:
        log.warning("no writers' lock file %s (%s); SQLite's own waiting only", path, error)
        return None
