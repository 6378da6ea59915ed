"""An event a read model cannot apply stops that pupil's views only, never everybody's.

The broken read model here is a timeline with a bug for one kind of story: it stands
for any defect or unexpected data a real read model may meet in years of events.
"""

from typing import Any

from api.app import create_app
from projections.pupils import Pupils
from projections.runtime import open_services
from projections.timeline import Timeline
from scripts.loopback import dossier

POISON = "Het magazijn ontplofte bijna"
EXPERIENCE = {
    "kind": "stage",
    "title": "Stagedag",
    "occurred_on": "2025-03-01",
    "story": "Ik hielp klanten en werkte goed samen.",
    "emotion": "positive",
}


class TimelineWithABug(Timeline):
    def apply(self, tx: Any, event: Any, position: int) -> None:
        if event.fields.get("title") == POISON:
            raise ValueError("this story breaks the timeline")
        super().apply(tx, event, position)


class TimelineWhosePreparationBreaks(TimelineWithABug):
    """A bug met before the write lock (where mentions are found) is met again under it."""

    def prepare(self, events: Any) -> None:
        if any(event.fields.get("title") == POISON for event in events):
            raise ValueError("this story breaks finding mentions")
        super().prepare(events)


class PupilsWithAnSqlBug(Pupils):
    """SQLite reports this as an OperationalError, like a lock; it is still a bug."""

    def apply(self, tx: Any, event: Any, position: int) -> None:
        if event.fields.get("title") == POISON:
            tx.execute("SELECT no_such_column FROM pupils")
        super().apply(tx, event, position)


def open_school(
    db: str, timeline: Timeline, pupils: Pupils | None = None
) -> tuple[Any, Any, dict[str, str]]:
    services = open_services(db, models=[pupils or Pupils(), timeline])
    if not services.accounts.list_users():
        services.accounts.add_school("SCH1", "Het Loopbaan College")
    token = services.accounts.add_user("SCH1", "counsellor", "Decaan")[1]
    client = create_app({"TESTING": True}, services=services).test_client()
    return services, client, {"Authorization": f"Bearer {token}"}


def bearer(services: Any, role: str) -> tuple[str, dict[str, str]]:
    user_id, token = services.accounts.add_user("SCH1", role, role.title())
    return str(user_id), {"Authorization": f"Bearer {token}"}


def new_pupil(client: Any, headers: dict[str, str], name: str) -> str:
    body = {"name": name, "sector": "vmbo", "grade": 3, "school_year": "2024-2025"}
    response = client.post("/api/v1/pupils", json=body, headers=headers)
    assert response.status_code == 201
    return str(response.json["id"])


def record(client: Any, headers: dict[str, str], pupil: str, title: str) -> None:
    path = f"/api/v1/pupils/{pupil}/experiences"
    response = client.post(path, json={**EXPERIENCE, "title": title}, headers=headers)
    assert response.status_code == 201


def titles(client: Any, headers: dict[str, str], pupil: str) -> list[str]:
    response = client.get(f"/api/v1/pupils/{pupil}/timeline?type=experience", headers=headers)
    assert response.status_code == 200
    return [item["title"] for item in response.json["items"]]


def only_sanne_is_stuck(services: Any, client: Any, headers: Any, sanne: str, daan: str) -> None:
    assert titles(client, headers, daan) == ["Kapsalon"]
    assert client.get(f"/api/v1/pupils/{sanne}/timeline", headers=headers).status_code == 503
    assert [q.pupil_id for q in services.follower.quarantined()] == [sanne]


def test_one_unreadable_event_quarantines_its_pupil_and_no_one_else(db_url):
    services, client, headers = open_school(db_url, TimelineWithABug())
    try:
        sanne, daan = new_pupil(client, headers, "Sanne"), new_pupil(client, headers, "Daan")
        record(client, headers, sanne, "Bakkerij")
        record(client, headers, sanne, POISON)  # accepted: the event itself is fine
        record(client, headers, sanne, "Garage")
        record(client, headers, daan, "Kapsalon")

        assert titles(client, headers, daan) == ["Kapsalon"]
        response = client.get(f"/api/v1/pupils/{sanne}/timeline", headers=headers)
        assert response.status_code == 503
        assert response.mimetype == "application/problem+json"
        assert "repaired" in response.json["detail"]
        assert client.get(f"/api/v1/pupils/{sanne}/story", headers=headers).status_code == 503
        history = client.get(f"/api/v1/pupils/{sanne}/events", headers=headers).json["items"]
        assert POISON in [e["data"].get("title") for e in history]

        status = {s.name: s for s in services.follower.status()}
        assert status["timeline"].quarantined == 1 and status["timeline"].lag == 0
        assert status["pupils"].quarantined == 0
        (stuck,) = services.follower.quarantined()
        assert (stuck.name, stuck.pupil_id) == ("timeline", sanne)
        assert "breaks the timeline" in stuck.error

        services.follower.rebuild()  # one batch holding every event, the bad one amid them
        only_sanne_is_stuck(services, client, headers, sanne, daan)
    finally:
        services.close()


