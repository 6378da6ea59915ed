"""A rebuild shares its work with helper processes and gives exactly what one process
gives: also when a helper dies, when an event cannot be decoded or applied, and when
another process resets the read models half-way."""

import json
import multiprocessing
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from eventsourcing.persistence import StoredEvent

from projections import helpers
from projections.pupils import Pupils
from projections.runtime import Services, open_services
from projections.timeline import Timeline
from scripts.demo import load_demo
from scripts.measure import fill
from tests.test_quarantine import (
    POISON,
    TimelineWithABug,
    new_pupil,
    open_school,
    record,
    titles,
)

TABLES = {
    "timeline_entries": "pupil_id, seq",
    "timeline_revisions": "pupil_id, seq",
    "pupils": "pupil_id",
    "pupil_enrolments": "pupil_id, entry_id",
    "pupil_coaches": "pupil_id, coach_id",
    "projection_quarantine": "name, pupil_id",
}
BATCH = 150  # small ranges, so a few thousand events make many of them


def read_models(services: Services) -> dict[str, list[tuple[Any, ...]]]:
    return {
        table: [tuple(row) for row in services.reads.query(f"SELECT * FROM {table} ORDER BY {key}")]
        for table, key in TABLES.items()
    }


def rebuilt(services: Services, helpers: int, **options: Any) -> dict[str, Any]:
    services.follower.helped_from = 1
    services.follower.rebuild(batch=BATCH, helpers=helpers, **options)
    return read_models(services)


def school_at(db: str) -> Services:
    """The demo school (corrections, retractions, completed actions) and filler pupils."""
    services = open_services(db)
    load_demo(services)
    fill(services, 2_000, seed=5)
    return services


@pytest.fixture
def school(db_url: str) -> Any:
    services = school_at(db_url)
    yield services
    services.close()


def test_a_rebuild_with_helper_processes_equals_one_without(school):
    kept = read_models(school)
    assert rebuilt(school, helpers=0) == kept
    assert school.follower.helped_events == 0

    school.follower.helped_from = 1
    applied = school.follower.rebuild(batch=BATCH, helpers=2)
    assert read_models(school) == kept
    assert school.follower.helped_by == 2
    assert school.follower.helped_events == applied  # every range applied by a helper
    assert school.follower.status()[0].lag == 0
    assert multiprocessing.active_children() == []  # the helpers have ended


def reset(services: Services) -> None:
    """What an in-place rebuild does first (on SQLite a rebuild of some of the models): the
    positions taken back to 0 and the tables emptied. In a rebuild's lock order: position
    rows, then the models' tables (else PostgreSQL finds a deadlock with a helper)."""
    with services.reads.transaction(write=True) as tx:
        tx.execute("UPDATE projection_positions SET position = 0")
        for model in services.follower.models.values():
            model.drop(tx)
            model.create(tx)


def test_a_helped_catch_up_raced_by_another_follower_gives_the_same_read_models(school, db_url):
    kept = read_models(school)
    elsewhere = open_services(db_url)

    def another_follower_catches_up(done: int, head: int) -> None:
        elsewhere.follower.catch_up()  # applies what helpers are still preparing

    try:
        reset(school)  # a helped catch-up of the read models in use, not into a new file
        school.follower.helped_from = 1
        school.follower.catch_up(batch=BATCH, helpers=1, on_progress=another_follower_catches_up)
        assert read_models(school) == kept
    finally:
        elsewhere.close()


def test_a_helped_catch_up_reset_by_another_process_half_way_is_read_again_from_the_start(
    school, db_url
):
    kept = read_models(school)
    elsewhere = open_services(db_url)
    resets: list[int] = []

    def another_rebuild_begins(done: int, head: int) -> None:
        if not resets:  # after the first range
            resets.append(done)
            reset(elsewhere)

    try:
        reset(school)
        school.follower.helped_from = 1
        school.follower.catch_up(batch=BATCH, helpers=1, on_progress=another_rebuild_begins)
        assert read_models(school) == kept
        assert resets == [BATCH]
        assert 0 < school.follower.helped_events < school.follower.head()
    finally:
        elsewhere.close()


