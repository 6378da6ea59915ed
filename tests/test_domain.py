"""The Dossier aggregate's rules, without any storage."""

from datetime import date
from uuid import uuid4

import pytest

from dossier.domain import CONTENT_FIELDS, Dossier
from dossier.errors import (
    ActionClosed,
    EntryRetracted,
    FutureDate,
    InvalidValue,
    PhaseAlreadyRecorded,
    UnknownEntry,
)

TODAY = date(2025, 3, 1)
ACTOR = {"user_id": "u1", "role": "coach", "school": "SCH1"}
EXPERIENCE = {
    "kind": "stage",
    "title": "Stagedag bij de bakker",
    "occurred_on": date(2024, 10, 1),
    "story": "Ik mocht deeg kneden en de klanten helpen.",
    "emotion": "positive",
}


def new_dossier() -> Dossier:
    values = {"name": "Sanne", "sector": "vmbo", "grade": 3, "school_year": "2024-2025"}
    return Dossier.open(ACTOR, uuid4(), values, [], TODAY)


def with_experience() -> tuple[Dossier, object]:
    dossier, experience_id = new_dossier(), uuid4()
    dossier.record_experience(ACTOR, experience_id, EXPERIENCE, TODAY)
    return dossier, experience_id


def test_every_event_records_who_recorded_it() -> None:
    dossier, _ = with_experience()
    events = dossier.collect_events()
    assert [e.actor for e in events] == [ACTOR, ACTOR]


def test_an_entry_id_the_dossier_holds_is_refused_for_a_new_entry() -> None:
    dossier, experience_id = with_experience()
    conversation = {"held_on": date(2024, 10, 8), "experience_ids": [experience_id]}
    with pytest.raises(ValueError, match="is taken"):
        dossier.hold_conversation(ACTOR, experience_id, conversation, TODAY)
    with pytest.raises(ValueError, match="is taken"):
        dossier.record_experience(ACTOR, experience_id, EXPERIENCE, TODAY)
    assert dossier.version == 2


def test_experience_dated_in_the_future_is_refused() -> None:
    dossier = new_dossier()
    with pytest.raises(FutureDate):
        dossier.record_experience(
            ACTOR, uuid4(), {**EXPERIENCE, "occurred_on": date(2025, 3, 2)}, TODAY
        )


def test_experience_missing_a_required_field_is_refused_by_name() -> None:
    dossier = new_dossier()
    values = {k: v for k, v in EXPERIENCE.items() if k != "emotion"}
    with pytest.raises(InvalidValue) as refused:
        dossier.record_experience(ACTOR, uuid4(), values, TODAY)
    assert refused.value.field == "emotion"
    assert dossier.version == 1


def test_insight_needs_evidence_from_this_dossier() -> None:
    dossier, _ = with_experience()
    values = {"kind": "quality", "label": "samenwerken", "experience_ids": [uuid4()]}
    with pytest.raises(UnknownEntry):
        dossier.record_insight(ACTOR, uuid4(), values, None, TODAY)


def test_insight_without_evidence_is_refused() -> None:
    dossier, _ = with_experience()
    values = {"kind": "quality", "label": "samenwerken", "experience_ids": []}
    with pytest.raises(InvalidValue):
        dossier.record_insight(ACTOR, uuid4(), values, None, TODAY)


def test_phase_for_unknown_conversation_is_refused() -> None:
    dossier = new_dossier()
    with pytest.raises(UnknownEntry):
        dossier.record_phase(ACTOR, uuid4(), uuid4(), "terugkijken", {"notes": "x"}, TODAY)


def test_same_phase_twice_in_a_conversation_is_refused() -> None:
    dossier, experience_id = with_experience()
    conversation_id = uuid4()
    dossier.hold_conversation(
        ACTOR, conversation_id, {"held_on": TODAY, "experience_ids": [experience_id]}, TODAY
    )
    dossier.record_phase(ACTOR, uuid4(), conversation_id, "reflecteren", {"notes": "a"}, TODAY)
    with pytest.raises(PhaseAlreadyRecorded):
        dossier.record_phase(ACTOR, uuid4(), conversation_id, "reflecteren", {"notes": "b"}, TODAY)


