"""Who may see what, over HTTP against a real `dossier serve`: the route x role x pupil matrix,
audit answers without content, the access log, coach assignments, expiry and revocation."""

import csv
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest

from projections.audit import ROW_FIELDS, SUMMARY_FIELDS
from projections.runtime import open_services
from scripts.loopback import call, running_server

ROLES = ("coach", "counsellor", "auditor", "admin")
PUPILS = ("assigned", "unassigned", "other_school")
STORY = "Ik mocht de kassa doen en klanten helpen. Dat vond ik spannend."
TITLE = "Stagedag supermarkt Plus"


@dataclass
class World:
    base: str
    tokens: dict[str, str]
    users: dict[str, str]
    pupils: dict[str, str] = field(default_factory=dict)

    def as_(self, who: str, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        return call(self.base, method, path, self.tokens[who], body)

    def keeper(self, pupil: str) -> str:
        """A user who may write into this pupil's dossier, to prepare a matrix cell."""
        return "other_counsellor" if pupil == "other_school" else "counsellor"

    def make(self, pupil: str, path: str, body: dict[str, Any]) -> str:
        status, answer = self.as_(
            self.keeper(pupil), "POST", f"/api/v1/pupils/{self.pupils[pupil]}{path}", body
        )
        assert status == 201, answer
        return str(answer["id"])

    def experience(self, pupil: str) -> str:
        body = {
            "kind": "stage",
            "title": TITLE,
            "occurred_on": "2024-10-01",
            "story": STORY,
            "emotion": "positive",
        }
        return self.make(pupil, "/experiences", body)

    def conversation(self, pupil: str) -> str:
        return self.make(
            pupil,
            "/conversations",
            {"held_on": "2024-10-03", "experience_ids": [self.experience(pupil)]},
        )

    def consent(self, pupil: str) -> str:
        return self.make(pupil, "/consents", {"purpose": "transfer", "given_by": "parent"})

    def action(self, pupil: str) -> str:
        return self.make(
            pupil,
            "/actions",
            {"description": "Bellen met de bedrijfsleider", "due_on": "2024-11-01"},
        )


USERS = {
    "coach": ("SCH1", "coach"),
    "coach_b": ("SCH1", "coach"),
    "coach_d": ("SCH1", "coach"),
    "counsellor": ("SCH1", "counsellor"),
    "auditor": ("SCH1", "auditor"),
    "admin": ("SCH1", "admin"),
    "other_coach": ("SCH2", "coach"),
    "other_counsellor": ("SCH2", "counsellor"),
}


@pytest.fixture
def world(db_url: str) -> Iterator[World]:
    setup = open_services(db_url)
    try:
        setup.accounts.add_school("SCH1", "Het Loopbaan College")
        setup.accounts.add_school("SCH2", "De Andere School")
        tokens = {
            key: setup.accounts.add_user(school, role, key)[1]
            for key, (school, role) in USERS.items()
        }
    finally:
        setup.close()
    with running_server(db_url) as base:
        w = World(base, tokens, {})
        w.users = {key: w.as_(key, "GET", "/api/v1/me")[1]["id"] for key in tokens}
        pupil = {"name": "Emma Visser", "sector": "vmbo", "grade": 3, "school_year": "2024-2025"}
        for key, opener in (
            ("assigned", "coach"),
            ("unassigned", "counsellor"),
            ("other_school", "other_coach"),
        ):
            w.pupils[key] = str(w.as_(opener, "POST", "/api/v1/pupils", pupil)[1]["id"])
        for key in ("assigned", "unassigned"):
            w.make(key, "/coaches", {"user_id": w.users["coach_d"]})
        yield w


def experience_body(w: World, p: str) -> dict[str, Any]:
    return {
        "kind": "praktijkles",
        "title": "Les koken",
        "occurred_on": "2024-10-02",
        "story": "Soep gemaakt.",
        "emotion": "neutral",
    }


Route = tuple[str, str, Callable[[World, str], str], Callable[[World, str], Any], int, str]
ROUTES: list[Route] = [
    ("pupil", "GET", lambda w, p: "", lambda w, p: None, 200, "content"),
    ("events", "GET", lambda w, p: "/events", lambda w, p: None, 200, "content"),
    ("timeline", "GET", lambda w, p: "/timeline", lambda w, p: None, 200, "content"),
    ("story", "GET", lambda w, p: "/story", lambda w, p: None, 200, "content"),
    ("enrolment", "POST", lambda w, p: "/enrolments", lambda w, p: {"school_year": "2025-2026", "sector": "vmbo", "grade": 4}, 201, "content"),
    ("experience", "POST", lambda w, p: "/experiences", experience_body, 201, "content"),
    ("conversation", "POST", lambda w, p: "/conversations", lambda w, p: {"held_on": "2024-10-03", "experience_ids": []}, 201, "content"),
    ("phase", "POST", lambda w, p: f"/conversations/{w.conversation(p)}/phases", lambda w, p: {"phase": "reflecteren", "notes": "Goed gedaan."}, 201, "content"),
    ("insight", "POST", lambda w, p: "/insights", lambda w, p: {"kind": "quality", "label": "klantvriendelijk", "experience_ids": [w.experience(p)]}, 201, "content"),
    ("action", "POST", lambda w, p: "/actions", lambda w, p: {"description": "Mailen", "due_on": "2024-12-01"}, 201, "content"),
    ("completion", "POST", lambda w, p: f"/actions/{w.action(p)}/completion", lambda w, p: {"outcome": "Gedaan"}, 201, "content"),
    ("abandonment", "POST", lambda w, p: f"/actions/{w.action(p)}/abandonment", lambda w, p: {"reason": "Niet nodig"}, 201, "content"),
    ("correction", "POST", lambda w, p: "/corrections", lambda w, p: {"entry_id": w.experience(p), "changes": {"title": "Nieuw"}, "reason": "typo"}, 201, "content"),
    ("retraction", "POST", lambda w, p: "/retractions", lambda w, p: {"entry_id": w.experience(p), "reason": "dubbel"}, 201, "content"),
    ("consent", "POST", lambda w, p: "/consents", lambda w, p: {"given_by": "parent"}, 201, "content"),
    ("withdrawal", "POST", lambda w, p: f"/consents/{w.consent(p)}/withdrawal", lambda w, p: {}, 201, "content"),
    ("printable", "GET", lambda w, p: "/export.html", lambda w, p: None, 200, "content"),
    ("pdf", "GET", lambda w, p: "/export.pdf", lambda w, p: None, 200, "content"),
    ("export", "GET", lambda w, p: (w.consent(p), "/export")[1], lambda w, p: None, 200, "counsellor"),
    ("access_log", "GET", lambda w, p: "/access-log", lambda w, p: None, 200, "counsellor"),
    ("assign", "POST", lambda w, p: "/coaches", lambda w, p: {"user_id": w.users["coach_b"]}, 201, "counsellor"),
    ("unassign", "DELETE", lambda w, p: f"/coaches/{w.users['coach_d']}", lambda w, p: None, 200, "counsellor"),
]  # fmt: skip


def expected(policy: str, role: str, pupil: str, success: int) -> int:
    allowed = {"content": ("coach", "counsellor"), "counsellor": ("counsellor",)}[policy]
    if role not in allowed:
        return 403
    if pupil == "other_school" or (role == "coach" and pupil == "unassigned"):
        return 404
    return success


def test_every_pupil_route_answers_each_role_and_pupil_exactly(world: World) -> None:
    found, wanted = {}, {}
    for name, method, path, body, success, policy in ROUTES:
        for role in ROLES:
            for pupil in PUPILS:
                url = f"/api/v1/pupils/{world.pupils[pupil]}{path(world, pupil)}"
                found[name, role, pupil] = world.as_(role, method, url, body(world, pupil))[0]
                wanted[name, role, pupil] = expected(policy, role, pupil, success)
    assert found == wanted


SCHOOL_ROUTES = [
    ("GET", "/api/v1/pupils", None, {"coach": 200, "counsellor": 200, "auditor": 403, "admin": 403}),
    ("POST", "/api/v1/pupils", {"name": "Bo", "sector": "havo", "grade": 4, "school_year": "2024-2025"},
     {"coach": 201, "counsellor": 201, "auditor": 403, "admin": 403}),
    ("GET", "/api/v1/me", None, {"coach": 200, "counsellor": 200, "auditor": 200, "admin": 200}),
    ("GET", "/api/v1/audit/reflections", None, {"coach": 403, "counsellor": 200, "auditor": 200, "admin": 403}),
    ("GET", "/api/v1/users", None, {"coach": 403, "counsellor": 403, "auditor": 403, "admin": 200}),
    ("POST", "/api/v1/imports", {"format": "iets anders"},
     {"coach": 403, "counsellor": 422, "auditor": 403, "admin": 403}),
    ("POST", "/api/v1/users", {"name": "Nieuwe mentor", "role": "coach"},
     {"coach": 403, "counsellor": 403, "auditor": 403, "admin": 201}),
]  # fmt: skip


def test_every_school_route_answers_each_role_exactly(world: World) -> None:
    found, wanted = {}, {}
    for method, path, body, statuses in SCHOOL_ROUTES:
        for role in ROLES:
            found[method, path, role] = world.as_(role, method, path, body)[0]
            wanted[method, path, role] = statuses[role]
    assert found == wanted


def test_lists_show_only_pupils_in_scope(world: World) -> None:
    def listed(who: str) -> set[str]:
        return {p["id"] for p in world.as_(who, "GET", "/api/v1/pupils")[1]["items"]}

    assert listed("coach") == {world.pupils["assigned"]}
    assert listed("counsellor") == {world.pupils["assigned"], world.pupils["unassigned"]}
    assert listed("other_coach") == {world.pupils["other_school"]}
    assert listed("coach_b") == set()


def test_assigned_coach_gains_and_loses_the_pupil(world: World) -> None:
    pupil = f"/api/v1/pupils/{world.pupils['unassigned']}"
    assert world.as_("coach_b", "GET", pupil)[0] == 404
    assert (
        world.as_("counsellor", "POST", f"{pupil}/coaches", {"user_id": world.users["coach_b"]})[0]
        == 201
    )
    assert world.as_("coach_b", "GET", pupil)[0] == 200
    again = world.as_("counsellor", "POST", f"{pupil}/coaches", {"user_id": world.users["coach_b"]})
    assert again[0] == 409
    assert world.as_("counsellor", "DELETE", f"{pupil}/coaches/{world.users['coach_b']}")[0] == 200
    assert world.as_("coach_b", "GET", pupil)[0] == 404
    events = world.as_("counsellor", "GET", f"{pupil}/events")[1]["items"]
    assert [e["type"] for e in events][-2:] == ["CoachAssigned", "CoachUnassigned"]


@pytest.mark.parametrize("who", ["auditor", "other_coach", "counsellor"])
def test_only_a_coach_of_the_school_can_be_assigned(world: World, who: str) -> None:
    path = f"/api/v1/pupils/{world.pupils['unassigned']}/coaches"
    status, problem = world.as_("counsellor", "POST", path, {"user_id": world.users[who]})
    assert status == 422
    assert "user_id" in problem["errors"]


def keys_of(value: Any) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in keys_of(v)}
    if isinstance(value, list):
        return {k for v in value for k in keys_of(v)}
    return set()


