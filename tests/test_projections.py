"""Timeline and groter verhaal over HTTP, and rebuilt read models equal to incremental ones.

The fixture is a small realistic career: Daan, vmbo 3 into mbo 1 over four school years.
"""

import copy
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dossier.access import Actor
from dossier.application import school_today as today
from dossier.rules import ENTRY_RULES
from dossier.vocabulary import PHASES
from projections.fold import fold, fold_current, forget_folds
from projections.runtime import open_services
from projections.timeline import TEXT_FIELDS
from scripts.measure import fill

Headers = dict[str, str]


class Dossier:
    """A little client for building a dossier over HTTP."""

    def __init__(self, client: FlaskClient, headers: Headers, pupil_id: str) -> None:
        self.client, self.headers, self.base = client, headers, f"/api/v1/pupils/{pupil_id}"

    def post(self, path: str, body: dict[str, Any]) -> str:
        response = self.client.post(self.base + path, json=body, headers=self.headers)
        assert response.status_code == 201, response.json
        return str(response.json["id"])

    def get(self, path: str) -> Any:
        response = self.client.get(self.base + path, headers=self.headers)
        assert response.status_code == 200, response.json
        return response.json

    def experience(
        self, title: str, day: str, emotion: str, story: str, kind: str = "stage"
    ) -> str:
        body = {
            "kind": kind,
            "title": title,
            "occurred_on": day,
            "story": story,
            "emotion": emotion,
        }
        return self.post("/experiences", body)

    def insight(self, kind: str, label: str, *evidence: str) -> str:
        return self.post(
            "/insights", {"kind": kind, "label": label, "experience_ids": list(evidence)}
        )


def build_career(client: FlaskClient, headers: Headers) -> tuple[Dossier, dict[str, str]]:
    body = {"name": "Daan Bakker", "sector": "vmbo", "grade": 3, "school_year": "2022-2023"}
    pupil = client.post("/api/v1/pupils", json=body, headers=headers).json["id"]
    d, ids = Dossier(client, headers, pupil), {}
    ids["garage"] = d.experience(
        "Stagedag garage", "2022-11-14", "positive",
        "Ik hielp een monteur met banden wisselen. We werkten als team.",
    )  # fmt: skip
    ids["kantoor"] = d.experience(
        "Meeloopdag kantoor", "2023-03-02", "negative",
        "Ik moest de hele dag stil zitten. Ik wil liever buiten werken.", "meeloopdag",
    )  # fmt: skip
    d.post("/enrolments", {"school_year": "2023-2024", "sector": "vmbo", "grade": 4})
    ids["fiets"] = d.experience(
        "Praktijkles fietsen repareren", "2023-10-05", "positive",
        "Samen met Lisa hebben we drie fietsen gemaakt.", "praktijkles",
    )  # fmt: skip
    ids["talk"] = d.post(
        "/conversations", {"held_on": "2023-10-12", "experience_ids": [ids["fiets"]]}
    )
    for phase in ("terugkijken", "reflecteren", "vooruitkijken"):
        d.post(
            f"/conversations/{ids['talk']}/phases", {"phase": phase, "notes": f"Daan over {phase}."}
        )
    d.insight("quality", "Samenwerken", ids["garage"])
    d.insight("quality", "goed kunnen samenwerken", ids["fiets"])
    d.insight("motive", "buiten werken", ids["kantoor"])
    d.post("/enrolments", {"school_year": "2024-2025", "sector": "mbo", "grade": 1})
    ids["proef"] = d.experience(
        "Proefles autotechniek",
        "2024-09-20",
        "mixed",
        "Spannend, maar ik snapte de motor.",
        "proefles",
    )
    ids["action"] = d.post(
        "/actions", {"description": "Stage bij dealer zoeken", "due_on": "2025-01-15"}
    )
    d.post("/enrolments", {"school_year": "2025-2026", "sector": "mbo", "grade": 2})
    return d, ids


