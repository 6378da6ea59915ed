"""The HTTP API through Flask's test client, on SQLite and PostgreSQL."""

import re
from typing import Any

import pytest
from flask.testing import FlaskClient

Headers = dict[str, str]

EXPERIENCE = {
    "kind": "stage",
    "title": "Stagedag bij garage Van Dijk",
    "occurred_on": "2024-10-01",
    "story": "Ik mocht een band verwisselen. Eerst was ik zenuwachtig, daarna ging het goed.",
    "emotion": "positive",
    "place": "Garage Van Dijk, Zwolle",
}


def post(client: FlaskClient, path: str, body: Any, headers: Headers) -> Any:
    return client.post(path, json=body, headers=headers)


def history(client: FlaskClient, pupil_id: str, headers: Headers) -> list[dict[str, Any]]:
    response = client.get(f"/api/v1/pupils/{pupil_id}/events?limit=500", headers=headers)
    assert response.status_code == 200
    return list(response.json["items"])


def record_experience(client: FlaskClient, pupil_id: str, headers: Headers) -> str:
    response = post(client, f"/api/v1/pupils/{pupil_id}/experiences", EXPERIENCE, headers)
    assert response.status_code == 201
    return str(response.json["id"])


def test_whole_conversation_is_recorded_as_immutable_history(client, tokens, pupil_id):
    coach, base = tokens["coach"], f"/api/v1/pupils/{pupil_id}"
    experience_id = record_experience(client, pupil_id, coach)
    conversation = post(
        client,
        f"{base}/conversations",
        {"held_on": "2024-10-08", "experience_ids": [experience_id]},
        coach,
    )
    assert conversation.status_code == 201
    conversation_id = conversation.json["id"]
    for phase in ("terugkijken", "reflecteren", "vooruitkijken", "activeren"):
        body = {"phase": phase, "notes": f"Notities {phase}", "questions": ["Wat deed je?"]}
        assert (
            post(client, f"{base}/conversations/{conversation_id}/phases", body, coach).status_code
            == 201
        )
    insight = {
        "kind": "quality",
        "label": "Technisch inzicht",
        "words": "Ik zie snel hoe iets in elkaar zit",
        "experience_ids": [experience_id],
        "conversation_id": conversation_id,
    }
    assert post(client, f"{base}/insights", insight, coach).status_code == 201
    action = post(
        client,
        f"{base}/actions",
        {"description": "Meeloopdag regelen", "due_on": "2024-11-01", "helper": "oom Kees"},
        coach,
    )
    assert action.status_code == 201
    completion = post(
        client, f"{base}/actions/{action.json['id']}/completion", {"outcome": "Geregeld"}, coach
    )
    assert completion.status_code == 201
    correction = {
        "entry_id": experience_id,
        "changes": {"title": "Stage bij garage Van Dijk"},
        "reason": "titel",
    }
    assert post(client, f"{base}/corrections", correction, coach).status_code == 201
    retraction = post(
        client, f"{base}/retractions", {"entry_id": action.json["id"], "reason": "dubbel"}, coach
    )
    assert retraction.status_code == 201
    assert retraction.json["version"] == 12

    items = history(client, pupil_id, coach)
    assert [item["type"] for item in items] == [
        "Opened", "ExperienceRecorded", "ConversationHeld", "PhaseRecorded", "PhaseRecorded",
        "PhaseRecorded", "PhaseRecorded", "InsightRecorded", "ActionPlanned", "ActionCompleted",
        "EntryCorrected", "EntryRetracted",
    ]  # fmt: skip
    assert [item["version"] for item in items] == list(range(1, 13))
    assert items[1]["data"]["title"] == EXPERIENCE["title"]
    assert items[1]["actor"]["role"] == "coach"
    assert items[1]["actor"]["school"] == "SCH1"
    assert items[1]["recorded_at"]


def test_write_answers_version_and_etag(client, tokens, pupil_id):
    response = post(client, f"/api/v1/pupils/{pupil_id}/experiences", EXPERIENCE, tokens["coach"])
    assert response.status_code == 201
    assert response.json["version"] == 2
    assert response.headers["ETag"] == '"2"'


def test_write_with_stale_if_match_is_refused_and_stores_nothing(client, tokens, pupil_id):
    coach = tokens["coach"]
    record_experience(client, pupil_id, coach)
    stale = {**coach, "If-Match": '"1"'}
    response = post(client, f"/api/v1/pupils/{pupil_id}/experiences", EXPERIENCE, stale)
    assert response.status_code == 412
    assert response.content_type == "application/problem+json"
    assert len(history(client, pupil_id, coach)) == 2


def test_write_with_current_if_match_is_accepted(client, tokens, pupil_id):
    current = {**tokens["coach"], "If-Match": '"1"'}
    response = post(client, f"/api/v1/pupils/{pupil_id}/experiences", EXPERIENCE, current)
    assert response.status_code == 201