def test_audit_answers_carry_no_content(world: World) -> None:
    talk = world.conversation("assigned")
    world.make(
        "assigned",
        f"/conversations/{talk}/phases",
        {"phase": "reflecteren", "notes": "Ze was trots op zichzelf."},
    )
    world.make("assigned", "/insights", {"kind": "quality", "label": "klantvriendelijk", "words": "Ik help graag", "experience_ids": [world.experience("assigned")]})  # fmt: skip
    world.experience("other_school")  # a row the other school's audit has, and this one must not
    for who in ("auditor", "counsellor"):
        status, audit = world.as_(who, "GET", "/api/v1/audit/reflections")
        assert status == 200
        assert audit["items"]
        assert keys_of(audit) <= {"items", "summary", *ROW_FIELDS, *SUMMARY_FIELDS}
        text = json.dumps(audit)
        for content in (STORY, TITLE, "Emma Visser", "trots", "klantvriendelijk", "Ik help graag"):
            assert content not in text
        assert world.pupils["other_school"] not in text


def test_audit_flags_when_reflection_took_place(world: World) -> None:
    not_talked_about = world.experience("unassigned")
    experience = world.experience("assigned")
    talk = world.make(
        "assigned", "/conversations", {"held_on": "2024-12-01", "experience_ids": [experience]}
    )
    world.make("assigned", f"/conversations/{talk}/phases", {"phase": "reflecteren", "notes": "x"})
    status, audit = world.as_("auditor", "GET", "/api/v1/audit/reflections?late_after=30")
    assert status == 200
    row = next(r for r in audit["items"] if r["experience_id"] == experience)
    assert (row["held_on"], row["days_to_reflection"], row["recorder_role"]) == (
        "2024-12-01",
        61,
        "counsellor",
    )
    assert (row["not_reflected"], row["reflected_late"], row["backdated"]) == (False, True, True)
    lonely = next(r for r in audit["items"] if r["experience_id"] == not_talked_about)
    assert (lonely["not_reflected"], lonely["held_on"], lonely["days_to_reflection"]) == (
        True,
        None,
        None,
    )