def test_timeline_shows_the_whole_career_in_order(client, tokens):
    d, ids = build_career(client, tokens["coach"])
    items = d.get("/timeline?limit=500")["items"]
    assert [(i["type"], i["date"]) for i in items[:9]] == [
        ("enrolment", "2022-08-01"), ("experience", "2022-11-14"), ("experience", "2023-03-02"),
        ("enrolment", "2023-08-01"), ("experience", "2023-10-05"), ("conversation", "2023-10-12"),
        ("enrolment", "2024-08-01"), ("experience", "2024-09-20"), ("enrolment", "2025-08-01"),
    ]  # fmt: skip
    # Insights and actions recorded outside a conversation are dated the day they were recorded.
    assert [(i["type"], i["date"]) for i in items[9:]] == [
        ("insight", today().isoformat()), ("insight", today().isoformat()),
        ("insight", today().isoformat()), ("action", today().isoformat()),
    ]  # fmt: skip
    garage = items[1]
    assert (garage["school_year"], garage["sector"], garage["grade"]) == ("2022-2023", "vmbo", 3)
    proef = next(i for i in items if i["entry_id"] == ids["proef"])
    assert (proef["school_year"], proef["sector"], proef["grade"]) == ("2024-2025", "mbo", 1)
    talk = next(i for i in items if i["entry_id"] == ids["talk"])
    assert [p["phase"] for p in talk["phases"]] == ["terugkijken", "reflecteren", "vooruitkijken"]
    assert garage["recorded_by"]["role"] == "coach"


def test_timeline_pages_and_filters(client, tokens):
    d, _ = build_career(client, tokens["coach"])
    everything = d.get("/timeline?limit=500")["items"]
    paged, cursor = [], None
    while True:
        page = d.get("/timeline?limit=4" + (f"&cursor={cursor}" if cursor else ""))
        paged += page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert [i["entry_id"] for i in paged] == [i["entry_id"] for i in everything]
    experiences = d.get("/timeline?type=experience&school_year=2023-2024")["items"]
    assert [i["title"] for i in experiences] == ["Praktijkles fietsen repareren"]
    window = d.get("/timeline?from=2023-01-01&to=2023-08-01")["items"]
    assert [i["type"] for i in window] == ["experience", "enrolment"]


def test_corrections_show_with_history_and_retractions_stay_marked(client, tokens):
    d, ids = build_career(client, tokens["coach"])
    d.post(
        "/corrections",
        {
            "entry_id": ids["garage"],
            "changes": {"title": "Stagedag Autobedrijf Smit"},
            "reason": "naam",
        },
    )
    d.post("/retractions", {"entry_id": ids["kantoor"], "reason": "verkeerde leerling"})
    items = {i["entry_id"]: i for i in d.get("/timeline?limit=500")["items"]}
    garage = items[ids["garage"]]
    assert garage["title"] == "Stagedag Autobedrijf Smit"
    assert garage["corrected"] is True
    assert garage["corrections"][0]["changes"] == {"title": "Stagedag Autobedrijf Smit"}
    assert items[ids["kantoor"]]["retracted"] is True
    assert items[ids["kantoor"]]["retraction"]["reason"] == "verkeerde leerling"


def test_as_of_gives_the_dossier_as_it_was_recorded_then(client, tokens):
    d, ids = build_career(client, tokens["coach"])
    moment = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    d.post(
        "/corrections",
        {"entry_id": ids["garage"], "changes": {"title": "Nieuwe titel"}, "reason": "x"},
    )
    d.experience("Open dag ROC", "2025-03-01", "positive", "Veel gezien.", "open_dag")
    then = d.get(f"/timeline?limit=500&as_of={moment}")["items"]
    now = d.get("/timeline?limit=500")["items"]
    assert len(now) == len(then) + 1
    garage_then = next(i for i in then if i["entry_id"] == ids["garage"])
    assert (garage_then["title"], garage_then["corrected"]) == ("Stagedag garage", False)


