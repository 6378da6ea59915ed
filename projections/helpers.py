"""Helper processes for a long catch-up (a rebuild): each reads, prepares and applies
ranges of the notification log, in turn, while the others prepare theirs.

Preparing a range (decoding every event, finding the lexicon mentions in every text)
needs no database lock and takes most of a rebuild's time. Applying must happen range
after range, in the log's order, under the read models' lock. So a helper prepares its
range, waits for its turn, and applies it itself through its own connection, exactly as
`Follower.catch_up` applies a batch (a failing event quarantines its pupil there too).
The follower only hands out the ranges and the turns, and, on SQLite, checkpoints the
write-ahead log after each range (Follower._next_turn). Earlier the helpers sent the
prepared events back to the follower to apply: sending and reading them back cost more
than applying them, and the follower, applying every range alone, set the pace of a
large rebuild.

Helpers are forked from a fork server ("forkserver"), not from this process: a child
forked from here would inherit this process's SQLite state for the file (its locks as
SQLite tracks them, the WAL index), which SQLite forbids using across a fork, and any
lock another thread held. The fork server is a fresh process that never opens a
database; it imports the modules a helper needs and loads the lexicon once
(projections.helper_preload), so each helper starts with them in a few milliseconds
where one started from scratch ("spawn", still used where there is no fork server)
spent about a second of CPU on them. A helper builds its own application of the same
class and settings, and gets the read models pickled, so it prepares and applies
exactly as this process would.
"""

import contextlib
import gc
import importlib
import itertools
import logging
import multiprocessing
import os
import signal
import sys
import sysconfig
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from multiprocessing import forkserver
from multiprocessing.connection import Connection
from typing import Any

import orjson

from projections.cores import usable_cores

log = logging.getLogger(__name__)
GO = "go"  # the follower's word to a helper: apply the range you prepared, it is your turn


class HelperLost(Exception):
    """A helper ended or its pipe broke; the follower carries on without helpers."""


# Imported once by the helpers' fork server (see `preload_in_helpers`).
PRELOADED = ["projections.helper_preload"]
MOST_HELPERS = 8  # past this, applying range after range is the limit (docs/performance.md)


def default_count() -> int:
    """`DOSSIER_REBUILD_HELPERS`, else one helper per usable core and one more, at most
    MOST_HELPERS; none on one core, where helpers would only add their start-up to the
    same work. The follower only hands out work meanwhile, and a helper waiting for its
    turn leaves its core to the extra one: on two cores three helpers rebuilt 1M events
    in 27.7, 34.7 and 28.2 s where two took 35.5, 37.3 and 34.7 s (adjacent pairs)."""
    configured = os.environ.get("DOSSIER_REBUILD_HELPERS", "").strip()
    if configured:
        try:
            return max(0, int(configured))
        except ValueError:
            log.warning("DOSSIER_REBUILD_HELPERS=%r is not a number; using the default", configured)
    cores = usable_cores()  # a container's CPU quota counts, not only the host's cores
    return min(MOST_HELPERS, cores + 1) if cores > 1 else 0


def preload_in_helpers(*modules: str) -> None:
    """Have the helpers' fork server import `modules` too, before it starts. A program
    whose main module imports much names those modules here: multiprocessing runs the
    main module again in every helper, which costs nothing once its imports are loaded."""
    PRELOADED.extend(m for m in modules if m not in PRELOADED)


def _start_context() -> Any:
    """The fork server where the platform has one, else fresh processes (spawn)."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(list(PRELOADED))  # no effect once it runs
    return context


def stop_fork_server() -> None:
    """End the helpers' fork server once a catch-up is done with it: it holds ~100 MB
    of loaded modules, and a long-lived process (the server, its follower) rarely needs
    helpers again; the next helped catch-up starts it afresh, with the settings of then.
    Uses multiprocessing's own (private) way to stop it; where that is missing it stays."""
    stop = getattr(getattr(forkserver, "_forkserver", None), "_stop", None)
    if stop is not None:
        try:
            stop()
        except Exception:
            log.debug("the helpers' fork server could not be stopped", exc_info=True)


