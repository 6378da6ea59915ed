"""Serving the API: one process with threads (waitress), or several processes (granian).

One Python process runs one request's Python at a time (the GIL), so on a machine with
several cores `--workers N` runs N processes, each with its own services, on one port.
Those are granian's: the HTTP side (parsing, slow clients, keep-alive, closing) runs in
Rust threads of each process, and the application in a few Python threads of it
(`--threads`), so a slow client or a long audit read never holds a whole process. A
worker that dies is started again, but when the same one dies again within ~5 s granian
ends the whole server (a crash loop): run `serve` under a supervisor (systemd
`Restart=on-failure`, a container's restart policy). There is no per-request timeout, as
gunicorn's worker timeout was; a request waiting on a database lock waits for the
database's own timeout. One more process keeps the read models caught up for all
workers.
"""

import ctypes
import logging
import os
import signal
import subprocess
import sys
import threading
from typing import Any

from projections.helpers import default_count
from projections.labels import default_lexicon
from projections.runtime import Services, open_services

# A worker stopping gets this long to finish its requests; then it is killed (SQLite or
# PostgreSQL roll back an unfinished write, which was never acknowledged).
STOP_SECONDS = 5
WATCH_SECONDS = 1.0
SERVER_PID = "DOSSIER_SERVER_PID"  # set for the workers: the process they must not outlive
PR_SET_PDEATHSIG = 1  # Linux prctl: a signal for this process when its parent ends
# CGI's request meta-variables; with HTTP_* they are what a request's environ holds.
REQUEST_VARIABLES = frozenset(
    {"AUTH_TYPE", "CONTENT_LENGTH", "CONTENT_TYPE", "PATH_INFO", "QUERY_STRING", "REMOTE_ADDR",
     "REMOTE_HOST", "REMOTE_USER", "REQUEST_METHOD", "SCRIPT_NAME", "SERVER_NAME",
     "SERVER_PORT", "SERVER_PROTOCOL"}
)  # fmt: skip
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
        # A process group of its own: Ctrl-C in a terminal reaches the whole group, and a
        # follower ending on it would be started again while the server stops; `stop`
        # ends it instead (and it ends itself when this process is gone: --parent-pid).
        return subprocess.Popen(
            [*command, "--parent-pid", str(os.getpid())], env=env, process_group=0
        )

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
    so that they start in milliseconds and share those pages."""
    from granian import Granian
    from granian.constants import Interfaces

    import api.app  # noqa: F401

    default_lexicon()

    if db:
        os.environ["DOSSIER_DB"] = db  # the workers' `worker_app` reads it
    os.environ[SERVER_PID] = str(os.getpid())  # see `_end_with_server`
    Granian(
        f"{__name__}:worker_app",
        address=host,
        port=port,
        interface=Interfaces.WSGI,
        factory=True,
        workers=workers,
        blocking_threads=threads,
        respawn_failed_workers=True,
        workers_kill_timeout=STOP_SECONDS,
    ).serve()


def worker_app() -> Any:
    """The app of one worker process: its own services, tables already made, and the
    read models left to the follower process (a read still catches up first, so it
    sees every write before it). Its database connections end with the process."""
    from api.app import create_app

    _end_with_server()
    services = open_services(create_tables=False, followed_elsewhere=True)
    app = create_app(services=services)
    default_lexicon()  # inherited when forked; loaded here otherwise, not in a request
    return WithoutServerEnvironment(app, _server_variables())


def _end_with_server() -> None:
    """A worker must not outlive the server's main process. Stopped, the main process
    stops its workers; killed (SIGKILL), it cannot, and its workers went on answering on
    the port beside a server started again. So the kernel sends a worker SIGTERM when
    its parent ends (Linux), and one whose parent is already gone ends now. Until granian
    takes over the worker's signals it would run the main process's inherited handlers,
    which do not end it: a worker stopped while starting then waited for STOP_SECONDS."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    server = os.environ.get(SERVER_PID)
    if server is not None and int(server) != os.getppid():
        os._exit(0)


def _server_variables() -> frozenset[str]:
    """The server's environment variables, which granian puts into every request's
    environ (`dict(os.environ) | request`). Those named like a request's (an
    `HTTP_AUTHORIZATION` set for the server read as every token-less request's token)
    are removed from this worker's environment, so they never get there; the others
    (`DOSSIER_DB`, which may hold a password) `WithoutServerEnvironment` takes out."""
    for name in [n for n in os.environ if n.startswith("HTTP_") or n in REQUEST_VARIABLES]:
        del os.environ[name]
    return frozenset(os.environ)


class WithoutServerEnvironment:
    """The app, called with a request's environ without the server's own variables."""

    def __init__(self, app: Any, names: frozenset[str]) -> None:
        self.app, self.names = app, names

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        for name in self.names:
            environ.pop(name, None)
        return self.app(environ, start_response)