def test_story_merges_differently_written_labels_into_a_common_thread(client, tokens):
    d, ids = build_career(client, tokens["coach"])
    story = d.get("/story")
    (teamwork,) = [q for q in story["qualities"] if q["label"] == "samenwerken"]
    assert teamwork["count"] == 2
    assert teamwork["recurring"] is True
    assert teamwork["labels_as_written"] == ["Samenwerken", "goed kunnen samenwerken"]
    assert [e["id"] for e in teamwork["experiences"]] == [ids["garage"], ids["fiets"]]
    assert (teamwork["first_seen"], teamwork["last_seen"]) == ("2022-11-14", "2023-10-05")
    assert teamwork["school_years"] == ["2022-2023", "2023-2024"]
    assert teamwork["emotions"] == {"positive": 2}
    (outside,) = story["motives"]
    assert (outside["count"], outside["recurring"]) == (1, False)


def test_story_shows_gaps_open_actions_and_incomplete_conversations(client, tokens):
    d, ids = build_career(client, tokens["coach"])
    story = d.get("/story")
    (incomplete,) = story["incomplete_conversations"]
    assert (incomplete["entry_id"], incomplete["missing"]) == (ids["talk"], ["activeren"])
    (action,) = story["open_actions"]
    assert (action["entry_id"], action["overdue"]) == (ids["action"], True)
    assert story["competencies"]["2023-2024"]["kwaliteitenreflectie"]
    assert story["competencies"]["2022-2023"]["netwerken"] == []


def test_story_suggests_lexicon_words_from_stories_not_yet_recorded(client, tokens):
    d, ids = build_career(client, tokens["coach"])
    notes = "Daan wil graag samenwerken. Hij is erg geduldig met klanten."
    phase = d.post(f"/conversations/{ids['talk']}/phases", {"phase": "activeren", "notes": notes})
    suggestions = d.get("/story")["suggestions"]
    labels = {s["label"] for s in suggestions}
    assert "samenwerken" not in labels  # recorded already as an insight
    assert {
        "label": "geduldig",
        "kind": "quality",
        "sentence": "Hij is erg geduldig met klanten.",
        "entry_id": phase,
        "entry_type": "phase",
    } in suggestions
    garage = [s for s in suggestions if s["entry_id"] == ids["garage"]]
    assert [(s["label"], s["sentence"]) for s in garage] == [
        ("auto's", "Ik hielp een monteur met banden wisselen.")
    ]


def test_corrected_stories_and_notes_give_their_new_mentions_also_after_a_rebuild(
    client, tokens, services
):
    d, ids = build_career(client, tokens["coach"])
    notes = "Daan is erg geduldig met klanten."
    phase = d.post(f"/conversations/{ids['talk']}/phases", {"phase": "activeren", "notes": notes})
    corrections = {
        ids["garage"]: {"story": "Ik was geduldig met een lastige klant."},
        phase: {"notes": "Daan werkt graag zelfstandig."},
    }
    for entry_id, changes in corrections.items():
        d.post("/corrections", {"entry_id": entry_id, "changes": changes, "reason": "anders"})

    def found() -> dict[str, set[str]]:
        suggestions = d.get("/story")["suggestions"]
        return {e: {s["label"] for s in suggestions if s["entry_id"] == e} for e in corrections}

    assert found() == {ids["garage"]: {"geduldig"}, phase: {"zelfstandig werken"}}
    services.follower.rebuild(batch=1, helpers=0)  # each correction apart from its entry
    assert found() == {ids["garage"]: {"geduldig"}, phase: {"zelfstandig werken"}}


def test_each_text_the_timeline_finds_mentions_in_is_the_field_of_one_entry_type():
    """The timeline tells a corrected text's entry by the field alone (Timeline._revise)."""
    for entry_type, field in TEXT_FIELDS.items():
        assert [t for t, rules in ENTRY_RULES.items() if field in rules] == [entry_type]


def test_timeline_of_another_schools_pupil_does_not_exist(client, tokens):
    d, _ = build_career(client, tokens["coach"])
    for view in ("/timeline", "/story"):
        assert client.get(d.base + view, headers=tokens["other_school"]).status_code == 404
        assert client.get(d.base + view, headers=tokens["auditor"]).status_code == 403


