"""On SQLite the read models live in a file of their own: a rebuild writes a fresh one
and swaps it in when complete (projections.viewfiles)."""

import fcntl
import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from projections.pupils import Pupils
from projections.readstore import Tx, ViewsOutrun
from projections.runtime import Services, open_services
from projections.timeline import Timeline
from scripts.measure import fill
from tests.test_projections import small_dossier


def files(tmp_path: Path) -> set[str]:
    """The read-model files beside the events' file, without SQLite's own companions."""
    return {
        p.name for p in tmp_path.glob("d.sqlite.views-*") if p.name[-4:] not in ("-wal", "-shm")
    }


def school(tmp_path: Path) -> Services:
    services = open_services(str(tmp_path / "d.sqlite"))
    fill(services, 600, seed=3)
    return services


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Services]:
    """A school of 600 events on SQLite: this module's own, in place of the conftest's
    `services`, which runs on PostgreSQL too, where there are no read-model files."""
    opened = school(tmp_path)
    yield opened
    opened.close()


@pytest.fixture
def server(services: Services, tmp_path: Path) -> Iterator[Services]:
    """The same store opened again: another process, say."""
    opened = open_services(str(tmp_path / "d.sqlite"))
    yield opened
    opened.close()


def pupils(services: Services) -> list[tuple[str, int]]:
    rows = services.reads.query("SELECT pupil_id, version FROM pupils ORDER BY pupil_id")
    return [(r["pupil_id"], r["version"]) for r in rows]


def test_reads_during_a_rebuild_see_the_read_models_as_they_were(services, server):
    before = pupils(server)
    seen: list[list[tuple[str, int]]] = []
    services.follower.rebuild(
        batch=100, helpers=0, on_progress=lambda done, head: seen.append(pupils(server))
    )
    assert len(seen) > 3
    assert all(read == before for read in seen)  # never a half-built file
    assert pupils(server) == pupils(services) == before


