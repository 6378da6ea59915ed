"""Keeps read models in step with the dossiers' notification log.

`catch_up()` runs right after every save, and a bounded one before every read-model
query (`catch_up_for_read`): it takes the read models' position rows as a lock (so
processes take turns), reads the notifications after the lowest position in batches,
applies each event to every read model that has not seen it, and moves the positions,
all in one transaction per batch. An event is therefore applied exactly once and in order,
also after a crash half-way, and a read that follows a write's response sees it,
whichever server process handled the write. A batch whose start lies beyond a
model's position (another process reset it for a rebuild) is not applied; the log is
read again from the positions.

A rebuild, or a catch-up far behind in a process meant for it, lets helper processes
read, prepare and apply the batches (projections.helpers): each applies its batch in
its turn, in the log's order, exactly as above, so nothing else changes.

Work a read model leaves for later (the timeline's audit facts, which fold a pupil's
whole career) is done once the log is applied and nothing new arrives, or a round every
`REFRESH_EVERY` seconds under a steady stream of writes (`refresh_while_idle`): worked
out in a read transaction, kept in a short write one.

Polling the log is the design on SQLite (the library cannot subscribe there) and
works unchanged on PostgreSQL, where the table lock on writes keeps ids in commit order.

An event that a read model cannot apply (a bug in it, or data it does not expect)
must not stop every read of every pupil. When a batch fails for any reason but the
database itself, it is applied again event by event; the pupil whose event fails is
quarantined for that read model: its later events are skipped there, its views answer
"unavailable" (its events stay safe in the store), and everybody else carries on.
`dossier projections status` lists quarantined pupils; after the fix, a rebuild of
the read model brings them back.
"""

import contextlib
import functools
import gc
import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

from eventsourcing.application import Application
from eventsourcing.sqlite import SQLiteApplicationRecorder

from projections.cores import usable_cores
from projections.errors import is_infrastructure
from projections.helpers import (
    Helpers,
    Recipe,
    default_count,
    launch_fork_server,
    stop_fork_server,
)
from projections.readstore import ReadStore, Tx
from projections.recorded import Recorded, decoder

BATCH = 500  # notifications per transaction while following the log
# A rebuild holds the lock anyway: bigger batches mean fewer commits and checkpoints, fewer
# copies of the same index pages in the write-ahead log, and fewer lookups of entries
# applied in an earlier range. In alternated 1M rebuilds (twelfth session) 20,000 took
# 12.9-13.4 s where 10,000 took 13.2-14.2 and 5,000 14.3-14.5; 40,000 no faster again.
# A range holds the lock ~0.2 s, and a helper holds ~220 MB at its peak (~155 at 10,000).
REBUILD_BATCH = 20_000
# A catch-up at least this far behind is shared with helper processes, where the follower
# has any (projections.helpers): the first start of their fork server takes about a second.
HELPED_FROM = 100_000
# In a helped catch-up on SQLite, every this many ranges the write-ahead log is
# checkpointed with no helper writing, so that it starts again from its beginning.
WAL_RESTART_TURNS = 4
# The most a read applies itself before it answers: events (~0.25 s of work on the
# project's machine) and seconds (beside a rebuild each batch first waits for its lock).
# More waiting means a rebuild runs or the follower is far behind; the read is then told
# to come back instead of applying (part of) the whole log in a request.
READ_CATCH_UP_MOST = 5_000
READ_CATCH_UP_SECONDS = 1.0
FOLLOW_DELAY = 0.05  # seconds
REFRESH_CHUNK = 20  # pupils whose derived facts are worked out again per transaction
REFRESH_EVERY = 30.0  # seconds: how long a busy follower leaves derived facts waiting
MAX_FOLLOW_PAUSE = 60.0  # seconds, after failures in a row
log = logging.getLogger(__name__)
Progress = Callable[[int, int], None]


