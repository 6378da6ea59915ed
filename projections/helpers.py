"""Helper processes for a long catch-up (a rebuild): they read and prepare the batches
ahead while this process applies the current one.

Preparing a batch (decoding every event, finding the lexicon mentions in every text)
needs no database lock and takes most of a rebuild's time. Applying it must stay in
one process, batch after batch, under the lock. So helpers take the preparing: each
reads a range of the notification log through connections of its own and sends back
the prepared events; the follower applies them in order, exactly as it applies a batch
it prepared itself (see `Follower.catch_up`).

Helpers are forked, so they run the very read models and decoder of this process,
configuration included, with nothing to pickle. Forking is safe only in a process
running one thread (a child gets a copy of every lock, also those another thread
held), so `Helpers.start` gives None in any other process, and on systems without
fork; the follower then prepares every batch itself.
"""

import contextlib
import gc
import logging
import multiprocessing
import os
import signal
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from eventsourcing.persistence import InfrastructureFactory

from projections.recorded import Recorded

log = logging.getLogger(__name__)
# (id, originator id as text, the event's fields) per notification of the range
Prepared = list[tuple[int, str, tuple[Any, ...]]]
Prepare = Callable[[Sequence[Any]], list[Recorded | None]]


@dataclass(frozen=True, slots=True)
class Position:
    """What applying needs of a notification whose event a helper decoded."""

    id: int
    originator_id: str


class HelperLost(Exception):
    """A helper ended or its pipe broke; the follower carries on without helpers."""


def default_count() -> int:
    """`DOSSIER_REBUILD_HELPERS`, else one helper per core but the one this process
    applies with."""
    configured = os.environ.get("DOSSIER_REBUILD_HELPERS", "").strip()
    if configured:
        return max(0, int(configured))
    return max(0, (os.cpu_count() or 1) - 1)


class Helpers:
    """Forked helper processes, asked in turn for the prepared events of id ranges."""

    def __init__(self, connections: list[Connection], processes: list[Any]) -> None:
        self._connections = connections
        self._processes = processes
        self._asked = 0
        self._answered = 0

    @classmethod
    def start(cls, env: Any, prepare: Prepare, count: int) -> "Helpers | None":
        """`count` helpers reading the log of the application with settings `env`;
        None where forking is not safe (see the module's docstring) or `count` is 0."""
        if count < 1 or "fork" not in multiprocessing.get_all_start_methods():
            return None
        if threading.active_count() > 1:
            return None
        context = multiprocessing.get_context("fork")
        team = cls([], [])
        try:
            for number in range(count):
                mine, theirs = context.Pipe()
                name = f"rebuild-helper-{number}"
                process = context.Process(
                    target=_serve, args=(theirs, env, prepare), name=name, daemon=True
                )
                team._connections.append(mine)
                process.start()
                theirs.close()
                team._processes.append(process)
        except OSError:  # no more processes or pipes allowed: do without
            log.warning("no rebuild helpers could be started", exc_info=True)
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
        self._answered += 1
        try:
            answer: Prepared | None = connection.recv()
        except (EOFError, OSError) as error:
            raise HelperLost(error) from error
        if answer is None:
            return None
        positions = [Position(number, pupil) for number, pupil, _ in answer]
        return positions, [Recorded(*values) for _, _, values in answer]

    def close(self) -> None:
        for connection in self._connections:
            with contextlib.suppress(OSError):  # that helper has ended already
                connection.send(None)
            connection.close()
        for process in self._processes:
            process.join(timeout=10)
            if process.is_alive():
                process.kill()


def _serve(connection: Connection, env: Any, prepare: Prepare) -> None:
    """A helper's life: answer ranges until told to stop (None) or the follower is gone.
    Ctrl-C reaches the whole process group; the follower ends its helpers itself."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    gc.disable()  # a short life making acyclic values: collections would only cost time
    recorder: Any = InfrastructureFactory.construct(env).application_recorder()
    while True:
        try:
            question = connection.recv()
        except EOFError:
            return
        if question is None:
            return
        after, upto = question
        try:
            answer = _prepared(recorder, prepare, after, upto)
        except Exception:
            log.warning("a rebuild helper could not prepare %s..%s", after, upto, exc_info=True)
            answer = None
        connection.send(answer)


def _prepared(recorder: Any, prepare: Prepare, after: int, upto: int) -> Prepared | None:
    notifications = recorder.select_notifications(
        after, upto - after, stop=upto, inclusive_of_start=False
    )
    events = prepare(notifications)
    if any(event is None for event in events):
        return None  # an event that does not decode: the follower meets it itself
    return [
        (n.id, e.pupil_id, (e.type, e.pupil_id, e.version, e.timestamp, e.fields, e.prepared))
        for n, e in zip(notifications, events, strict=True)
        if e is not None
    ]
