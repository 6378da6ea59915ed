"""A long catch-up (a rebuild) shares its work with helper processes and gives exactly
what one process gives, also when a helper fails or dies.

Helpers are forked only from a process running one thread, so these tests run on
SQLite: the PostgreSQL driver's pool runs threads of its own.
"""

import os
import threading
from typing import Any

import pytest

from projections.pupils import Pupils
from projections.runtime import Services, open_services
from projections.timeline import Timeline
from scripts.demo import load_demo
from scripts.measure import fill
from tests.test_quarantine import (
    POISON,
    TimelineWhosePreparationBreaks,
    new_pupil,
    open_school,
    record,
    titles,
)

TABLES = {
    "timeline_entries": "pupil_id, entry_id",
    "timeline_revisions": "pupil_id, seq",
    "pupils": "pupil_id",
    "pupil_enrolments": "pupil_id, entry_id",
    "pupil_coaches": "pupil_id, coach_id",
}
BATCH = 150  # small ranges, so a few thousand events make many of them


def read_models(services: Services) -> dict[str, list[tuple[Any, ...]]]:
    return {
        table: [tuple(row) for row in services.reads.query(f"SELECT * FROM {table} ORDER BY {key}")]
        for table, key in TABLES.items()
    }


def school_with_history(db: str) -> Services:
    """The demo school (corrections, retractions, completed actions) and filler pupils."""
    services = open_services(db)
    load_demo(services)
    fill(services, 2_000, seed=5)
    return services


def rebuilt(services: Services, helpers: int) -> dict[str, list[tuple[Any, ...]]]:
    services.follower.helpers, services.follower.helped_from = helpers, 1
    services.follower.rebuild(batch=BATCH)
    return read_models(services)


@pytest.fixture
def school(tmp_path: Any) -> Any:
    opened = school_with_history(str(tmp_path / "school.sqlite"))
    yield opened
    opened.close()


def test_a_rebuild_with_helper_processes_equals_one_without(school):
    kept = read_models(school)
    assert rebuilt(school, helpers=0) == kept
    assert school.follower.helped_by == 0

    assert rebuilt(school, helpers=2) == kept
    assert school.follower.helped_by == 2
    assert school.follower.status()[0].lag == 0


class TimelineThatKillsItsHelper(Timeline):
    """Stands for a helper that ends half-way (killed, out of memory)."""

    def __init__(self) -> None:
        self.home, self.batches = os.getpid(), 0

    def prepare(self, events: Any) -> None:
        self.batches += 1
        if os.getpid() != self.home and self.batches > 3:
            os._exit(1)
        super().prepare(events)


def test_a_rebuild_whose_helper_dies_is_finished_without_it(school, tmp_path):
    kept = read_models(school)
    db = str(tmp_path / "school.sqlite")
    dying = open_services(db, models=[Pupils(), TimelineThatKillsItsHelper()])
    try:
        assert rebuilt(dying, helpers=1) == kept
        assert dying.follower.helped_by == 1
    finally:
        dying.close()


def test_an_event_a_helper_cannot_prepare_quarantines_only_its_pupil(tmp_path):
    db = str(tmp_path / "school.sqlite")
    services, client, headers = open_school(db, TimelineWhosePreparationBreaks())
    try:
        sanne, daan = new_pupil(client, headers, "Sanne"), new_pupil(client, headers, "Daan")
        for title in ("Bakkerij", POISON, "Garage"):
            record(client, headers, sanne, title)
            record(client, headers, daan, title.replace(POISON, "Kapsalon"))
        services.follower.helpers, services.follower.helped_from = 1, 1

        services.follower.rebuild(batch=3)

        assert services.follower.helped_by == 1
        assert [q.pupil_id for q in services.follower.quarantined()] == [sanne]
        assert titles(client, headers, daan) == ["Bakkerij", "Kapsalon", "Garage"]
        assert client.get(f"/api/v1/pupils/{sanne}/timeline", headers=headers).status_code == 503
    finally:
        services.close()


def test_helpers_are_not_forked_from_a_process_running_other_threads(school):
    kept = read_models(school)
    waiting = threading.Event()
    other = threading.Thread(target=waiting.wait)
    other.start()
    try:
        assert rebuilt(school, helpers=2) == kept
        assert school.follower.helped_by == 0
    finally:
        waiting.set()
        other.join()
