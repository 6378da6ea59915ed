"""Composition root: the applications and read models for one database, wired together."""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date

from dossier.accounts import Accounts
from dossier.application import Dossiers, school_today
from dossier.transfers import Transfers
from projections.access_log import AccessLog
from projections.follower import Follower, ReadModel
from projections.pupils import Pupils
from projections.queries import Queries
from projections.readstore import ReadStore
from projections.storage import library_env
from projections.timeline import Timeline

ADVISORY_LOCK_KEY = 4_242_001


@dataclass
class Services:
    dossiers: Dossiers
    accounts: Accounts
    follower: Follower
    access_log: AccessLog
    transfers: Transfers

    @property
    def reads(self) -> ReadStore:
        return self.follower.store

    @property
    def queries(self) -> Queries:
        """Read-model queries; stateless, so a new one per use costs nothing."""
        return Queries(self.follower)

    def close(self) -> None:
        self.follower.stop()
        self.dossiers.close()
        self.accounts.close()


def open_services(
    db: str | None = None,
    *,
    create_tables: bool = True,
    today: Callable[[], date] = school_today,
    background: bool = False,
    followed_elsewhere: bool = False,
    models: Sequence[ReadModel] | None = None,
    helpers: int = 0,
) -> Services:
    """Build the services on `db` (else `DOSSIER_DB`, else the embedded SQLite file).

    Tables are created only when asked: `dossier serve` creates them once, before any
    worker starts, because PostgreSQL fails when processes create tables at once.
    With `background`, read models catch up in a thread of their own after saves
    (the one-process server's mode); with `followed_elsewhere`, saves leave that to a
    follower process (`dossier projections follow`); otherwise they catch up right after
    each save, before the call returns. Reads always catch up first.
    `models` replaces the read models (the pupil list and timeline), e.g. in tests.
    `helpers`: processes that prepare and apply batches when catching up far behind; for a
    process whose job is following (`Follower.rebuild` has its own default).
    """
    env = library_env(db)
    accounts = Accounts(env=env)
    dossiers = Dossiers(env=env, today=today, is_coach=accounts.is_coach)
    chosen = models if models is not None else [Pupils(), Timeline()]
    follower = Follower(dossiers, chosen, helpers=helpers)
    if followed_elsewhere:
        dossiers.on_saved = None
    else:
        dossiers.on_saved = follower.nudge if background else follower.catch_up
    access_log = AccessLog(follower.store)
    services = Services(dossiers, accounts, follower, access_log, Transfers(dossiers, accounts))
    if create_tables:
        ensure_tables(services)
    if background:
        follower.follow_in_background()
    return services


def ensure_tables(services: Services) -> None:
    """Create every table once; on PostgreSQL under an advisory lock against racing starts."""
    datastore = services.follower.store.datastore
    if not services.follower.store.postgres:
        _create_all(services)
        return
    with datastore.get_connection() as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (ADVISORY_LOCK_KEY,))
        try:
            _create_all(services)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (ADVISORY_LOCK_KEY,))


def _create_all(services: Services) -> None:
    for app in (services.accounts, services.dossiers):
        app.recorder.create_table()
        if app.snapshots is not None:
            app.snapshots.recorder.create_table()  # type: ignore[attr-defined]
    services.follower.create_tables()
    services.access_log.create_table()
