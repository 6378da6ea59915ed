"""Helper processes for a long catch-up (a rebuild): they read and prepare the batches
ahead while this process applies the current one.

Preparing a batch (decoding every event, finding the lexicon mentions in every text)
needs no database lock and takes most of a rebuild's time. Applying it must stay in
one process, batch after batch, under the lock. So helpers take the preparing: each
reads a range of the notification log through connections of its own and sends back
the prepared events; the follower applies them in order, exactly as it applies a batch
it prepared itself (see `Follower.catch_up`).

Helpers are started fresh ("spawn"), not forked: a forked child would inherit this
process's SQLite state for the file (its locks as SQLite tracks them, the WAL index),
which SQLite forbids using across a fork, and any lock another thread held. A helper
builds its own application of the same class and settings, and gets the read models
pickled, so it prepares exactly as this process would. Starting one takes about a
second (imports, the lemmatiser), which is why only long catch-ups use them.
"""

import contextlib
import gc
import logging
import multiprocessing
import os
import signal
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

import orjson

from projections.recorded import Recorded

log = logging.getLogger(__name__)
# (id, the event's values as `Recorded` takes them) per notification of the range, sent
# as JSON: the values are plain already, and orjson reads them back several times faster
# than pickle (~3 against ~9 µs an event), which the follower, the busier side, gains.
Prepared = list[tuple[int, tuple[Any, ...]]]


@dataclass(frozen=True, slots=True)
class Position:
    """What applying needs of a notification whose event a helper decoded."""

    id: int
    originator_id: str


class HelperLost(Exception):
    """A helper ended or its pipe broke; the follower carries on without helpers."""


MOST_HELPERS = 8  # past this the follower's own applying is the limit (docs/performance.md)


def default_count() -> int:
    """`DOSSIER_REBUILD_HELPERS`, else one helper per usable core but the one this
    process applies with, at most MOST_HELPERS."""
    configured = os.environ.get("DOSSIER_REBUILD_HELPERS", "").strip()
    if configured:
        try:
            return max(0, int(configured))
        except ValueError:
            log.warning("DOSSIER_REBUILD_HELPERS=%r is not a number; using the default", configured)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return min(MOST_HELPERS, max(0, (cores or 1) - 1))


@dataclass(frozen=True)
class Recipe:
    """What a helper needs to prepare as the follower would: the application's class
    and settings (it opens its own connections) and the read models."""

    app_class: type
    env: Mapping[str, str]
    models: Sequence[Any]

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
        context = multiprocessing.get_context("spawn")
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
        """Ask the next helper in turn for the notifications `after` < id <= `upto`."""
        try:
            self._connections[self._asked % self.count].send((after, upto))
        except OSError as error:
            raise HelperLost(error) from error
        self._asked += 1

    def receive(self) -> tuple[list[Position], list[Recorded]] | None:
        """The answer to the oldest question not yet answered; None when the helper
        could not prepare every event of it (the caller then does that range itself)."""
        connection = self._connections[self._answered % self.count]
        try:
            answer: Prepared | None = orjson.loads(connection.recv_bytes())
        except (EOFError, OSError) as error:
            raise HelperLost(error) from error
        self._answered += 1
        if answer is None:
            return None
        events = [Recorded(*values) for _, values in answer]
        positions = [Position(n, e.pupil_id) for (n, _), e in zip(answer, events, strict=True)]
        return positions, events

    def close(self) -> None:
        """End the helpers; a second call does nothing. Those with answers nobody will
        read would wait to send them, so they are ended at once; so are helpers never
        asked (a rebuild whose drop failed), which may still be starting or waiting for
        a database that is down. The others finish when told."""
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
        self._connections, self._processes = [], []


def _serve(connection: Connection, recipe: Recipe) -> None:
    """A helper's life: answer ranges until told to stop (None) or the follower is gone
    (its end of the pipe closes, also when it is killed). Ctrl-C reaches the whole
    process group; the follower ends its helpers itself."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    gc.disable()  # a short life making values without cycles: collections only cost time
    from projections.follower import Follower  # a cycle at import time otherwise

    app = recipe.app_class(env=recipe.helper_env())
    follower = Follower(app, recipe.models, helpers=0)
    try:
        while (question := _next_question(connection)) is not None:
            try:
                answer = orjson.dumps(_prepared(app.recorder, follower, *question))
            except Exception:
                log.warning("a rebuild helper could not prepare %s", question, exc_info=True)
                answer = orjson.dumps(None)
            try:
                connection.send_bytes(answer)
            except OSError:
                return  # the follower is gone
    finally:
        app.close()


def _next_question(connection: Connection) -> tuple[int, int] | None:
    try:
        question: tuple[int, int] | None = connection.recv()
    except (EOFError, OSError):
        return None
    return question


def _prepared(recorder: Any, follower: Any, after: int, upto: int) -> Prepared | None:
    notifications = recorder.select_notifications(
        after, upto - after, stop=upto, inclusive_of_start=False
    )
    events = follower.prepare(notifications)
    ready = [e for e in events if e is not None]
    if len(ready) < len(events):
        return None  # an event that does not decode: the follower meets it itself
    return [
        (n.id, (e.type, e.pupil_id, e.version, e.timestamp, e.fields, e.prepared))
        for n, e in zip(notifications, ready, strict=True)
    ]