# Every career starts with a talk about an experience, so each example has phases and an
# insight tied to a conversation for the random commands after it to move or retract.
COMMANDS = st.lists(
    st.sampled_from(
        [
            "experience",
            "conversation",
            "phase",
            "insight",
            "action",
            "complete",
            "correct",
            "retract",
            "enrol",
            "move_conversation",
            "retract_conversation",
        ]
    ),
    min_size=1,
    max_size=25,
).map(lambda drawn: ["experience", "conversation", "phase", "insight", *drawn])


def play(services, actor: Actor, pupil_id, commands: list[str], draw, after_each=None) -> None:
    """Run a random but valid command sequence; refused commands are simply skipped.
    `after_each` runs after every command that was accepted."""
    from datetime import date

    from dossier.errors import DomainError

    made: dict[str, list] = {"experience": [], "conversation": [], "action": [], "any": []}
    app = services.dossiers
    for n, command in enumerate(commands):
        try:
            if command == "experience":
                values = {
                    "kind": "stage",
                    "title": f"Ervaring {n}",
                    "occurred_on": date(2024, 1 + n % 12, 1),
                    "story": "Ik hielp klanten en werkte samen.",
                    "emotion": draw(st.sampled_from(["positive", "negative"])),
                }
                made["experience"].append(app.record_experience(actor, pupil_id, values).id)
            elif command == "conversation":
                made["conversation"].append(
                    app.hold_conversation(
                        actor,
                        pupil_id,
                        {"held_on": date(2024, 6, 1), "experience_ids": made["experience"][-1:]},
                    ).id
                )
            elif command == "phase" and made["conversation"]:
                app.record_phase(
                    actor,
                    pupil_id,
                    draw(st.sampled_from(made["conversation"])),
                    {
                        "phase": draw(st.sampled_from(PHASES)),
                        "notes": "Zorgzaam.",
                    },
                )
            elif command == "insight" and made["experience"]:
                values = {
                    "kind": "quality",
                    "label": draw(st.sampled_from(["samenwerken", "Samenwerking", "geduld"])),
                    "experience_ids": [draw(st.sampled_from(made["experience"]))],
                }
                talk = draw(st.sampled_from([None, *made["conversation"]]))
                app.record_insight(actor, pupil_id, {**values, "conversation_id": talk})
            elif command == "action":
                made["action"].append(
                    app.plan_action(
                        actor, pupil_id, {"description": "Bellen", "due_on": date(2024, 9, 1)}
                    ).id
                )
            elif command == "complete" and made["action"]:
                app.complete_action(actor, pupil_id, draw(st.sampled_from(made["action"])), "klaar")
            elif command == "correct" and made["experience"]:
                app.correct_entry(
                    actor,
                    pupil_id,
                    draw(st.sampled_from(made["experience"])),
                    {"title": f"Gecorrigeerd {n}"},
                    "typo",
                )
            elif command == "retract" and made["experience"]:
                app.retract_entry(
                    actor, pupil_id, draw(st.sampled_from(made["experience"])), "fout"
                )
            elif command == "enrol":
                app.change_enrolment(
                    actor, pupil_id, {"school_year": "2024-2025", "sector": "mbo", "grade": 1}
                )
            elif command == "move_conversation" and made["conversation"]:
                app.correct_entry(
                    actor,
                    pupil_id,
                    draw(st.sampled_from(made["conversation"])),
                    {"held_on": date(2024, 1 + n % 12, 15)},
                    "andere dag",
                )
            elif command == "retract_conversation" and made["conversation"]:
                app.retract_entry(
                    actor, pupil_id, draw(st.sampled_from(made["conversation"])), "fout"
                )
            else:
                continue
        except DomainError:
            continue
        if after_each is not None:
            after_each()


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(commands=COMMANDS, data=st.data())
def test_rebuilt_read_models_equal_the_incrementally_kept_ones(tmp_path_factory, commands, data):
    db = str(tmp_path_factory.mktemp("rebuild") / "d.sqlite")
    services = open_services(db)
    try:
        services.accounts.add_school("SCH1", "School")
        _, token = services.accounts.add_user("SCH1", "coach", "Coach")
        actor = services.accounts.authenticate(token)
        values = {"name": "Pupil", "sector": "vmbo", "grade": 3, "school_year": "2023-2024"}
        pupil_id = services.dossiers.open_dossier(actor, values).id
        play(services, actor, pupil_id, commands, data.draw)
        filters = {"limit": 1000}
        before = services.queries.timeline(actor, str(pupil_id), filters)
        story_before = services.queries.story(actor, str(pupil_id), services.dossiers.today())
        pupils_before = services.queries.pupils(actor, None, 10)
        services.follower.rebuild()
        assert services.queries.timeline(actor, str(pupil_id), filters) == before
        assert (
            services.queries.story(actor, str(pupil_id), services.dossiers.today()) == story_before
        )
        assert services.queries.pupils(actor, None, 10) == pupils_before
    finally:
        services.close()


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(commands=COMMANDS, data=st.data())
def test_reading_after_each_write_gives_what_folding_afresh_gives(tmp_path_factory, commands, data):
    """Reads extend the remembered fold by the rows of new writes; that must equal
    folding the whole dossier again, and must leave what earlier readers hold untouched."""
    db = str(tmp_path_factory.mktemp("extend") / "d.sqlite")
    services = open_services(db)
    try:
        services.accounts.add_school("SCH1", "School")
        actor = services.accounts.authenticate(
            services.accounts.add_user("SCH1", "coach", "Coach")[1]
        )
        values = {"name": "Pupil", "sector": "vmbo", "grade": 3, "school_year": "2023-2024"}
        pupil_id = str(services.dossiers.open_dossier(actor, values).id)
        seen: list[tuple[Any, Any]] = []

        def compare() -> None:
            services.queries.timeline(actor, pupil_id, {"limit": 1000})  # extends the fold
            version = services.dossiers.get_dossier(actor, UUID(pupil_id)).version
            with services.reads.transaction() as tx:
                extended, afresh = fold_current(tx, pupil_id, version), fold(tx, pupil_id)
            assert extended.items == afresh
            seen.append((extended, copy.deepcopy(extended.items)))

        play(services, actor, UUID(pupil_id), commands, data.draw, after_each=compare)
        assert all(folded.items == items for folded, items in seen), "an earlier fold changed"
    finally:
        services.close()


