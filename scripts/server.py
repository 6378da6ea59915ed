"""Serving the API: one process with threads (waitress), or several processes (granian).

One Python process runs one request's Python at a time (the GIL), so on a machine with
several cores `--workers N` runs N processes, each with its own services, on one port.
Those are granian's: the HTTP side (parsing, slow clients, keep-alive, closing) runs in
Rust threads of each process, and the application in a few Python threads of it
(`--threads`), so a slow client or a long audit read never holds a whole process. A
worker that dies is started again. One more process keeps the read models caught up for
all workers.
"""

import logging
import os
import subprocess
import sys
import threading
from typing import Any

from projections.helpers import default_count
from projections.labels import default_lexicon
from projections.runtime import Services, open_services

RESPAWN_SECONDS = 1.0
# A worker stopping gets this long to finish its requests; then it is killed (SQLite or
# PostgreSQL roll back an unfinished write, which was never acknowledged).
STOP_SECONDS = 5
WATCH_SECONDS = 1.0
log = logging.getLogger(__name__)


def serve_threads(services: Services, host: str, port: int, threads: int) -> None:
    """Serve in this process with waitress; `services` stay the caller's to close."""
    import waitress

    from api.app import create_app

    app = create_app(services=services)
    default_lexicon()  # load the lemmatiser now, not during the first request
    # Far behind (after an upgrade's rebuild), catch up with helpers before serving.
    services.follower.catch_up(helpers=default_count())
    waitress.serve(app, host=host, port=port, threads=threads, ident="loopbaandossier")


def serve_workers(db: str | None, host: str, port: int, workers: int, threads: int) -> None:
    """Serve with `workers` processes of `threads` threads and one read-model follower.

    Tables are created, and read models caught up, here, once, before any worker starts:
    workers then start fast and never race to create tables (which fails on PostgreSQL)
    or run a long rebuild in a request. Workers leave following the log to the follower
    process (a read still catches up first, so it sees every write before it), which
    keeps that work off the processes answering requests.
    """
    services = open_services(db)
    try:
        services.follower.catch_up(helpers=default_count())
    finally:
        services.close()
    follower = FollowerProcess(db)
    try:
        _run_workers(db, host, port, workers, threads)
    finally:
        follower.stop()


class FollowerProcess:
    """The `dossier projections follow` process of `serve --workers`, started again
    whenever it ends (killed for memory, say), checked every second by a thread of the
    serving process. Without it reads stay correct, catching up themselves, but slower."""

    def __init__(self, db: str | None) -> None:
        self.db = db
        self.process = self._start()
        self._stopping = threading.Event()
        self._watcher = threading.Thread(target=self._watch, name="follower-watch", daemon=True)
        self._watcher.start()

    def _start(self) -> subprocess.Popen[bytes]:
        env = {**os.environ, **({"DOSSIER_DB": self.db} if self.db else {})}
        command = [sys.executable, "-m", "scripts.cli", "projections", "follow"]
        return subprocess.Popen([*command, "--parent-pid", str(os.getpid())], env=env)

    def _watch(self) -> None:
        while not self._stopping.wait(WATCH_SECONDS):
            if self.process.poll() is not None and not self._stopping.is_set():
                log.warning("the read-model follower process ended; starting it again")
                self.process = self._start()

    def stop(self) -> None:
        self._stopping.set()
        self._watcher.join(timeout=5)
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _run_workers(db: str | None, host: str, port: int, workers: int, threads: int) -> None:
    """Run granian's main process; each worker builds its app with `worker_app`.

    The app's modules and the lemmatiser are loaded here, before the workers are forked,
    so that they start in milliseconds and share those pages. (A worker still starting
    when told to stop did not stop; `STOP_SECONDS` ends that too.)"""
    from granian import Granian
    from granian.constants import Interfaces

    import api.app  # noqa: F401

    default_lexicon()

    if db:
        os.environ["DOSSIER_DB"] = db  # the workers' `worker_app` reads it
    Granian(
        f"{__name__}:worker_app",
        address=host,
        port=port,
        interface=Interfaces.WSGI,
        factory=True,
        workers=workers,
        blocking_threads=threads,
        respawn_failed_workers=True,
        respawn_interval=RESPAWN_SECONDS,
        workers_kill_timeout=STOP_SECONDS,
    ).serve()


def worker_app() -> Any:
    """The app of one worker process: its own services, tables already made, and the
    read models left to the follower process (a read still catches up first, so it
    sees every write before it). Its database connections end with the process."""
    from api.app import create_app

    services = open_services(create_tables=False, followed_elsewhere=True)
    app = create_app(services=services)
    default_lexicon()  # load the lemmatiser now, not during the first request
    return app
