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

import os
import subprocess
import sys
from typing import Any

from projections.labels import default_lexicon
from projections.runtime import Services, open_services

WORKER_TIMEOUT_SECONDS = 60


def serve_threads(services: Services, host: str, port: int, threads: int) -> None:
    """Serve in this process with waitress; `services` stay the caller's to close."""
    import waitress

    from api.app import create_app

    app = create_app(services=services)
    default_lexicon()  # load the lemmatiser now, not during the first request
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
        services.follower.catch_up()
    finally:
        services.close()
    follower = _start_follower(db)
    try:
        _Workers(db, {"bind": f"{host}:{port}", "workers": workers}).run()
    finally:
        follower.terminate()
        try:
            follower.wait(timeout=30)
        except subprocess.TimeoutExpired:
            follower.kill()
            follower.wait()


def _start_follower(db: str | None) -> subprocess.Popen[bytes]:
    env = {**os.environ, **({"DOSSIER_DB": db} if db else {})}
    command = [sys.executable, "-m", "scripts.cli", "projections", "follow"]
    return subprocess.Popen([*command, "--parent-pid", str(os.getpid())], env=env)


class _Workers:
    """gunicorn's application interface, each worker opening its own services after fork."""

    def __init__(self, db: str | None, options: dict[str, Any]) -> None:
        from gunicorn.app.base import BaseApplication

        class Application(BaseApplication):  # type: ignore[misc]
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

        self.application = Application()

    def run(self) -> None:
        self.application.run()


def _close_services(server: Any, worker: Any) -> None:
    app = getattr(worker, "wsgi", None)
    if app is not None:
        app.extensions["dossier"].close()