def test_rebuild_over_a_career_gives_the_same_timeline_and_story(client, tokens, services):
    d, ids = build_career(client, tokens["coach"])
    d.post(
        "/corrections",
        {"entry_id": ids["garage"], "changes": {"title": "Garage Smit"}, "reason": "x"},
    )
    d.post("/retractions", {"entry_id": ids["kantoor"], "reason": "dubbel"})
    timeline, story = d.get("/timeline?limit=500"), d.get("/story")
    services.follower.rebuild()
    assert d.get("/timeline?limit=500") == timeline
    assert d.get("/story") == story
    assert all(status.lag == 0 for status in services.follower.status())


def test_corrected_conversation_date_moves_its_phases_and_insights(client, tokens):
    d, ids = build_career(client, tokens["coach"])
    insight = d.post(
        "/insights",
        {
            "kind": "interest",
            "label": "techniek",
            "experience_ids": [ids["fiets"]],
            "conversation_id": ids["talk"],
        },
    )
    d.post(
        "/corrections",
        {"entry_id": ids["talk"], "changes": {"held_on": "2023-10-19"}, "reason": "datum"},
    )
    items = {i["entry_id"]: i for i in d.get("/timeline?limit=500")["items"]}
    assert items[ids["talk"]]["date"] == "2023-10-19"
    assert items[insight]["date"] == "2023-10-19"