def test_completing_an_action_twice_is_refused() -> None:
    dossier, action_id = new_dossier(), uuid4()
    dossier.plan_action(
        ACTOR, action_id, {"description": "Bel de garage", "due_on": TODAY}, None, TODAY
    )
    dossier.complete_action(ACTOR, action_id, "Gebeld, mag meelopen", TODAY)
    with pytest.raises(ActionClosed):
        dossier.complete_action(ACTOR, action_id, "nog eens", TODAY)
    with pytest.raises(ActionClosed):
        dossier.abandon_action(ACTOR, action_id, "toch niet", TODAY)


def test_correction_is_a_new_event_and_keeps_the_original() -> None:
    dossier, experience_id = with_experience()
    dossier.correct_entry(ACTOR, experience_id, {"occurred_on": "2024-09-30"}, "typo", TODAY)
    recorded, corrected = dossier.collect_events()[1:]
    assert recorded.occurred_on == date(2024, 10, 1)
    assert corrected.changes == {"occurred_on": date(2024, 9, 30)}


def test_correcting_a_field_the_entry_does_not_have_is_refused() -> None:
    dossier, experience_id = with_experience()
    with pytest.raises(InvalidValue, match="no field due_on"):
        dossier.correct_entry(ACTOR, experience_id, {"due_on": "2024-09-30"}, "typo", TODAY)


def test_correcting_a_retracted_entry_is_refused() -> None:
    dossier, experience_id = with_experience()
    dossier.retract_entry(ACTOR, experience_id, "verkeerde leerling", TODAY)
    with pytest.raises(EntryRetracted):
        dossier.correct_entry(ACTOR, experience_id, {"title": "Nieuw"}, "typo", TODAY)


def test_retracted_experience_cannot_be_used_as_evidence() -> None:
    dossier, experience_id = with_experience()
    dossier.retract_entry(ACTOR, experience_id, "dubbel ingevoerd", TODAY)
    values = {"kind": "quality", "label": "samenwerken", "experience_ids": [experience_id]}
    with pytest.raises(EntryRetracted):
        dossier.record_insight(ACTOR, uuid4(), values, None, TODAY)


def test_the_only_enrolment_cannot_be_retracted() -> None:
    dossier = new_dossier()
    (enrolment_id,) = dossier.enrolments
    with pytest.raises(InvalidValue):
        dossier.retract_entry(ACTOR, enrolment_id, "fout", TODAY)


def test_corrected_enrolment_is_the_current_one() -> None:
    dossier, enrolment_id = new_dossier(), uuid4()
    values = {"school_year": "2025-2026", "sector": "mbo", "grade": 1}
    dossier.change_enrolment(ACTOR, enrolment_id, values, TODAY)
    dossier.correct_entry(ACTOR, enrolment_id, {"grade": 2}, "niveau 2", TODAY)
    assert dossier.enrolment["grade"] == 2
    assert dossier.enrolment["sector"] == "mbo"


@pytest.mark.parametrize("school_year", ["2024-2026", "24-25", "2024/2025"])
def test_school_year_must_be_two_consecutive_years(school_year: str) -> None:
    dossier = new_dossier()
    with pytest.raises(InvalidValue):
        dossier.change_enrolment(
            ACTOR, uuid4(), {"school_year": school_year, "sector": "vmbo", "grade": 4}, TODAY
        )


def test_bsn_is_refused_as_external_reference() -> None:
    values = {"name": "Sanne", "sector": "vmbo", "grade": 3, "school_year": "2024-2025"}
    with pytest.raises(InvalidValue, match="BSN"):
        Dossier.open(ACTOR, uuid4(), {**values, "external_ref": "111222333"}, [], TODAY)


def test_content_fields_are_declared_for_every_event_that_holds_words() -> None:
    dossier, _ = with_experience()
    event = dossier.collect_events()[1]
    assert CONTENT_FIELDS["ExperienceRecorded"] <= set(vars(event))


def test_a_copy_from_the_cache_does_not_share_changes() -> None:
    import copy

    dossier, experience_id = with_experience()
    dossier.collect_events()
    clone = copy.deepcopy(dossier)
    clone.retract_entry(ACTOR, experience_id, "fout", TODAY)
    clone.assign_coach(ACTOR, "coach-2")
    assert str(experience_id) not in dossier.retracted
    assert dossier.coaches == []
    assert dossier.collect_events() == []