@contextmanager
def gc_paused() -> Iterator[None]:
    """Cyclic garbage collection paused for a long catch-up. It makes millions of values
    without cycles, which reference counting frees at once, while each collection also
    walked the process's long-lived objects (the lemma caches): a tenth of a rebuild."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class ReadModel(Protocol):
    name: str
    version: str  # change it when the tables or what is computed into them change

    def create(self, tx: Tx) -> None:
        """Create the tables, and the indexes that applying events needs."""

    def index(self, tx: Tx) -> None:
        """Create the indexes only reads need: after `create`, or once a replay into a
        fresh file has filled the tables (see `Follower.rebuild`)."""

    def drop(self, tx: Tx) -> None: ...

    def prepare(self, events: Sequence[Recorded]) -> None:
        """Work on a batch that needs no database, done before the write lock is taken."""

    def apply(self, tx: Tx, event: Recorded, position: int) -> None: ...

    def flush(self, tx: Tx) -> None:
        """Write what `apply` gathered for this batch (before the positions move)."""

    def work_out(self, tx: Tx, limit: int) -> list[Any]:
        """Work left until the log is applied (the timeline's audit facts), at most `limit`
        pupils of it, done in a read transaction without the write lock."""

    def keep(self, tx: Tx, worked: list[Any]) -> int:
        """Write what `work_out` did and is still current; returns how many pupils."""

    def waiting(self, tx: Tx) -> int:
        """How many pupils' work is left for later."""


@dataclass(frozen=True)
class Status:
    name: str
    position: int
    head: int
    quarantined: int = 0
    waiting: int = 0  # pupils whose derived facts wait for a refresh (ReadModel.work_out)

    @property
    def lag(self) -> int:
        return self.head - self.position


@dataclass(frozen=True)
class Quarantine:
    """A pupil whose events a read model stopped applying at `position`, and why."""

    name: str
    pupil_id: str
    position: int
    error: str


class PositionsMoved(Exception):
    """A batch starts beyond where a read model stands: another process reset it (a
    rebuild) after the batch was read. The log is read again from the positions as they
    are. (A batch another process applied already is harmless: each model skips the
    events it has.)"""


class Follower:
    def __init__(
        self,
        app: Application[Any],
        models: Sequence[ReadModel],
        *,
        helpers: int = 0,
        helped_from: int = HELPED_FROM,
    ) -> None:
        """`helpers`: processes that prepare and apply batches in a catch-up at least
        `helped_from` notifications behind (`rebuild` has its own default). Only a process
        meant for long catch-ups has them (the follower process, serve's first catch-up):
        server workers would each start their own."""
        self.app = app
        self.models = {model.name: model for model in models}
        self.helpers = helpers
        self.helped_from = helped_from
        self.read_most = READ_CATCH_UP_MOST
        self.helped_by = 0  # helper processes of the last long catch-up or rebuild
        self.helped_events = 0  # of which events they applied
        self.store = ReadStore(app)
        self.decode = decoder(app)
        self._nudged = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._refresh_paused_until = 0.0
        self._refreshed_at = 0.0

    def follow_in_background(self) -> None:
        """Catch up in a thread of its own whenever nudged, so a write's answer need not
        wait for the read models. Reads still catch up first, so they miss nothing."""
        self._thread = threading.Thread(
            target=self._follow, name="read-model-follower", daemon=True
        )
        self._thread.start()
        self.nudge()  # once at start: work may be left from before

    def nudge(self) -> None:
        self._nudged.set()

    def stop(self) -> None:
        """End the background thread, if any, before the connections close under it."""
        self._stopping.set()
        self._nudged.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def _follow(self) -> None:
        """Gather the saves of a short while into one catch-up: on SQLite each commit
        waits for the disk, and the writers share one lock with this thread. It also
        wakes every `REFRESH_EVERY` seconds unnudged, for work left for later that no
        write of this process announced (after an upgrade's rebuild, another process's
        import)."""
        while not self._stopping.is_set():
            self._nudged.wait(REFRESH_EVERY)
            if self._stopping.wait(FOLLOW_DELAY):
                break
            self._nudged.clear()
            try:
                idle = self.catch_up() == 0
            except Exception:
                log.exception("read models could not catch up; the next read or write retries")
                continue
            self._refresh_after(idle)

    def follow(self, keep_going: Callable[[], bool], poll: float = FOLLOW_DELAY) -> None:
        """Catch up every `poll` seconds while `keep_going()`: the loop of a follower
        process of its own (`dossier projections follow`), for server processes that leave
        following to it. The pause gathers the writes of a while into one transaction (the
        writers share SQLite's one write lock with it). A failure is logged and retried,
        waiting longer after each failure in a row (up to a minute), so a lasting one
        (a full disk) does not fill the log."""
        failures = 0
        while keep_going():
            try:
                idle = self.catch_up() == 0
                failures = 0
            except Exception:
                idle, failures = False, failures + 1
                log.exception("read models could not catch up (failure %d in a row)", failures)
            if failures == 0:
                self._refresh_after(idle)
            time.sleep(min(poll * 2**failures, MAX_FOLLOW_PAUSE))

    def _refresh_after(self, idle: bool) -> None:
        """After a catch-up: refresh while idle; under a steady stream of writes, which
        leaves no idle moment, one round every `REFRESH_EVERY` seconds all the same."""
        if idle or time.monotonic() - self._refreshed_at >= REFRESH_EVERY:
            self.refresh_while_idle(rounds=None if idle else 1)

    def refresh(self, limit: int = REFRESH_CHUNK) -> int:
        """One round of the models' work left for later (`ReadModel.work_out`); returns
        how many pupils it kept."""
        return self._refresh_round(limit)[1]

    def _refresh_round(self, limit: int) -> tuple[int, int]:
        """Work out in a read transaction, keep in a short write one under the position
        lock, so that no batch is applied meanwhile. Returns (worked out, kept). Nothing
        is kept when a rebuild swapped another read-model file in between (SQLite): what
        was worked out came from the rows of the one it replaced."""
        self._refreshed_at = time.monotonic()
        with self.store.transaction() as tx:
            worked = {name: model.work_out(tx, limit) for name, model in self.models.items()}
            source = tx.generation
        count = sum(len(found) for found in worked.values())
        if count == 0:
            return 0, 0
        with self.store.transaction(write=True, durable=False) as tx:
            self._lock(tx)
            if tx.generation != source:
                return count, 0
            return count, sum(model.keep(tx, worked[name]) for name, model in self.models.items())

    def refresh_all(self, on_progress: Progress | None = None) -> int:
        """All the work left for later, `REFRESH_CHUNK` pupils a round (after a rebuild:
        every pupil). Returns how many pupils it kept. A round that kept none (another
        process refreshed the same pupils, or they changed meanwhile) does not end it."""
        kept = 0
        while True:
            worked, done = self._refresh_round(REFRESH_CHUNK)
            if worked == 0:
                return kept
            kept += done
            if on_progress:
                on_progress(kept, kept)

    def refresh_while_idle(self, rounds: int | None = None) -> int:
        """Work left for later, a round at a time (at most `rounds`), until none is left
        or new events arrive (catching up comes first). A failure is logged and
        refreshing pauses for a while; reads fold what is not refreshed, so they stay
        complete. Returns how many pupils it kept."""
        done = 0
        try:
            if time.monotonic() < self._refresh_paused_until:
                return done
            head = self.head()
            while (rounds is None or rounds > 0) and not self._nudged.is_set():
                worked, kept = self._refresh_round(REFRESH_CHUNK)
                if worked == 0:
                    break
                done += kept
                rounds = None if rounds is None else rounds - 1
                if self.head() != head:
                    break  # new events: catching up comes first
        except Exception:
            self._refresh_paused_until = time.monotonic() + MAX_FOLLOW_PAUSE
            log.exception("derived facts could not be refreshed; reads fold them meanwhile")
        return done

    def create_tables(self, indexed: bool = True) -> None:
        """Create the read models' tables (`indexed`: with the indexes only reads need); one
        whose `version` changed is rebuilt from the log (dropped here, refilled by the next
        catch-up), so an upgrade needs no manual step."""
        self.store.create_pointer()
        self.store.remove_stale()  # what a rebuild killed half-way left
        with self.store.transaction(write=True) as tx:
            self._move_out_of_events_file(tx)
            tx.execute(
                f"CREATE TABLE IF NOT EXISTS {tx.view('projection_positions')} "
                "(name TEXT PRIMARY KEY, position BIGINT NOT NULL, version TEXT NOT NULL)"
            )
            tx.execute(
                f"CREATE TABLE IF NOT EXISTS {tx.view('projection_quarantine')} "
                "(name TEXT NOT NULL, pupil_id TEXT NOT NULL, position BIGINT NOT NULL, "
                "error TEXT NOT NULL, "
                "PRIMARY KEY (pupil_id, name))"
            )
            # The follower's lock order: position rows first, then the models' tables. A
            # process starting beside a running one otherwise deadlocks on PostgreSQL (its
            # CREATE INDEX IF NOT EXISTS locks a table the other's catch-up is writing).
            self._lock(tx)
            head = self._head_in(tx)  # no one appends or applies while the lock is held
            for model in self.models.values():
                rows = tx.query(
                    "SELECT version, position FROM projection_positions WHERE name = ?",
                    (model.name,),
                )
                ahead = bool(rows) and rows[0]["position"] > head
                if ahead:
                    log.warning("read model %s is ahead of the event log (restored from a "
                                "backup?): it is built again", model.name)  # fmt: skip
                if ahead or (rows and rows[0]["version"] != model.version):
                    with tx.dropping_derived_rows():
                        model.drop(tx)
                    tx.execute(
                        "UPDATE projection_positions SET position = 0, version = ? WHERE name = ?",
                        (model.version, model.name),
                    )
                    tx.execute("DELETE FROM projection_quarantine WHERE name = ?", (model.name,))
                model.create(tx)
                if indexed:
                    model.index(tx)
                tx.execute(
                    "INSERT INTO projection_positions (name, position, version) VALUES (?, 0, ?) "
                    "ON CONFLICT (name) DO NOTHING",
                    (model.name, model.version),
                )

    def _move_out_of_events_file(self, tx: Tx) -> None:
        """SQLite, once: a store of before the read models' own file has their tables in
        the events' file, where they would hide the new ones. They are dropped there;
        the first catch-up fills the new file from the log."""
        if tx.postgres or not tx.query(
            "SELECT 1 FROM main.sqlite_master WHERE name = 'projection_positions'"
        ):
            return
        log.info("moving the read models out of the events' file: they are built again")
        in_events_file = Tx(tx.cursor, postgres=False, schema="main")
        with in_events_file.dropping_derived_rows():
            for model in self.models.values():
                model.drop(in_events_file)
            for table in ("projection_positions", "projection_quarantine"):
                tx.execute(f"DROP TABLE IF EXISTS main.{table}")

    def _head_in(self, tx: Tx) -> int:
        """The log's head, read in `tx` on SQLite (whose write lock it holds: no second
        connection is asked for meanwhile), else as `head` reads it."""
        recorder: Any = self.app.recorder
        if not isinstance(recorder, SQLiteApplicationRecorder):
            return self.head()
        rows = tx.query(f"SELECT MAX(rowid) AS head FROM main.{recorder.events_table_name}")
        return int(rows[0]["head"] or 0)

    def head(self) -> int:
        return self.app.recorder.max_notification_id() or 0  # type: ignore[attr-defined]

    def status(self) -> list[Status]:
        head = self.head()
        with self.store.transaction() as tx:
            rows = tx.query(
                "SELECT name, position, (SELECT COUNT(*) FROM projection_quarantine q "
                "WHERE q.name = p.name) AS quarantined FROM projection_positions p ORDER BY name"
            )
            return [
                Status(r["name"], r["position"], head, r["quarantined"], model.waiting(tx))
                for r in rows
                if (model := self.models.get(r["name"])) is not None
            ]

    def quarantined(self) -> list[Quarantine]:
        """The pupils some read model stopped applying, oldest first."""
        rows = self.store.query("SELECT * FROM projection_quarantine ORDER BY position")
        return [Quarantine(r["name"], r["pupil_id"], r["position"], r["error"]) for r in rows]

    def catch_up(
        self, on_progress: Progress | None = None, batch: int = BATCH, helpers: int | None = None
    ) -> int:
        """Apply every new event; returns how many notifications were applied. `helpers`
        replaces the follower's own number of helper processes for this catch-up.

        This runs on every read and after every save, so when nothing is new it costs
        two small queries: the log's head and the lowest position.
        """
        return self._catch_up(self.helpers if helpers is None else helpers, on_progress, batch)

    def catch_up_for_read(self) -> int:
        """Catch up before a read, applying at most `read_most` notifications or for
        `READ_CATCH_UP_SECONDS`; returns how many of those present at the start are still
        waiting (0: the read sees every write answered before it). Each such read moves
        the models on, so they get there even with no follower running."""
        head = self.head()
        if self._lowest_position() >= head:
            return 0  # the usual case: two small queries
        most = max(1, self.read_most)
        until = time.monotonic() + READ_CATCH_UP_SECONDS
        self._catch_up_alone(head, min(BATCH, most), None, most=most, until=until)
        return max(0, head - self._lowest_position())

    def _catch_up(
        self, helpers: int, on_progress: Progress | None, batch: int, team: Helpers | None = None
    ) -> int:
        """`team`: helpers started already (a rebuild starts them once it has dropped the
        tables, having launched their fork server before, so that its start-up overlaps
        the drop)."""
        self.helped_by = self.helped_events = 0
        head = self.head()
        if team is None and (helpers < 1 or head - self._lowest_position() < self.helped_from):
            return self._catch_up_alone(head, batch, on_progress)
        with gc_paused():
            team = team or self._start_helpers(helpers)
            helped = self._catch_up_helped(head, batch, on_progress, team) if team else 0
            return self._catch_up_alone(head, batch, on_progress, helped)

    def _start_helpers(self, count: int) -> Helpers | None:
        recipe = Recipe(
            type(self.app),
            dict(self.app.env),
            list(self.models.values()),
            views=self.store.building_generation,
        )
        return Helpers.start(recipe, count)

    def _catch_up_alone(
        self,
        head: int,
        batch: int,
        on_progress: Progress | None,
        applied: int = 0,
        most: int | None = None,
        until: float | None = None,
    ) -> int:
        """Read, prepare and apply batch after batch in this process, up to `head` (or
        until it applied `most`, or `until` on the monotonic clock); returns `applied`
        plus how many notifications it applied."""
        while (start := self._lowest_position()) < head:
            if most is not None and applied >= most:
                break
            if until is not None and time.monotonic() >= until:
                break
            try:
                count = self._apply_batch(start, batch)
            except PositionsMoved:
                continue
            if count == 0:
                break
            applied += count
            if on_progress:
                on_progress(applied, head)
        return applied

    def _catch_up_helped(
        self, head: int, batch: int, on_progress: Progress | None, team: Helpers
    ) -> int:
        """Let the helper processes apply the log up to `head`, in id ranges of `batch`
        that each prepares ahead and applies in its turn, and end them. Returns how many
        notifications they applied; the caller finishes whatever is left: after a range a
        helper could not apply, or when another process moved the positions."""
        self.helped_by, applied = team.count, 0
        try:
            start = self._lowest_position()
            ranges = [(after, min(after + batch, head)) for after in range(start, head, batch)]
            for after, upto in ranges[: team.count]:  # one range each to prepare
                team.ask(after, upto)
            team.go()
            for number in range(len(ranges)):
                count = team.applied()
                if count is None:
                    break  # the plain loop takes it from here
                if number + team.count < len(ranges):
                    team.ask(*ranges[number + team.count])
                applied += count
                self.helped_events = applied
                # A new read-model file (a rebuild on SQLite) has no log to start again.
                in_log = self.store.building_generation is None
                restart = in_log and (number + 1) % WAL_RESTART_TURNS == 0
                self._next_turn(team, more=number + 1 < len(ranges), restart=restart)
                if on_progress:
                    on_progress(applied, head)
        except Exception as error:  # a helper lost, a read model's bug
            if is_infrastructure(error):
                raise
            log.warning("a helped catch-up stopped; the rest is applied without helpers",
                        exc_info=True)  # fmt: skip
        finally:
            team.close()
        return applied

    def _next_turn(self, team: Helpers, more: bool, restart: bool) -> None:
        """Checkpoint SQLite's write-ahead log after a range; let the next range's helper
        apply it. Usually the checkpoint runs while the next range is applied, copying
        what the ranges before wrote. But SQLite starts the log from its beginning again
        only when a checkpoint has copied all of it before the next write begins, so every
        WAL_RESTART_TURNS ranges it runs between the turns, with no one writing, and the
        log never holds more than those ranges (see ReadStore.checkpoint)."""
        if not more or restart:
            self.store.checkpoint()
            if more:
                team.go()
        else:
            team.go()
            self.store.checkpoint()

    def _lowest_position(self) -> int:
        names = list(self.models)
        marks = ", ".join("?" * len(names))
        rows = self.store.query(
            f"SELECT MIN(position) AS low FROM projection_positions WHERE name IN ({marks})",
            names,
        )
        return int(rows[0]["low"] or 0)

    def rebuild(
        self,
        names: Sequence[str] = (),
        on_progress: Progress | None = None,
        batch: int = REBUILD_BATCH,
        helpers: int | None = None,
    ) -> int:
        """Throw read models away and replay the whole log into them, `batch`
        notifications per transaction, with `helpers` processes preparing and applying them
        when the log is long (default: one per core and one more; see projections.helpers)."""
        chosen = [self.models[n] for n in names] if names else list(self.models.values())
        count = default_count() if helpers is None else helpers
        helped = bool(count) and self.head() >= self.helped_from
        if not self.store.postgres and len(chosen) == len(self.models):
            # A fresh file, swapped in when complete, that no one reads before: the indexes
            # only reads need are made once it is filled. Kept up row by row instead, the
            # timeline's index of a log with every pupil's history interleaved cost a
            # rebuild about a fifth of its time (docs/performance.md).
            with self.store.building():
                unindexed = functools.partial(self.create_tables, indexed=False)
                applied = self._replay(unindexed, count if helped else 0, on_progress, batch)
                # A helper thread for SQLite's sorter: 0.8 s instead of 1.0-1.7 for the
                # timeline's index of 1M events on two cores.
                with self.store.building_file(threads=usable_cores() - 1) as tx:
                    for model in self.models.values():
                        model.index(tx)
                return applied

        def reset() -> None:
            with self.store.transaction(write=True) as tx:
                self._lock(tx)
                for model in chosen:
                    with tx.dropping_derived_rows():
                        model.drop(tx)
                    model.create(tx)
                    model.index(tx)
                    tx.execute(
                        "UPDATE projection_positions SET position = 0 WHERE name = ?",
                        (model.name,),
                    )
                    tx.execute("DELETE FROM projection_quarantine WHERE name = ?", (model.name,))

        return self._replay(reset, count if helped else 0, on_progress, batch)

    def _replay(
        self,
        make_tables: Callable[[], None],
        helpers: int,
        on_progress: Progress | None,
        batch: int,
    ) -> int:
        """Replay the whole log into the empty tables `make_tables` makes (on SQLite in a
        new read-model file, see projections.viewfiles; else dropping the old ones), with
        `helpers` processes. Their fork server is launched first, so that it loads what
        they need meanwhile, and they start once the tables exist; when none could start,
        the replay runs alone rather than try again."""
        with contextlib.ExitStack() as ending:
            if helpers:
                launch_fork_server()
                ending.callback(stop_fork_server)  # also when making the tables fails
            make_tables()
            team = self._start_helpers(helpers) if helpers else None
            if team is not None:
                ending.callback(team.close)
            return self._catch_up(0, on_progress, batch, team)

    def read_log(self, after: int, limit: int, upto: int | None = None) -> Sequence[Any]:
        """The log's notifications `after` < id (<= `upto`), at most `limit`: on SQLite as
        plain rows (`ReadStore.read_log`), else the library's notifications."""
        recorder: Any = self.app.recorder
        if isinstance(recorder, SQLiteApplicationRecorder):
            return self.store.read_log(recorder.events_table_name, after, limit, upto)
        return list(
            recorder.select_notifications(after, limit, stop=upto, inclusive_of_start=False)
        )

    def _lock(self, tx: Tx) -> dict[str, int]:
        """Take the position rows (first statement: SQLite's write lock, PostgreSQL's row locks)."""
        tx.execute("UPDATE projection_positions SET position = position")
        rows = tx.query("SELECT name, position FROM projection_positions")
        return {r["name"]: r["position"] for r in rows if r["name"] in self.models}

    def _apply_batch(self, start: int, size: int) -> int:
        """Read a batch first, then apply it under the lock to the models still behind.

        Reading before taking the lock keeps the lock short and never asks the
        connection pool for a reader while holding its one writer. When applying fails
        for another reason than the database, the batch is applied again event by event.
        """
        notifications = self.read_log(start, size)
        if not notifications:
            return 0
        self.apply_prepared(notifications, self.prepare(notifications), start)
        return len(notifications)

    def apply_prepared(
        self,
        notifications: Sequence[Any],
        events: Sequence[Recorded | None],
        after: int,
        upto: int | None = None,
    ) -> None:
        """Apply a prepared batch (see `_apply`); when that fails for another reason than
        the database, apply it again event by event, quarantining a failing pupil."""
        try:
            self._apply(notifications, events, one_by_one=False, after=after, upto=upto)
        except Exception as error:
            if is_infrastructure(error) or isinstance(error, PositionsMoved):
                raise
            log.exception("a batch of events failed to apply; applying it event by event")
            self._apply(notifications, events, one_by_one=True, after=after, upto=upto)

    def prepare(self, notifications: Sequence[Any]) -> list[Recorded | None]:
        """Decode the batch and let the models do what needs no database, before the write
        lock is taken, so writers wait less. A failure here is met again under the lock,
        event by event, where it quarantines the pupil; so here it is only logged."""
        events: list[Recorded | None] = []
        for notification in notifications:
            try:
                events.append(self.decode(notification))
            except Exception:
                events.append(None)
        ready = [e for e in events if e is not None]
        for model in self.models.values():
            try:
                model.prepare(ready)
            except Exception:
                log.warning("read model %s could not prepare a batch", model.name, exc_info=True)
        return events

    def _apply(
        self,
        notifications: Sequence[Any],
        events: Sequence[Recorded | None],
        one_by_one: bool,
        after: int,
        upto: int | None = None,
    ) -> None:
        """Apply the batch of the notifications `after` < id, refused when a position lies
        below `after`. With `upto` (a helped range: every id up to it is known to be
        committed), the positions move to it, also past a gap."""
        # Read models can be derived again from the log, so their commits need not wait
        # for the disk (the events' commits do): see ReadStore.transaction.
        with self.store.transaction(write=True, durable=False) as tx:
            positions = self._lock(tx)
            if min(positions.values(), default=after) < after:
                raise PositionsMoved(after)
            barred = self._barred(tx)
            first = notifications[0].id if notifications else after
            if not (one_by_one or barred) and max(positions.values(), default=0) < first:
                self._apply_to_all(tx, notifications, events)  # the usual case
            else:
                self._apply_each(tx, notifications, events, one_by_one, positions, barred)
            for model in self.models.values():
                model.flush(tx)
            last = upto if upto is not None else notifications[-1].id
            tx.execute(
                "UPDATE projection_positions SET position = ? WHERE position < ?", (last, last)
            )

    def _apply_each(
        self,
        tx: Tx,
        notifications: Sequence[Any],
        events: Sequence[Recorded | None],
        one_by_one: bool,
        positions: dict[str, int],
        barred: set[tuple[str, str]],
    ) -> None:
        """Apply each event to the models behind it that have not quarantined its pupil."""
        for notification, decoded in zip(notifications, events, strict=True):
            pupil = decoded.pupil_id if decoded else str(notification.originator_id)
            behind = [
                m
                for n, m in self.models.items()
                if positions[n] < notification.id and (n, pupil) not in barred
            ]
            if not behind:
                continue
            if one_by_one:
                self._apply_alone(tx, notification, decoded, behind, barred)
                continue
            event = decoded or self.decode(notification)
            for model in behind:
                model.apply(tx, event, notification.id)

    def _apply_to_all(
        self, tx: Tx, notifications: Sequence[Any], events: Sequence[Recorded | None]
    ) -> None:
        """Apply every event to every model, where all are behind the whole batch and no
        pupil is quarantined (a rebuild, a follower's usual batch): no list of the models
        behind is built per event."""
        models = list(self.models.values())
        for notification, decoded in zip(notifications, events, strict=True):
            event = decoded or self.decode(notification)
            for model in models:
                model.apply(tx, event, notification.id)

    @staticmethod
    def _barred(tx: Tx) -> set[tuple[str, str]]:
        return {(r["name"], r["pupil_id"]) for r in tx.query("SELECT * FROM projection_quarantine")}

    def _apply_alone(
        self,
        tx: Tx,
        notification: Any,
        decoded: Recorded | None,
        models: list[ReadModel],
        barred: set[tuple[str, str]],
    ) -> None:
        """Apply one event to each model inside a savepoint; quarantine the pupil for a
        model that fails, undoing only that model's part of this event. An event that did
        not decode before is decoded here, so that its failure quarantines too."""
        pupil = str(notification.originator_id)
        for model in models:
            tx.execute("SAVEPOINT one_event")
            try:
                model.apply(tx, decoded or self.decode(notification), notification.id)
                model.flush(tx)
            except Exception as error:
                if is_infrastructure(error):
                    raise
                tx.execute("ROLLBACK TO SAVEPOINT one_event")
                tx.batch.pop(model.name, None)
                reason = f"{type(error).__name__}: {error}"[:500]
                log.error("read model %s quarantines pupil %s at event %s: %s",
                          model.name, pupil, notification.id, reason)  # fmt: skip
                tx.execute(
                    "INSERT INTO projection_quarantine (name, pupil_id, position, error) "
                    "VALUES (?, ?, ?, ?)",
                    (model.name, pupil, notification.id, reason),
                )
                barred.add((model.name, pupil))
            tx.execute("RELEASE SAVEPOINT one_event")