def test_a_read_model_whose_version_changed_is_rebuilt_at_start(tmp_path):
    db = str(tmp_path / "d.sqlite")
    first = open_services(db)
    first.accounts.add_school("SCH1", "School")
    actor = first.accounts.authenticate(first.accounts.add_user("SCH1", "counsellor", "Ria")[1])
    pupil = first.dossiers.open_dossier(
        actor, {"name": "Sam", "sector": "mbo", "grade": 2, "school_year": "2024-2025"}
    ).id
    before = first.queries.timeline(actor, str(pupil), {"limit": 50})
    with first.reads.transaction(write=True) as tx:
        tx.execute("UPDATE projection_positions SET version = 'older' WHERE name = 'timeline'")
    first.close()
    again = open_services(db)
    try:
        positions = {s.name: s.position for s in again.follower.status()}
        assert positions == {"pupils": 1, "timeline": 0}
        assert again.queries.timeline(actor, str(pupil), {"limit": 50}) == before
    finally:
        again.close()


def test_rebuilding_one_read_model_leaves_the_others_alone(tmp_path, caplog):
    services = open_services(str(tmp_path / "d.sqlite"))
    try:
        fill(services, 300, seed=4)
        kept = services.reads.query("SELECT * FROM pupils ORDER BY pupil_id")
        services.follower.rebuild(["timeline"])
        assert services.reads.query("SELECT * FROM pupils ORDER BY pupil_id") == kept
        assert [s.lag for s in services.follower.status()] == [0, 0]
        assert not [r for r in caplog.records if r.levelname in ("WARNING", "ERROR")]
    finally:
        services.close()


def zeroing_deleted_pages(services, setting: int | None = None) -> int:
    with services.reads.transaction(write=True) as tx:
        if setting is not None:
            tx.execute(f"PRAGMA secure_delete = {setting}")
        return int(tx.query("PRAGMA secure_delete")[0]["secure_delete"])


def test_a_rebuild_leaves_the_zeroing_of_deleted_data_as_it_was(tmp_path):
    """A rebuild drops its derived rows without zeroing them (they stay in the events);
    the connection, which the events share, zeroes deleted data as before."""
    services = open_services(str(tmp_path / "d.sqlite"))
    try:
        actor, pupil, _ = small_dossier(services)
        before = zeroing_deleted_pages(services, setting=1)  # on, as Debian builds SQLite
        shown = services.queries.timeline(actor, str(pupil), {"limit": 50})

        services.follower.rebuild()

        assert zeroing_deleted_pages(services) == before
        assert services.queries.timeline(actor, str(pupil), {"limit": 50}) == shown
    finally:
        services.close()


def small_dossier(services) -> tuple[Actor, Any, Any]:
    services.accounts.add_school("SCH1", "School")
    actor = services.accounts.authenticate(services.accounts.add_user("SCH1", "coach", "C")[1])
    values = {"name": "Pupil", "sector": "vmbo", "grade": 3, "school_year": "2023-2024"}
    pupil = services.dossiers.open_dossier(actor, values).id
    experience = {
        "kind": "stage",
        "occurred_on": datetime(2024, 1, 1).date(),
        "story": "Hielp.",
        "emotion": "positive",
    }
    first = services.dossiers.record_experience(actor, pupil, {**experience, "title": "A"}).id
    services.dossiers.record_experience(actor, pupil, {**experience, "title": "B"})
    return actor, pupil, first


def shown_equals_afresh(services, actor: Actor, pupil: Any) -> bool:
    shown, _ = services.queries.timeline(actor, str(pupil), {"limit": 100})
    with services.reads.transaction() as tx:
        afresh = fold(tx, str(pupil))
    by_id = {item["entry_id"]: item for item in shown}
    return len(shown) == len(afresh) and all(
        by_id[key]["corrections"] == item["corrections"] and by_id[key]["date"] == item["date"]
        for key, item in afresh.items()
    )