BAD_EXPERIENCES = {
    "unknown field": ({**EXPERIENCE, "school": "SCH2"}, 422, "school"),
    "wrong enum": ({**EXPERIENCE, "kind": "vakantie"}, 422, "kind"),
    "missing field": ({k: v for k, v in EXPERIENCE.items() if k != "story"}, 422, "story"),
    "over-long text": ({**EXPERIENCE, "title": "x" * 201}, 422, "title"),
    "future date": ({**EXPERIENCE, "occurred_on": "2999-01-01"}, 422, "occurred_on"),
    "not a date": ({**EXPERIENCE, "occurred_on": "gisteren"}, 422, "occurred_on"),
}


@pytest.mark.parametrize("case", BAD_EXPERIENCES, ids=list(BAD_EXPERIENCES))
def test_bad_input_gets_a_problem_and_stores_nothing(client, tokens, pupil_id, case):
    body, status, field = BAD_EXPERIENCES[case]
    response = post(client, f"/api/v1/pupils/{pupil_id}/experiences", body, tokens["coach"])
    assert response.status_code == status
    assert response.content_type == "application/problem+json"
    problem = response.json
    assert {"type", "title", "status", "detail"} <= set(problem)
    assert field in problem["errors"]
    assert len(history(client, pupil_id, tokens["coach"])) == 1


def test_malformed_json_is_a_400_problem(client, tokens, pupil_id):
    response = client.post(
        f"/api/v1/pupils/{pupil_id}/experiences",
        data='{"kind": "stage",',
        content_type="application/json",
        headers=tokens["coach"],
    )
    assert response.status_code == 400
    assert response.content_type == "application/problem+json"
    assert len(history(client, pupil_id, tokens["coach"])) == 1


def test_oversized_body_is_a_413_problem(client, tokens, pupil_id):
    body = {**EXPERIENCE, "story": "x" * 400_000}
    response = post(client, f"/api/v1/pupils/{pupil_id}/experiences", body, tokens["coach"])
    assert response.status_code == 413
    assert response.content_type == "application/problem+json"
    assert len(history(client, pupil_id, tokens["coach"])) == 1


def test_broken_domain_rule_is_a_problem_that_names_the_field(client, tokens, pupil_id):
    insight = {"kind": "motive", "label": "zekerheid", "experience_ids": [pupil_id]}
    response = post(client, f"/api/v1/pupils/{pupil_id}/insights", insight, tokens["coach"])
    assert response.status_code == 422
    assert "experience_ids" in response.json["errors"]


def test_completing_an_action_twice_is_a_conflict(client, tokens, pupil_id):
    base, coach = f"/api/v1/pupils/{pupil_id}", tokens["coach"]
    action = post(
        client, f"{base}/actions", {"description": "Bellen", "due_on": "2025-01-10"}, coach
    )
    path = f"{base}/actions/{action.json['id']}/completion"
    assert post(client, path, {"outcome": "gedaan"}, coach).status_code == 201
    again = post(client, path, {"outcome": "gedaan"}, coach)
    assert again.status_code == 409
    assert again.content_type == "application/problem+json"


def test_unknown_pupil_is_a_404_problem(client, tokens):
    response = client.get(
        "/api/v1/pupils/00000000-0000-4000-8000-000000000000", headers=tokens["coach"]
    )
    assert response.status_code == 404
    assert response.content_type == "application/problem+json"


def test_pupil_of_another_school_does_not_exist(client, tokens, pupil_id):
    other = tokens["other_school"]
    assert client.get(f"/api/v1/pupils/{pupil_id}", headers=other).status_code == 404
    assert client.get(f"/api/v1/pupils/{pupil_id}/events", headers=other).status_code == 404
    response = post(client, f"/api/v1/pupils/{pupil_id}/experiences", EXPERIENCE, other)
    assert response.status_code == 404
    assert client.get("/api/v1/pupils", headers=other).json["items"] == []