def test_a_rebuild_that_fails_half_way_keeps_the_read_models_and_leaves_no_file(services, tmp_path):
    before = pupils(services)

    def interrupted(done: int, head: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        services.follower.rebuild(batch=100, helpers=0, on_progress=interrupted)
    assert pupils(services) == before
    assert files(tmp_path) == {"d.sqlite.views-1"}
    assert services.follower.status()[0].lag == 0


def test_another_process_reads_the_rebuilt_file_once_it_is_live(services, server, tmp_path):
    assert pupils(server) == pupils(services)  # the first file is attached there
    services.follower.rebuild(helpers=0)
    assert files(tmp_path) == {"d.sqlite.views-2"}  # the first one is deleted

    fill(services, 60, seed=4)  # applied to the new file only
    assert pupils(server) == pupils(services)
    assert len(pupils(server)) == len(pupils(services))


def schema(services: Services) -> list[tuple[str, str, str]]:
    """The read-model file's tables and indexes, as SQLite keeps their definitions."""
    rows = services.reads.query("SELECT type, name, sql FROM views.sqlite_master ORDER BY name")
    return [(r["type"], r["name"], r["sql"]) for r in rows]


def test_a_rebuilt_file_has_every_index_of_a_file_made_new(services, tmp_path):
    """A rebuild makes the indexes only reads need once its file is filled."""
    made_new = schema(services)
    services.follower.helped_from = 1  # a helper process applies the ranges, as at 100k
    services.follower.rebuild(batch=100, helpers=1)
    assert services.follower.helped_by == 1
    assert files(tmp_path) == {"d.sqlite.views-2"}
    assert schema(services) == made_new
    assert any(name == "timeline_entries_by_pupil" for _, name, _ in made_new)


class Abandoned(Exception):
    """Ends a rebuild's file unused: it is deleted, the live one kept."""


def test_making_a_rebuilt_files_indexes_leaves_the_events_file_to_appends(services, tmp_path):
    """An index of millions of rows takes seconds to make: appends must not wait for it,
    as they would for a transaction of a connection with both files attached."""
    events = sqlite3.connect(tmp_path / "d.sqlite", timeout=0, isolation_level=None)
    with pytest.raises(Abandoned), services.reads.building():
        with services.reads.building_file() as tx:
            tx.execute(f"CREATE TABLE {tx.view('made_here')} (x)")
            events.execute("BEGIN IMMEDIATE")  # "database is locked" at once if it waits
            events.execute("ROLLBACK")
        raise Abandoned
    events.close()
    assert files(tmp_path) == {"d.sqlite.views-1"}


def test_files_of_older_generations_are_deleted_unless_a_rebuild_is_building_them(
    services, tmp_path
):
    services.follower.rebuild(helpers=0)  # generation 2 live
    (tmp_path / "d.sqlite.views-1").write_bytes(b"")  # left by a rebuild that crashed
    (tmp_path / "d.sqlite.views-1.building").write_bytes(b"")
    (tmp_path / "d.sqlite.views-0").write_bytes(b"")  # one that another rebuild builds
    with open(tmp_path / "d.sqlite.views-0.building", "w") as marker:
        fcntl.flock(marker, fcntl.LOCK_EX)
        services.follower.rebuild(helpers=0)
    assert files(tmp_path) == {"d.sqlite.views-0", "d.sqlite.views-0.building",
                               "d.sqlite.views-3"}  # fmt: skip


def test_a_store_with_its_read_models_in_the_events_file_moves_them_out_at_start(tmp_path):
    db = tmp_path / "d.sqlite"
    services = open_services(str(db))
    actor, pupil, _ = small_dossier(services)
    shown = services.queries.timeline(actor, str(pupil), {"limit": 50})
    with services.reads.transaction(write=True) as tx:  # as an earlier release left them
        in_events_file = Tx(tx.cursor, postgres=False, schema="main")
        for model in services.follower.models.values():
            model.create(in_events_file)
        tx.execute("CREATE TABLE main.projection_positions AS SELECT * FROM projection_positions")
        tx.execute("INSERT INTO main.pupils SELECT * FROM views.pupils")
    services.close()
    for leftover in tmp_path.glob("d.sqlite.views-*"):
        leftover.unlink()

    again = open_services(str(db))
    try:
        assert again.queries.timeline(actor, str(pupil), {"limit": 50}) == shown
        with sqlite3.connect(db) as events_file:
            tables = {r[0] for r in events_file.execute("SELECT name FROM sqlite_master")}
        assert not tables & {"pupils", "timeline_entries", "projection_positions"}
        assert "projection_files" in tables
    finally:
        again.close()


def test_a_rebuild_outrun_by_a_later_one_leaves_the_later_ones_read_models(
    services, server, tmp_path
):
    before = pupils(services)
    later: list[int] = []

    def another_rebuild_starts_and_ends(done: int, head: int) -> None:
        if not later:
            later.append(server.follower.rebuild(helpers=0))

    with pytest.raises(ViewsOutrun):
        services.follower.rebuild(batch=100, helpers=0, on_progress=another_rebuild_starts_and_ends)
    assert pupils(services) == pupils(server) == before
    assert files(tmp_path) == {"d.sqlite.views-3"}  # the later one's; the first's gone


KILLED_REBUILD = """
import os, sys
from projections.runtime import open_services
if __name__ == "__main__":
    services = open_services(sys.argv[1])
    services.follower.rebuild(batch=100, helpers=0, on_progress=lambda *_: os._exit(9))
"""


def test_what_a_killed_rebuild_left_is_deleted_at_the_next_start(tmp_path):
    school(tmp_path).close()
    script = tmp_path / "rebuild.py"
    script.write_text(KILLED_REBUILD)
    here = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    killed = subprocess.run(
        [sys.executable, str(script), str(tmp_path / "d.sqlite")], env=here, check=False
    )
    assert killed.returncode == 9
    assert "d.sqlite.views-2" in files(tmp_path)  # left half-built

    services = open_services(str(tmp_path / "d.sqlite"))
    try:
        assert files(tmp_path) == {"d.sqlite.views-1"}
        assert not list(tmp_path.glob("d.sqlite.views-2*"))  # nor its journal or marker
        assert len(pupils(services)) > 0
    finally:
        services.close()


def test_a_store_restored_from_a_backup_builds_read_models_ahead_of_it_again(tmp_path):
    db = tmp_path / "d.sqlite"
    services = school(tmp_path)
    backup = tmp_path / "backup.sqlite"
    with sqlite3.connect(db) as events, sqlite3.connect(backup) as copy:
        events.backup(copy)
    at_backup = pupils(services)
    fill(services, 300, seed=8)  # the read models move on past the backup
    services.close()
    for log in ("d.sqlite-wal", "d.sqlite-shm"):  # restored in place, with no process running
        (tmp_path / log).unlink(missing_ok=True)
    backup.replace(db)  # the read-model file beside it stays

    restored = open_services(str(db))
    try:
        restored.follower.catch_up()
        assert pupils(restored) == at_backup
        fill(restored, 120, seed=9)  # new events take the log's next ids again
        assert len(pupils(restored)) > len(at_backup)
        assert [s.lag for s in restored.follower.status()] == [0, 0]
        restored.follower.rebuild(helpers=0)
        assert [s.lag for s in restored.follower.status()] == [0, 0]
    finally:
        restored.close()


class TimelineRebuiltWhileWorkingOut(Timeline):
    """Another process swaps a rebuilt read-model file in while this one works out the
    audit's facts (`meanwhile`, once)."""

    def __init__(self) -> None:
        super().__init__()
        self.meanwhile: Callable[[], object] | None = None

    def work_out(self, tx: Any, limit: int) -> Any:
        worked = super().work_out(tx, limit)
        if self.meanwhile is not None:
            self.meanwhile, meanwhile = None, self.meanwhile
            meanwhile()
        return worked


def test_audit_facts_worked_out_from_a_file_replaced_meanwhile_are_not_kept(tmp_path):
    db = str(tmp_path / "d.sqlite")
    timeline = TimelineRebuiltWhileWorkingOut()
    services = open_services(db, models=[Pupils(), timeline])
    other = open_services(db)
    try:
        fill(services, 600, seed=3)
        timeline.meanwhile = lambda: other.follower.rebuild(helpers=0)
        assert services.follower.refresh() == 0  # worked out from the replaced file's rows
        assert services.follower.status()[1].waiting > 0
        assert services.follower.refresh_all() > 0  # worked out again from the new file
        assert services.follower.status()[1].waiting == 0
    finally:
        other.close()
        services.close()


class TimelineOfLowerCaseTitles(Timeline):
    """Stands for a rebuild by newer code that writes other rows for the same events."""

    @staticmethod
    def _fields(event: Any) -> dict[str, Any]:
        fields = Timeline._fields(event)
        if isinstance(fields.get("title"), str):
            fields["title"] = fields["title"].lower()
        return fields


def titles(services: Services, actor: Any, pupil: Any) -> list[str]:
    items, _ = services.queries.timeline(actor, str(pupil), {"limit": 50})
    return [item["title"] for item in items if item["type"] == "experience"]


def test_a_read_after_another_process_swapped_a_rebuilt_file_in_shows_that_files_rows(tmp_path):
    db = str(tmp_path / "d.sqlite")
    services = open_services(db)
    actor, pupil, _ = small_dossier(services)
    newer = open_services(db, models=[Pupils(), TimelineOfLowerCaseTitles()])
    try:
        assert titles(services, actor, pupil) == ["A", "B"]  # folded and remembered
        newer.follower.rebuild(helpers=0)
        assert titles(services, actor, pupil) == ["a", "b"]  # not the fold remembered before
    finally:
        newer.close()
        services.close()