def test_an_event_the_timeline_holds_already_is_never_shown_twice(db_url):
    """Should the timeline's position ever go back (its positions restored from an older
    backup, a bug), events it holds come again: their pupil is quarantined, the entry
    is not doubled, and everyone else reads on."""
    services, client, headers = open_school(db_url, Timeline())
    try:
        sanne, daan = new_pupil(client, headers, "Sanne"), new_pupil(client, headers, "Daan")
        record(client, headers, daan, "Kapsalon")
        record(client, headers, sanne, "Bakkerij")
        with services.reads.transaction(write=True) as tx:
            tx.execute(
                "UPDATE projection_positions SET position = position - 1 WHERE name = 'timeline'"
            )
        services.follower.catch_up()

        only_sanne_is_stuck(services, client, headers, sanne, daan)
        rows = services.reads.query(
            "SELECT COUNT(*) AS n FROM timeline_entries WHERE pupil_id = ? AND type = ?",
            (sanne, "experience"),
        )
        assert rows[0]["n"] == 1
        assert "unique" in services.follower.quarantined()[0].error.lower()
    finally:
        services.close()


def test_a_quarantined_pupils_later_events_are_skipped_by_that_read_model_only(db_url):
    services, client, headers = open_school(db_url, TimelineWithABug())
    try:
        sanne, daan = new_pupil(client, headers, "Sanne"), new_pupil(client, headers, "Daan")
        record(client, headers, sanne, POISON)
        record(client, headers, sanne, "Garage")  # a batch of its own, after the quarantine
        record(client, headers, daan, "Kapsalon")

        rows = services.reads.query(
            "SELECT pupil_id, type FROM timeline_entries WHERE type = 'experience'"
        )
        assert [r["pupil_id"] for r in rows] == [daan]
        versions = services.reads.query("SELECT version FROM pupils WHERE pupil_id = ?", (sanne,))
        assert versions[0]["version"] == 3  # opened, the poison, the garage
    finally:
        services.close()


def test_a_batch_that_cannot_be_prepared_still_reaches_everyone_else(db_url):
    services, client, headers = open_school(db_url, TimelineWhosePreparationBreaks())
    try:
        sanne, daan = new_pupil(client, headers, "Sanne"), new_pupil(client, headers, "Daan")
        record(client, headers, sanne, POISON)
        record(client, headers, daan, "Kapsalon")
        services.follower.rebuild()  # one batch: the bad event and Daan's together

        only_sanne_is_stuck(services, client, headers, sanne, daan)
    finally:
        services.close()


def test_after_the_fix_a_rebuild_brings_the_quarantined_pupil_back(db_url):
    services, client, headers = open_school(db_url, TimelineWithABug())
    try:
        sanne = new_pupil(client, headers, "Sanne")
        for title in ("Bakkerij", POISON, "Garage"):
            record(client, headers, sanne, title)
    finally:
        services.close()

    listed = dossier(db_url, "projections", "status").stdout
    assert f"quarantined: timeline pupil {sanne}" in listed
    assert "dossier projections rebuild" in listed

    dossier(db_url, "projections", "rebuild", "timeline")  # the fixed timeline, deployed

    assert "quarantined:" not in dossier(db_url, "projections", "status").stdout
    services, client, headers = open_school(db_url, Timeline())
    try:
        assert titles(client, headers, sanne) == ["Bakkerij", POISON, "Garage"]
    finally:
        services.close()


def test_a_pupil_whose_scope_may_be_stale_is_hidden_from_who_lost_access(db_url):
    services, client, counsellor = open_school(db_url, Timeline(), PupilsWithAnSqlBug())
    try:
        coach_id, coach = bearer(services, "coach")
        _, auditor = bearer(services, "auditor")
        sanne = new_pupil(client, counsellor, "Sanne")
        assigned = client.post(
            f"/api/v1/pupils/{sanne}/coaches", json={"user_id": coach_id}, headers=counsellor
        )
        assert assigned.status_code == 201
        record(client, counsellor, sanne, POISON)  # the pupils model stops for Sanne here
        removed = client.delete(f"/api/v1/pupils/{sanne}/coaches/{coach_id}", headers=counsellor)
        assert removed.status_code == 200  # ... so its coach list still names the coach

        assert [q.name for q in services.follower.quarantined()] == ["pupils"]
        timeline = f"/api/v1/pupils/{sanne}/timeline"
        assert client.get(timeline, headers=coach).status_code == 404
        assert client.get("/api/v1/pupils", headers=coach).json["items"] == []
        assert client.get(timeline, headers=counsellor).status_code == 503
        audit = client.get("/api/v1/audit/reflections", headers=auditor)
        assert audit.status_code == 503
        assert "incomplete" in audit.json["detail"]
    finally:
        services.close()


class FixedTimeline(Timeline):
    version = Timeline.version + "-fixed"


def test_an_upgraded_read_model_rebuilds_itself_and_brings_the_pupil_back(db_url):
    services, client, headers = open_school(db_url, TimelineWithABug())
    try:
        sanne = new_pupil(client, headers, "Sanne")
        for title in ("Bakkerij", POISON):
            record(client, headers, sanne, title)
        assert services.follower.quarantined()
    finally:
        services.close()

    services, client, headers = open_school(db_url, FixedTimeline())  # the next release
    try:
        assert services.follower.quarantined() == []
        assert titles(client, headers, sanne) == ["Bakkerij", POISON]
    finally:
        services.close()