def launch_fork_server() -> None:
    """Start the helpers' fork server, if it is not running, without waiting for it to
    load what it preloads (about a second): a rebuild drops the old tables meanwhile,
    and the first helper started then waits only for the rest. Never fails: a fork
    server that cannot start is met again, and handled, by `Helpers.start`."""
    if _start_context().get_start_method() != "forkserver":
        return
    try:
        with _importing_as_here():
            forkserver.ensure_running()
    except Exception:
        log.debug("the helpers' fork server could not be started", exc_info=True)


@contextlib.contextmanager
def _importing_as_here() -> Iterator[None]:
    """Around starting the fork server: have it import our packages from where this
    process imported them. Python 3.11 starts it with `python -c`, which puts the
    working directory first on its path, and ignores the path multiprocessing hands it;
    so from a directory that holds another copy of our packages (a source checkout of
    another version) it imported that copy, and the rebuild ran alone (`Recipe.same_code`
    stops helpers running other code). It gets this process's path instead (PYTHONPATH),
    without the working directory (PYTHONSAFEPATH): the entries this process has before
    the standard library (its script's or working directory, PYTHONPATH, any added at
    run time), so that nothing installed comes before the standard library there that
    does not here. The environment is the process's, so it is changed only while the
    fork server starts; helpers take the follower's own (`Recipe.environ`)."""
    names = ("PYTHONPATH", "PYTHONSAFEPATH")
    saved = {name: os.environ.get(name) for name in names}
    os.environ["PYTHONPATH"] = os.pathsep.join(_path_before_standard_library())
    os.environ["PYTHONSAFEPATH"] = "1"
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _path_before_standard_library() -> list[str]:
    library = os.path.dirname(sysconfig.get_path("stdlib")) + os.sep  # also its .zip
    entries = (os.path.abspath(entry) for entry in sys.path)
    return list(itertools.takewhile(lambda entry: not entry.startswith(library), entries))


def _code_files() -> dict[str, str | None]:
    """The files the code of a rebuild comes from: our packages as imported."""
    names = ("dossier", "projections", "projections.follower", "projections.timeline")
    return {name: getattr(importlib.import_module(name), "__file__", None) for name in names}


@dataclass(frozen=True)
class Recipe:
    """What a helper needs to prepare as the follower would: the application's class
    and settings (it opens its own connections), the read models, this process's
    environment as it is now (the fork server's is that of when it started), and where
    the code it runs comes from (`same_code`)."""

    app_class: type
    env: Mapping[str, str]
    models: Sequence[Any]
    views: int | None = None  # SQLite: the generation of the read models' file being built
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    # Looked up when a recipe is made, so that a test can stand in for the follower's side.
    code: Mapping[str, str | None] = field(default_factory=lambda: _code_files())

    def same_code(self) -> bool:
        """Whether this process runs the follower's code. The fork server imports what it
        preloads on its own path, which begins with the directory it was started in: a
        copy of these packages there would be what the helpers run."""
        return _code_files() == dict(self.code)

    def helper_env(self) -> dict[str, str]:
        """The settings, with one PostgreSQL connection: a helper reads on one, and
        helpers must not take the connections the server needs."""
        env = dict(self.env)
        for key in list(env):
            if key.endswith("POSTGRES_POOL_SIZE"):
                env[key] = "1"
            elif key.endswith("POSTGRES_MAX_OVERFLOW"):
                env[key] = "0"
        return {**env, "POSTGRES_POOL_SIZE": "1", "POSTGRES_MAX_OVERFLOW": "0"}