def test_a_fold_is_remembered_under_the_version_its_rows_belong_to(tmp_path):
    """A reader that saw version v before a write committed v+1 (as separate statements
    under PostgreSQL's READ COMMITTED can) must not remember v+1's rows as version v."""
    services = open_services(str(tmp_path / "d.sqlite"))
    try:
        actor, pupil, first = small_dossier(services)
        forget_folds()
        with services.reads.transaction() as tx:
            seen = services.dossiers.get_dossier(actor, pupil).version
        services.dossiers.correct_entry(actor, pupil, first, {"title": "A2"}, "typo")
        with services.reads.transaction() as tx:
            fold_current(tx, str(pupil), seen)
        assert shown_equals_afresh(services, actor, pupil)
    finally:
        services.close()


def test_a_fold_read_while_the_timeline_is_rebuilt_is_not_remembered(tmp_path):
    services = open_services(str(tmp_path / "d.sqlite"))
    try:
        actor, pupil, _ = small_dossier(services)
        forget_folds()
        timeline = services.follower.models["timeline"]
        with services.reads.transaction(write=True) as tx:  # a rebuild's first step
            timeline.drop(tx)
            timeline.create(tx)
            tx.execute("UPDATE projection_positions SET position = 0 WHERE name = 'timeline'")
        with services.reads.transaction() as tx:  # a reader caught up just before it
            fold_current(tx, str(pupil), services.dossiers.get_dossier(actor, pupil).version)
        services.follower.catch_up()  # the rebuild ends
        services.dossiers.record_experience(
            actor,
            pupil,
            {
                "kind": "stage",
                "title": "C",
                "occurred_on": datetime(2024, 2, 1).date(),
                "story": "Weer.",
                "emotion": "neutral",
            },
        )
        assert shown_equals_afresh(services, actor, pupil)
    finally:
        services.close()


def test_an_event_that_cannot_be_prepared_leaves_the_rest_of_its_batch_prepared(tmp_path):
    """Finding mentions is done before the write lock; one malformed event (here a dossier
    opened without its enrolment) must not send its whole batch's texts to be worked out
    under the lock."""
    services = open_services(str(tmp_path / "d.sqlite"))
    try:
        fill(services, 60, seed=5)
        recorder, follower = services.dossiers.recorder, services.follower
        events = [follower.decode(n) for n in recorder.select_notifications(0, 1000)]
        broken = copy.deepcopy(next(e for e in events if e.type == "Opened"))
        del broken.fields["enrolment_id"]
        batch = [broken, *(copy.deepcopy(e) for e in events)]

        timeline = follower.models["timeline"]
        timeline.prepare(batch)

        assert "timeline" not in batch[0].prepared
        assert all("timeline" in e.prepared for e in batch[1:])
    finally:
        services.close()


def pupil_tables(services) -> list[list[Any]]:
    return [
        [dict(row) for row in services.reads.query(f"SELECT * FROM {table} ORDER BY 1, 2")]
        for table in ("pupils", "pupil_enrolments", "pupil_coaches")
    ]


def test_pupils_opened_and_changed_in_one_batch_rebuild_as_they_were_kept(tmp_path):
    """A rebuild keeps a batch's new pupils to write them together; what changes them
    later in the same batch (coaches, enrolments) must still apply after them."""
    services = open_services(str(tmp_path / "d.sqlite"))
    try:
        services.accounts.add_school("SCH1", "School")
        _, token = services.accounts.add_user("SCH1", "counsellor", "Decaan")
        actor = services.accounts.authenticate(token)
        coach, _ = services.accounts.add_user("SCH1", "coach", "Mentor")
        values = {"name": "Pupil", "sector": "vmbo", "grade": 3, "school_year": "2023-2024"}
        for _ in range(3):
            pupil = services.dossiers.open_dossier(actor, values).id
            services.dossiers.assign_coach(actor, pupil, coach)
            services.dossiers.unassign_coach(actor, pupil, coach)
            services.dossiers.assign_coach(actor, pupil, coach)
            enrolment = {"sector": "mbo", "grade": 1, "school_year": "2024-2025"}
            services.dossiers.change_enrolment(actor, pupil, enrolment)
        kept = pupil_tables(services)
        assert [len(rows) for rows in kept] == [3, 6, 3]

        services.follower.rebuild()  # all in one batch

        assert pupil_tables(services) == kept
    finally:
        services.close()