def test_audit_csv_has_the_same_rows(world: World) -> None:
    import urllib.request

    world.experience("assigned")
    request = urllib.request.Request(world.base + "/api/v1/audit/reflections?format=csv")
    request.add_header("Authorization", f"Bearer {world.tokens['auditor']}")
    with urllib.request.urlopen(request) as response:
        assert response.headers["Content-Type"].startswith("text/csv")
        lines = response.read().decode().splitlines()
    assert lines[0].split(",") == list(ROW_FIELDS)
    rows = world.as_("auditor", "GET", "/api/v1/audit/reflections")[1]["items"]
    assert len(lines) - 1 == len(rows)
    from_csv = [(r["experience_id"], r["not_reflected"]) for r in csv.DictReader(lines)]
    assert from_csv == [(r["experience_id"], str(r["not_reflected"])) for r in rows]


def test_every_content_read_appears_once_in_the_access_log(world: World) -> None:
    pupil = f"/api/v1/pupils/{world.pupils['unassigned']}"
    reads = [
        ("counsellor", ""),
        ("counsellor", "/timeline"),
        ("counsellor", "/story"),
        ("counsellor", "/events"),
    ]
    reads += [("coach_d", "/timeline"), ("coach_d", "/story")]
    for who, view in reads:
        assert world.as_(who, "GET", pupil + view)[0] == 200
    assert world.as_("coach", "GET", pupil + "/timeline")[0] == 404  # not a read: nothing shown
    status, log = world.as_("counsellor", "GET", f"{pupil}/access-log?limit=500")
    assert status == 200
    assert [(e["user"]["user_id"], e["view"]) for e in log["items"]] == [
        (world.users[who], view.strip("/") or "pupil") for who, view in reads
    ]
    assert all(e["at"] and e["user"]["role"] in ("counsellor", "coach") for e in log["items"])


def test_revoked_and_expired_tokens_are_refused(world: World, db_url: str) -> None:
    services = open_services(db_url)
    try:
        _, expired = services.accounts.add_user(
            "SCH1", "coach", "Oud", lifetime=timedelta(seconds=-1)
        )
    finally:
        services.close()
    assert call(world.base, "GET", "/api/v1/me", expired)[0] == 401
    admin_revokes = world.as_("admin", "DELETE", f"/api/v1/users/{world.users['coach_b']}")
    assert admin_revokes[0] == 204
    assert world.as_("coach_b", "GET", "/api/v1/me")[0] == 401
    other_school_user = world.as_("admin", "DELETE", f"/api/v1/users/{world.users['other_coach']}")
    assert other_school_user[0] == 404
    assert world.as_("other_coach", "GET", "/api/v1/me")[0] == 200