class Helpers:
    """Helper processes, asked in turn for the prepared events of id ranges."""

    def __init__(self) -> None:
        self._connections: list[Connection] = []
        self._processes: list[Any] = []
        self._asked = 0
        self._answered = 0

    @classmethod
    def start(cls, recipe: Recipe, count: int) -> "Helpers | None":
        """`count` helpers; None when `count` is 0 or none could be started."""
        if count < 1:
            return None
        launch_fork_server()  # if a catch-up, not a rebuild, needs helpers first
        context = _start_context()
        team = cls()
        try:
            for number in range(count):
                mine, theirs = context.Pipe()
                team._connections.append(mine)
                process = context.Process(
                    target=_serve,
                    args=(theirs, recipe),
                    name=f"rebuild-helper-{number}",
                    daemon=True,
                )
                try:
                    process.start()
                finally:
                    theirs.close()
                team._processes.append(process)
        except Exception:  # a process limit, read models that cannot be pickled, …
            log.warning("no rebuild helpers could be started; rebuilding alone", exc_info=True)
            team.close()
            return None
        return team

    @property
    def count(self) -> int:
        return len(self._connections)

    def ask(self, after: int, upto: int) -> None:
        """Give the next helper in turn the notifications `after` < id <= `upto` to
        prepare; it applies them when told (`go`)."""
        self._send(self._asked, (after, upto))
        self._asked += 1

    def go(self) -> None:
        """Let the helper of the oldest range not yet applied apply it (`applied` waits for
        it); one range at a time."""
        self._send(self._answered, GO)

    def applied(self) -> int | None:
        """Wait until the helper told to `go` has applied its range: how many notifications
        it applied, or None when it could not (another process moved the positions, the
        database failed); the caller then goes on alone from the positions as they are."""
        turn = self._answered
        try:
            answer: int | None = orjson.loads(self._connections[turn % self.count].recv_bytes())
        except (EOFError, OSError) as error:
            raise HelperLost(error) from error
        self._answered += 1
        return answer

    def _send(self, number: int, message: Any) -> None:
        try:
            self._connections[number % self.count].send(message)
        except OSError as error:
            raise HelperLost(error) from error

    def close(self) -> None:
        """End the helpers; a second call does nothing. Those with answers nobody will
        read would wait to send them, so they are ended at once; so are helpers never
        asked, which may still be starting or waiting for a database that is down. The
        others finish when told. The fork server ends too (`stop_fork_server`)."""
        at_once = self._asked > self._answered or self._asked == 0
        for connection in self._connections:
            with contextlib.suppress(OSError):  # that helper has ended already
                connection.send(None)
            connection.close()
        for process in self._processes:
            if at_once:
                process.kill()
            process.join(timeout=10)
            if process.is_alive():
                process.kill()
                process.join()
        if self._processes:
            stop_fork_server()
        self._connections, self._processes = [], []


def _serve(connection: Connection, recipe: Recipe) -> None:
    """A helper's life: prepare a range, apply it when told, answer how many it applied;
    until told to stop (None) or the follower is gone (its end of the pipe closes, also
    when it is killed). Ctrl-C reaches the whole process group; the follower ends its
    helpers itself."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    os.environ.clear()
    os.environ.update(recipe.environ)
    if not recipe.same_code():  # the follower goes on alone (HelperLost)
        log.error("a rebuild helper runs other code than its follower: %s, not %s",
                  _code_files(), dict(recipe.code))  # fmt: skip
        return
    gc.disable()  # a short life making values without cycles: collections only cost time
    from projections.follower import Follower  # a cycle at import time otherwise

    app = recipe.app_class(env=recipe.helper_env())
    follower = Follower(app, recipe.models, helpers=0)
    follower.store.checkpoints = False  # the follower checkpoints (Follower._next_turn)
    follower.store.build_in(recipe.views)
    try:
        while (question := _next_question(connection)) is not None:
            prepared = _prepare(follower, *question)
            if _next_question(connection) != GO:
                return  # told to stop before its turn
            try:
                connection.send_bytes(orjson.dumps(_apply(follower, question[0], prepared)))
            except OSError:
                return  # the follower is gone
    finally:
        app.close()


def _next_question(connection: Connection) -> Any:
    try:
        return connection.recv()
    except (EOFError, OSError):
        return None


def _prepare(follower: Any, after: int, upto: int) -> Any:
    """The range's notifications and prepared events; an exception when it could not
    even be read, met again at the turn."""
    try:
        notifications = follower.read_log(after, upto - after, upto)
        return notifications, follower.prepare(notifications), upto
    except Exception as error:
        return error


def _apply(follower: Any, after: int, prepared: Any) -> int | None:
    """Apply a prepared range in this helper's turn; None when it could not."""
    if isinstance(prepared, Exception):
        log.warning("a rebuild helper could not read its range", exc_info=prepared)
        return None
    notifications, events, upto = prepared
    try:
        follower.apply_prepared(notifications, events, after, upto)
    except Exception:
        log.warning("a rebuild helper could not apply its range", exc_info=True)
        return None
    return len(notifications)
