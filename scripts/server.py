"""Serving the API: one process with threads (waitress), or several processes (gunicorn).

One Python process runs one request's Python at a time (the GIL), so on a machine with
several cores `--workers N` runs N processes, each with its own services, on one port.
Those workers are gunicorn's `sync` workers: each handles one request at a time and
closes the connection after it, so every request goes to whichever worker is free.
(Workers that keep connections open let the first worker keep the clients it accepted:
measured with 8 keep-alive clients, one of two workers did nine tenths of the work.)
Sync workers expect a buffering proxy (nginx, Caddy) in front when clients are slow.
One more process keeps the read models caught up for all workers.
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

WORKER_TIMEOUT_SECONDS = 60
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


def serve_workers(db: str | None, host: str, port: int, workers: int) -> None:
    """Serve with `workers` gunicorn processes and one read-model follower process.

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
        _run_workers(db, {"bind": f"{host}:{port}", "workers": workers})
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


def _run_workers(db: str | None, options: dict[str, Any]) -> None:
    """Run gunicorn's master with `options`; each worker opens its own services after fork."""
    from gunicorn.app.base import BaseApplication

    class Workers(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            settings = {
                "worker_class": "sync",
                "timeout": WORKER_TIMEOUT_SECONDS,
                # A runtime control socket in the home directory is not needed, and
                # would be shared by every server started by the same user.
                "control_socket_disable": True,
                "worker_exit": _close_services,
                **options,
            }
            for key, value in settings.items():
                self.cfg.set(key, value)

        def load(self) -> Any:
            from api.app import create_app

            services = open_services(db, create_tables=False, followed_elsewhere=True)
            app = create_app(services=services)
            default_lexicon()
            return app

    Workers().run()


def _close_services(server: Any, worker: Any) -> None:
    app = getattr(worker, "wsgi", None)
    if app is not None:
        app.extensions["dossier"].close()