def reopened_with(tmp_path: Path, timeline: Timeline) -> tuple[dict[str, Any], Services]:
    """A school's read models as built, and the school opened again with `timeline` in
    place of the plain one."""
    db = str(tmp_path / "school.sqlite")
    services = school_at(db)
    kept = read_models(services)
    services.close()
    return kept, open_services(db, models=[Pupils(), timeline])


class TimelineThatKillsHelpers(Timeline):
    """Stands for a helper that ends half-way (killed, out of memory)."""

    def __init__(self) -> None:
        super().__init__()
        self.home, self.calls_in_helper = os.getpid(), 0

    def _end_helper_after(self, calls: int) -> None:
        if os.getpid() != self.home:
            self.calls_in_helper += 1
            if self.calls_in_helper > calls:
                os._exit(1)


class TimelineThatKillsItsHelper(TimelineThatKillsHelpers):
    """The helper ends while preparing its fourth range."""

    def prepare(self, events: Any) -> None:
        self._end_helper_after(3)
        super().prepare(events)


class TimelineThatKillsItsHelperWhileApplying(TimelineThatKillsHelpers):
    """The helper ends in its third turn: its range's rows written, not committed. With
    a page cache of two pages SQLite writes them into the new read-model file before
    the commit, so the next writer must roll them back from the journal the helper left."""

    def flush(self, tx: Any) -> None:
        if os.getpid() != self.home and not tx.postgres:
            tx.execute("PRAGMA views.cache_size = 2")
        super().flush(tx)
        self._end_helper_after(2)  # holding the write lock, the range's rows uncommitted


def test_a_rebuild_whose_helper_dies_is_finished_without_it(tmp_path):
    kept, dying = reopened_with(tmp_path, TimelineThatKillsItsHelper())
    try:
        assert rebuilt(dying, helpers=1) == kept
        assert 0 < dying.follower.helped_events < dying.follower.head()
    finally:
        dying.close()


def test_a_helper_killed_while_applying_leaves_none_of_its_range_behind(tmp_path):
    kept, dying = reopened_with(tmp_path, TimelineThatKillsItsHelperWhileApplying())
    try:
        assert rebuilt(dying, helpers=1) == kept
        assert 0 < dying.follower.helped_events < dying.follower.head()
        assert all(s.position == dying.follower.head() for s in dying.follower.status())
        assert dying.follower.quarantined() == []
    finally:
        dying.close()


def test_helpers_running_other_code_than_their_follower_apply_nothing(tmp_path, monkeypatch):
    """The fork server imports what it preloads on its own path, which begins with the
    directory it started in: helpers that got another copy of the packages from there
    must end rather than apply ranges with it, and the rebuild goes on alone."""
    db = str(tmp_path / "school.sqlite")
    services = school_at(db)
    try:
        kept = read_models(services)
        elsewhere = {name: f"/elsewhere/{name}/__init__.py" for name in helpers._code_files()}
        monkeypatch.setattr(helpers, "_code_files", lambda: elsewhere)  # as the follower sees it

        assert rebuilt(services, helpers=2) == kept
        assert services.follower.helped_events == 0
    finally:
        services.close()


REBUILD_ELSEWHERE = """
import json, sys
from projections.runtime import open_services

if __name__ == "__main__":  # helpers import this module again
    services = open_services(sys.argv[1])
    services.follower.helped_from = 1
    services.follower.rebuild(batch=int(sys.argv[2]), helpers=1)
    print(json.dumps([services.follower.helped_events, services.follower.head()]))
    services.close()
"""


def test_a_rebuild_run_from_a_directory_holding_other_code_is_still_helped(tmp_path):
    """The helpers' fork server imports from where the rebuilding process did, not from
    its working directory (here a checkout whose packages are empty)."""
    db = str(tmp_path / "school.sqlite")
    school_at(db).close()
    checkout = tmp_path / "checkout"
    for package in ("dossier", "projections"):
        (checkout / package).mkdir(parents=True)
        (checkout / package / "__init__.py").write_text("")
    script = tmp_path / "rebuild.py"
    script.write_text(REBUILD_ELSEWHERE)
    done = subprocess.run(
        [sys.executable, str(script), db, str(BATCH)],
        cwd=checkout, capture_output=True, text=True, timeout=300, check=True,
    )  # fmt: skip
    helped, head = json.loads(done.stdout)
    assert helped == head > 0, done.stderr


