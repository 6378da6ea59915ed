"""Storage behaviour on real databases: races, restarts, durability and table creation."""

import dataclasses
import random
import sqlite3
import subprocess
import sys
import textwrap
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from uuid import UUID, uuid4

import psycopg
import pytest
from eventsourcing import persistence
from eventsourcing.application import project_aggregate

from dossier.access import Actor
from projections.runtime import Services, open_services
from projections.storage import INSERT_CHUNK, library_env
from scripts.loopback import call, running_server
from scripts.workload import new_pupil

EXPERIENCE = {
    "kind": "opdracht",
    "title": "Interview met een verpleegkundige",
    "occurred_on": date(2024, 11, 5),
    "story": "Ik heb gevraagd wat ze het mooiste vindt aan haar werk.",
    "emotion": "positive",
}
PUPIL = {"name": "Yara", "sector": "mbo", "grade": 1, "school_year": "2024-2025"}


def counsellor_with_pupil(services: Services) -> tuple[Actor, UUID]:
    """A school with one counsellor, who opens one pupil's dossier."""
    services.accounts.add_school("SCH1", "School")
    actor = services.accounts.authenticate(
        services.accounts.add_user("SCH1", "counsellor", "Decaan")[1]
    )
    return actor, services.dossiers.open_dossier(actor, PUPIL).id


def test_racing_writers_lose_and_duplicate_nothing(services: Services, coach: Actor) -> None:
    pupil_id = services.dossiers.open_dossier(coach, PUPIL).id

    def write(n: int) -> int:
        title = f"Ervaring {n}"
        values = {**EXPERIENCE, "title": title}
        return services.dossiers.record_experience(coach, pupil_id, values).version

    with ThreadPoolExecutor(max_workers=8) as pool:
        versions = list(pool.map(write, range(200)))

    history = services.dossiers.history(coach, pupil_id, 0, 1000)
    titles = [e.data["title"] for e in history if e.type == "ExperienceRecorded"]
    assert sorted(titles) == sorted(f"Ervaring {n}" for n in range(200))
    assert [e.version for e in history] == list(range(1, 202))
    assert sorted(versions) == list(range(2, 202))


def test_read_model_sees_every_raced_write(services: Services, coach: Actor) -> None:
    def open_one(n: int) -> UUID:
        return services.dossiers.open_dossier(coach, {**PUPIL, "name": f"Leerling {n:03}"}).id

    with ThreadPoolExecutor(max_workers=8) as pool:
        ids = set(pool.map(open_one, range(40)))
    listed, _ = services.queries.pupils(coach, None, 100)
    assert {UUID(str(item["id"])) for item in listed} == ids