@pytest.mark.parametrize(
    "authorization", [None, "Bearer", "Bearer ldt_made_up", "Basic dXNlcjpwYXNz"]
)
def test_every_api_route_needs_a_valid_token(app, client, authorization):
    headers = {"Authorization": authorization} if authorization else {}
    some_id = "00000000-0000-4000-8000-000000000000"
    routes = [r for r in app.url_map.iter_rules() if r.rule.startswith("/api/v1/")]
    assert len(routes) > 20
    for rule in routes:
        path = re.sub(r"<uuid:\w+>", some_id, rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            response = client.open(path, method=method, json={}, headers=headers)
            assert response.status_code == 401, (method, path)
            assert response.content_type == "application/problem+json"
            assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_auditor_and_admin_see_no_dossier_content(client, tokens, pupil_id):
    for role in ("auditor", "admin"):
        assert (
            client.get(f"/api/v1/pupils/{pupil_id}/events", headers=tokens[role]).status_code == 403
        )
        assert client.get("/api/v1/pupils", headers=tokens[role]).status_code == 403


def test_me_tells_who_the_token_belongs_to(client, tokens):
    response = client.get("/api/v1/me", headers=tokens["counsellor"])
    assert response.status_code == 200
    assert response.json["role"] == "counsellor"
    assert response.json["school"] == "SCH1"
    assert response.json["name"] == "counsellor"


def test_healthz_needs_no_token(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json["status"] == "ok"


def test_pupil_list_is_paginated_by_name(client, tokens):
    coach = tokens["coach"]
    for name in ("Daan", "Anouk", "Celine", "Bram", "Emma"):
        body = {"name": name, "sector": "vmbo", "grade": 2, "school_year": "2024-2025"}
        assert post(client, "/api/v1/pupils", body, coach).status_code == 201
    names, cursor = [], None
    while True:
        query = f"?limit=2&cursor={cursor}" if cursor else "?limit=2"
        page = client.get(f"/api/v1/pupils{query}", headers=coach).json
        names += [item["name"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert names == ["Anouk", "Bram", "Celine", "Daan", "Emma"]


def test_pupil_shows_current_enrolment_after_a_new_school_year(client, tokens, pupil_id):
    coach = tokens["coach"]
    body = {"school_year": "2025-2026", "sector": "mbo", "grade": 1}
    assert post(client, f"/api/v1/pupils/{pupil_id}/enrolments", body, coach).status_code == 201
    pupil = client.get(f"/api/v1/pupils/{pupil_id}", headers=coach)
    assert pupil.headers["ETag"] == '"2"'
    assert (pupil.json["sector"], pupil.json["grade"], pupil.json["school_year"]) == (
        "mbo",
        1,
        "2025-2026",
    )
    listed = client.get("/api/v1/pupils", headers=coach).json["items"][0]
    assert (listed["sector"], listed["grade"]) == ("mbo", 1)


def test_event_history_pages_with_a_cursor(client, tokens, pupil_id):
    coach = tokens["coach"]
    for _ in range(4):
        record_experience(client, pupil_id, coach)
    first = client.get(f"/api/v1/pupils/{pupil_id}/events?limit=3", headers=coach).json
    second = client.get(
        f"/api/v1/pupils/{pupil_id}/events?limit=3&cursor={first['next_cursor']}", headers=coach
    ).json
    assert [i["version"] for i in first["items"] + second["items"]] == [1, 2, 3, 4, 5]
    assert second["next_cursor"] is None


def test_openapi_spec_and_docs_are_served(client):
    spec = client.get("/api/openapi.json")
    assert spec.status_code == 200
    assert spec.json["openapi"].startswith("3.")
    assert "/api/v1/pupils/{pupil_id}/experiences" in spec.json["paths"]
    assert client.get("/api/docs").status_code == 200


def test_failing_read_model_update_neither_fails_nor_repeats_the_write(
    services, client, tokens, pupil_id
):
    from eventsourcing.persistence import IntegrityError

    def broken() -> None:
        raise IntegrityError("read model constraint")

    services.dossiers.on_saved = broken
    response = post(client, f"/api/v1/pupils/{pupil_id}/experiences", EXPERIENCE, tokens["coach"])
    assert response.status_code == 201
    services.dossiers.on_saved = services.follower.catch_up
    assert [i["type"] for i in history(client, pupil_id, tokens["coach"])] == [
        "Opened",
        "ExperienceRecorded",
    ]


@pytest.mark.parametrize(
    "query",
    [
        "/events?cursor=%C2%B2",
        "/events?cursor=99999999999999999999999",
        "/timeline?cursor=WzEsICJ4Il0=",  # [1, "x"]
        "/timeline?cursor=W251bGwsIG51bGxd",  # [null, null]
        "/timeline?as_of=0001-01-01T00:00:00%2B14:00",
        "/timeline?as_of=2024-01-01T10:00:00",
    ],
)
def test_odd_query_values_get_a_422_problem(client, tokens, pupil_id, query):
    response = client.get(f"/api/v1/pupils/{pupil_id}{query}", headers=tokens["coach"])
    assert response.status_code == 422
    assert response.content_type == "application/problem+json"


def test_pupil_cursor_with_wrong_types_gets_a_422_problem(client, tokens):
    response = client.get(
        "/api/v1/pupils?cursor=WzEsIDEwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDBd",
        headers=tokens["coach"],
    )
    assert response.status_code == 422


@pytest.mark.parametrize("value", ['W/"1"', '"1', "abc"])
def test_if_match_must_be_a_strong_version_tag(client, tokens, pupil_id, value):
    headers = {**tokens["coach"], "If-Match": value}
    response = post(client, f"/api/v1/pupils/{pupil_id}/experiences", EXPERIENCE, headers)
    assert response.status_code == 400
    assert len(history(client, pupil_id, tokens["coach"])) == 1


def test_the_reason_a_consent_is_withdrawn_is_kept_in_the_history(client, tokens, pupil_id):
    counsellor, base = tokens["counsellor"], f"/api/v1/pupils/{pupil_id}/consents"
    consent = post(client, base, {"given_by": "parent"}, counsellor).json["id"]
    reason = "Ouders willen eerst met de nieuwe school praten."
    response = post(client, f"{base}/{consent}/withdrawal", {"reason": reason}, counsellor)
    assert response.status_code == 201
    withdrawn = [
        e for e in history(client, pupil_id, counsellor) if e["type"] == "ConsentWithdrawn"
    ]
    assert [e["data"]["reason"] for e in withdrawn] == [reason]