class TimelineWhoseTablesCannotBeMade(Timeline):
    """Stands for a rebuild's first step failing (a full disk, a lock held too long):
    making the tables in the new file (or, in place, dropping the old ones)."""

    failing = False
    helpers_meanwhile = -1

    def create(self, tx: Any) -> None:
        self._fail()
        super().create(tx)

    def drop(self, tx: Any) -> None:
        self._fail()
        super().drop(tx)

    def _fail(self) -> None:
        if self.failing:
            self.helpers_meanwhile = len(multiprocessing.active_children())
            raise OSError("disk full")


def test_a_rebuild_whose_first_step_fails_leaves_no_helpers_and_keeps_the_read_models(tmp_path):
    timeline = TimelineWhoseTablesCannotBeMade()
    kept, stuck = reopened_with(tmp_path, timeline)
    try:
        stuck.follower.helped_from = 1
        timeline.failing = True
        with pytest.raises(OSError, match="disk full"):
            stuck.follower.rebuild(batch=BATCH, helpers=1)
        assert timeline.helpers_meanwhile == 0  # helpers start once the tables are made
        assert multiprocessing.active_children() == []
        assert read_models(stuck) == kept
        left = {p.name.split("-wal")[0].split("-shm")[0] for p in tmp_path.glob("*.views-*")}
        assert left == {"school.sqlite.views-1"}  # the new file is gone, the live one kept
    finally:
        stuck.close()


def test_an_event_no_process_can_decode_quarantines_only_its_pupil(tmp_path):
    db = str(tmp_path / "school.sqlite")
    services = open_services(db)
    try:
        fill(services, 1_000, seed=5)
        lost = uuid4()  # an event of a class this release no longer has
        services.dossiers.recorder.insert_events(
            [StoredEvent(lost, 1, "dossier.domain:Dossier.Withdrawn", b"{}")]
        )
        fill(services, 1_000, seed=6)
        kept = rebuilt(services, helpers=0)
        assert {(q.name, q.pupil_id) for q in services.follower.quarantined()} == {
            ("pupils", str(lost)),
            ("timeline", str(lost)),
        }

        assert rebuilt(services, helpers=1) == kept
        # The helper met it in its own range and quarantined the pupil itself.
        assert services.follower.helped_events == services.follower.head()
    finally:
        services.close()


def test_an_event_a_read_model_cannot_apply_quarantines_only_its_pupil(tmp_path):
    db = str(tmp_path / "school.sqlite")
    services, client, headers = open_school(db, TimelineWithABug())
    try:
        sanne, daan = new_pupil(client, headers, "Sanne"), new_pupil(client, headers, "Daan")
        for title in ("Bakkerij", POISON, "Garage"):
            record(client, headers, sanne, title)
            record(client, headers, daan, title.replace(POISON, "Kapsalon"))
        services.follower.helped_from = 1

        services.follower.rebuild(batch=3, helpers=1)

        assert services.follower.helped_events > 0
        assert [q.pupil_id for q in services.follower.quarantined()] == [sanne]
        assert titles(client, headers, daan) == ["Bakkerij", "Kapsalon", "Garage"]
        assert client.get(f"/api/v1/pupils/{sanne}/timeline", headers=headers).status_code == 503
    finally:
        services.close()


def test_a_helped_rebuild_keeps_the_write_ahead_log_short(tmp_path):
    """Helpers leave checkpoints to the follower, which lets the log start again every
    few ranges: it must not grow to hold the whole rebuild (which the checkpoints run
    beside the next range alone would let it do)."""
    db = tmp_path / "school.sqlite"
    services = school_at(str(db))
    try:
        wal_frames("TRUNCATE", db)  # an empty log to start from
        services.follower.helped_from = 1
        services.follower.rebuild(batch=40, helpers=2)  # ~60 ranges
        with sqlite3.connect(db) as connection:
            pages = connection.execute("PRAGMA page_count").fetchone()[0]
        assert wal_frames("PASSIVE", db) < pages / 4  # the last few ranges, not all
    finally:
        services.close()


def wal_frames(mode: str, db: Path) -> int:
    """Checkpoint the file's write-ahead log; how many frames (pages) it held."""
    with sqlite3.connect(db) as connection:
        return int(connection.execute(f"PRAGMA wal_checkpoint({mode})").fetchone()[1])