def test_data_survive_a_restart_in_another_process(db_url: str) -> None:
    writer = textwrap.dedent(
        f"""
        import datetime
        from projections.runtime import open_services
        s = open_services({db_url!r})
        s.accounts.add_school("SCH1", "School")
        _, token = s.accounts.add_user("SCH1", "coach", "Coach")
        actor = s.accounts.authenticate(token)
        pupil = s.dossiers.open_dossier(actor, {PUPIL!r})
        s.dossiers.record_experience(actor, pupil.id, {EXPERIENCE!r})
        print(token, pupil.id)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", writer], capture_output=True, text=True, check=True
    )
    token, pupil_id = done.stdout.split()
    reopened = open_services(db_url)
    try:
        actor = reopened.accounts.authenticate(token)
        history = reopened.dossiers.history(actor, UUID(pupil_id))
        assert [e.type for e in history] == ["Opened", "ExperienceRecorded"]
        assert history[1].data["story"] == EXPERIENCE["story"]
    finally:
        reopened.close()


def test_sqlite_commits_are_durable(tmp_path) -> None:
    services = open_services(str(tmp_path / "d.sqlite"))
    try:
        with services.reads.transaction() as tx:
            synchronous = tx.query("PRAGMA synchronous")[0][0]
            journal = tx.query("PRAGMA journal_mode")[0][0]
        assert synchronous == 2  # FULL
        assert journal == "wal"
    finally:
        services.close()


def test_sqlite_reads_outside_a_transaction_still_fail_with_the_librarys_errors(
    tmp_path,
) -> None:
    """The library's reads run without BEGIN (projections.storage); what goes wrong in
    one still reaches callers as the library's error, as inside a transaction."""
    db = tmp_path / "d.sqlite"
    services = open_services(str(db))
    try:
        coach = Actor(user_id="coach-1", role="coach", school="12AB")
        pupil = services.dossiers.open_dossier(coach, PUPIL).id
        assert [e.originator_version for e in services.dossiers.events.get(pupil)] == [1]
        with sqlite3.connect(db) as raw:
            raw.execute("DROP TABLE dossiers_events")
        with pytest.raises(persistence.OperationalError, match="no such table"):
            services.dossiers.recorder.select_events(pupil)
    finally:
        services.close()


def test_dossier_db_picks_the_sqlite_file(tmp_path, monkeypatch) -> None:
    path = tmp_path / "elsewhere" / "school.sqlite"
    monkeypatch.setenv("DOSSIER_DB", str(path))
    assert library_env()["SQLITE_DBNAME"] == str(path)
    open_services().close()
    assert path.exists()


@pytest.mark.postgres
def test_processes_starting_at_once_create_tables_without_racing() -> None:
    from tests.conftest import POSTGRES_URL, reset_postgres

    reset_postgres(POSTGRES_URL)
    starter = (
        f"from projections.runtime import open_services; open_services({POSTGRES_URL!r}).close()"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", starter], stderr=subprocess.PIPE) for _ in range(4)
    ]
    errors = [p.communicate()[1].decode() for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0, 0], errors


def test_a_dossier_read_from_its_snapshot_equals_one_replayed_from_every_event(
    db_url: str,
) -> None:
    """Dossiers are snapshotted every 100 events; a process that starts later reads the
    latest snapshot plus the events after it, and must get exactly the replayed state."""
    services = open_services(db_url)
    try:
        actor, pupil = counsellor_with_pupil(services)
        app = services.dossiers
        for n in range(140):
            entry = app.record_experience(actor, pupil, {**EXPERIENCE, "title": f"E{n}"}).id
            if n % 3 == 0:
                app.correct_entry(actor, pupil, entry, {"title": f"E{n} (verbeterd)"}, "typo")
            if n % 7 == 0:
                app.retract_entry(actor, pupil, entry, "dubbel")
            if n % 5 == 0:
                action = app.plan_action(
                    actor, pupil, {"description": f"Bellen {n}", "due_on": date(2025, 6, 1)}
                ).id
                app.complete_action(actor, pupil, action, "gedaan")
        version = app.get_dossier(actor, pupil).version
    finally:
        services.close()
    assert version > 200

    later = open_services(db_url)
    try:
        assert later.dossiers.snapshots is not None
        assert list(later.dossiers.snapshots.get(pupil, desc=True, limit=1))  # one was taken
        from_snapshot = later.dossiers.get_dossier(actor, pupil)
        replayed = project_aggregate(None, later.dossiers.events.get(pupil))
        assert from_snapshot.version == replayed.version == version
        assert vars(from_snapshot) == vars(replayed)
        later.dossiers.record_experience(actor, pupil, {**EXPERIENCE, "title": "Daarna"})
        assert later.dossiers.get_dossier(actor, pupil).version == version + 1
    finally:
        later.close()


def test_two_processes_writing_one_dossier_in_turn_each_build_on_the_others_writes(
    db_url: str,
) -> None:
    """Each process keeps the dossier it last saved; the other's writes since must still
    be found before its next command, or its own write would be refused or lost."""
    first, second = open_services(db_url), open_services(db_url)
    try:
        actor, pupil = counsellor_with_pupil(first)
        versions = [
            writer.dossiers.record_experience(
                actor, pupil, {**EXPERIENCE, "title": f"E{n}"}
            ).version
            for n, writer in enumerate([first, second, first, first, second, first])
        ]
        seen_by_second = second.dossiers.get_dossier(actor, pupil)
        replayed = project_aggregate(None, second.dossiers.events.get(pupil))
    finally:
        first.close()
        second.close()
    assert versions == [2, 3, 4, 5, 6, 7]
    assert vars(seen_by_second) == vars(replayed)
    assert list(seen_by_second.types.values()).count("experience") == 6


def test_a_save_larger_than_one_insert_stores_every_event_in_order_or_none(
    services: Services,
) -> None:
    """More events in one save than one insert statement takes (an imported history;
    on PostgreSQL such a save is written a chunk at a time): all are stored, in the
    order saved, and a save whose last event conflicts stores none of its events,
    though its first chunks were written before the conflict."""
    rng = random.Random(7)
    app = services.dossiers
    first = [new_pupil(rng) for _ in range(2 * INSERT_CHUNK + 1)]
    recordings = app.save(*first)
    ids = [r.notification.id for r in recordings]
    assert len(ids) == len(first) and ids == sorted(set(ids))
    stored = app.recorder.select_notifications(ids[0], len(ids) + 1)
    assert [str(n.originator_id) for n in stored] == [str(d.id) for d in first]
    assert services.follower.head() == ids[-1]
    assert [app.repository.get(d.id).version for d in first[::INSERT_CHUNK]] == [1, 1, 1]

    second = [new_pupil(rng) for _ in range(2 * INSERT_CHUNK)]
    opening = new_pupil(rng).pending_events[0]
    taken = dataclasses.replace(opening, originator_id=first[-1].id)  # stored already
    with pytest.raises(persistence.IntegrityError):
        app.save(*second, taken)
    assert services.follower.head() == ids[-1]
    assert not any(d.id in app.repository for d in second)


@pytest.mark.postgres
def test_a_save_of_seventeen_thousand_events_on_postgresql_completes() -> None:
    """One insert of ~16,700 events in psycopg's pipeline mode (the library's way) hung
    in five of seven tries; written a chunk at a time it completes. Run in a thread, so
    that a hang fails the test instead of stalling the suite."""
    from tests.conftest import POSTGRES_URL, reset_postgres

    reset_postgres(POSTGRES_URL)
    services = open_services(POSTGRES_URL)
    rng = random.Random(11)
    pupils = [new_pupil(rng) for _ in range(17_000)]
    failed: list[BaseException] = []

    def save() -> None:
        try:
            services.dossiers.save(*pupils)
        except BaseException as error:  # reported by the test, not lost in the thread
            failed.append(error)

    saving = threading.Thread(target=save, daemon=True)
    saving.start()
    saving.join(timeout=120)
    try:
        assert not saving.is_alive(), "the save still waits after two minutes"
        assert failed == []
        assert services.follower.head() == 17_000
    finally:
        # A hung insert holds the events' table lock, which would hold up every later
        # test's reset. A save is tried again after a lost connection, up to ten times:
        # its backend is ended until it gives up.
        for _ in range(20):
            if not saving.is_alive():
                break
            with psycopg.connect(POSTGRES_URL, autocommit=True) as other:
                other.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            saving.join(timeout=3)
        services.close()


def test_a_long_history_saved_at_once_is_snapshotted_at_its_last_version(
    db_url: str,
) -> None:
    """A save of many events at once (as an import makes) snapshots the dossier as it ends
    up, not at the multiple of the interval it passed."""
    services = open_services(db_url)
    try:
        actor, pupil = counsellor_with_pupil(services)
        app = services.dossiers
        dossier = app.get_dossier(actor, pupil)
        for n in range(120):
            dossier.record_experience(
                actor.as_record(), uuid4(), {**EXPERIENCE, "title": f"E{n}"}, today=date.today()
            )
        app.record(dossier)
        assert app.snapshots is not None
        latest = list(app.snapshots.get(pupil, desc=True, limit=1))
        replayed = project_aggregate(None, app.events.get(pupil))
    finally:
        services.close()
    assert [s.originator_version for s in latest] == [121] == [replayed.version]
    assert latest[0].state["types"] == replayed.types


def test_a_write_whose_snapshot_cannot_be_stored_still_succeeds_once(tmp_path) -> None:
    """The snapshot is stored after the events are committed: failing it must not report
    the committed write as failed (a client would send it again), nor, as a conflict,
    have the service make the write again."""
    db = str(tmp_path / "dossier.sqlite")
    services = open_services(db)
    try:
        actor, pupil = counsellor_with_pupil(services)
        app = services.dossiers
        raw = sqlite3.connect(db)  # SQLite reports the refusal as a constraint failing
        with raw:
            raw.execute(
                "CREATE TRIGGER refuse_snapshots BEFORE INSERT ON dossiers_snapshots "
                "BEGIN SELECT RAISE(ABORT, 'no room for snapshots'); END"
            )
        raw.close()
        versions = [
            app.record_experience(actor, pupil, {**EXPERIENCE, "title": f"E{n}"}).version
            for n in range(100)
        ]
        stored = [e.originator_version for e in app.events.get(pupil)]
    finally:
        services.close()
    assert versions == list(range(2, 102))
    assert stored == list(range(1, 102))


def test_a_process_starting_beside_a_busy_server_does_not_deadlock(db_url: str) -> None:
    """Starting creates tables if missing while the server's follower writes read models;
    on PostgreSQL both must take their locks in the same order (seen: 4 deadlocks in 60)."""
    services = open_services(db_url)
    services.accounts.add_school("SCH1", "School")
    token = services.accounts.add_user("SCH1", "counsellor", "Decaan")[1]
    actor = services.accounts.authenticate(token)
    pupils = [services.dossiers.open_dossier(actor, PUPIL).id for _ in range(4)]
    services.close()
    body = {**EXPERIENCE, "occurred_on": EXPERIENCE["occurred_on"].isoformat()}
    busy = threading.Event()

    def write(pupil: UUID) -> int:
        written = 0
        while not busy.is_set():
            status, _ = call(base, "POST", f"/api/v1/pupils/{pupil}/experiences", token, body)
            written += status == 201
        return written

    with running_server(db_url) as base, ThreadPoolExecutor(max_workers=4) as pool:
        writers = [pool.submit(write, pupil) for pupil in pupils]
        try:
            for _ in range(40):
                open_services(db_url).close()
        finally:
            busy.set()
        assert all(w.result() > 0 for w in writers)
