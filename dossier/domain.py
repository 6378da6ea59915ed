"""The `Dossier` aggregate: one event stream per pupil.

Every event carries `actor` (who recorded it: user id, role, school). The library
stamps each event with its `timestamp` (recorded-at); the domain date of when a thing
happened (`occurred_on`, `held_on`, ...) is a field of its own. `CONTENT_FIELDS` lists,
per event, the fields that hold what was said or written, so that a storage mapper can
treat them apart (per-pupil encryption) and audit views can leave them out.

Aggregate state is plain data (dicts of strings, dates and lists) so that it
snapshots with the standard transcoder.
"""

import copy
from collections.abc import Mapping
from datetime import date
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from dossier.errors import (
    ActionClosed,
    CoachAlreadyAssigned,
    EntryRetracted,
    InvalidValue,
    NoConsent,
    PhaseAlreadyRecorded,
    UnknownEntry,
)
from dossier.rules import clean, reason_text
from dossier.vocabulary import PHASES

Actor = dict[str, str]
CONSENT_AGE = 16

CONTENT_FIELDS: Mapping[str, frozenset[str]] = {
    "Opened": frozenset({"name", "external_ref"}),
    "ExperienceRecorded": frozenset({"title", "story", "place"}),
    "PhaseRecorded": frozenset({"notes", "questions"}),
    "InsightRecorded": frozenset({"label", "words"}),
    "ActionPlanned": frozenset({"description", "helper", "obstacles"}),
    "ActionCompleted": frozenset({"outcome"}),
    "ActionAbandoned": frozenset({"reason"}),
    "EntryCorrected": frozenset({"changes", "reason"}),
    "EntryRetracted": frozenset({"reason"}),
    "ConsentWithdrawn": frozenset({"reason"}),
    "TransferReceived": frozenset(),
}

# The field naming the entry each kind of event adds to the dossier (`Dossier._add_entry`).
# An entry id names one entry: replaying a second event that adds the same id replaces
# the first, so an import refuses a history that does (dossier.transfers).
ENTRY_IDS: Mapping[str, str] = {
    "Opened": "enrolment_id",
    "EnrolmentChanged": "entry_id",
    "ExperienceRecorded": "entry_id",
    "ConversationHeld": "entry_id",
    "PhaseRecorded": "entry_id",
    "InsightRecorded": "entry_id",
    "ActionPlanned": "entry_id",
}


class Dossier(Aggregate):
    """A pupil's loopbaandossier at one school."""

    @event("Opened")
    def __init__(
        self,
        actor: Actor,
        school: str,
        name: str,
        external_ref: str | None,
        enrolment_id: UUID,
        school_year: str,
        sector: str,
        grade: int,
        coaches: list[str],
        date_of_birth: date | None = None,
    ) -> None:
        self.school = school
        self.name = name
        self.external_ref = external_ref
        self.date_of_birth = date_of_birth
        self.consents: dict[str, dict[str, Any]] = {}
        self.types: dict[str, str] = {}
        self.retracted: dict[str, bool] = {}
        self.enrolments: dict[str, dict[str, Any]] = {}
        self.phases: dict[str, list[str]] = {}
        self.phase_of: dict[str, list[str]] = {}
        self.action_status: dict[str, str] = {}
        self.coaches = list(coaches)
        self._add_enrolment(enrolment_id, school, school_year, sector, grade)

    # Commands: each checks the rules, then triggers one event.

    @classmethod
    def open(
        cls,
        actor: Actor,
        enrolment_id: UUID,
        values: Mapping[str, Any],
        coaches: list[str],
        today: date,
    ) -> "Dossier":
        """Open a dossier; a coach who opens it is its first assigned coach."""
        fields = clean("pupil", {"external_ref": None, "date_of_birth": None, **values}, today)
        return cls(
            actor=actor,
            school=actor["school"],
            enrolment_id=enrolment_id,
            coaches=coaches,
            **fields,
        )

    def change_enrolment(
        self, actor: Actor, entry_id: UUID, values: Mapping[str, Any], today: date
    ) -> None:
        self._check_new_entry(entry_id)
        fields = clean("enrolment", values, today)
        self._change_enrolment(actor=actor, entry_id=entry_id, school=actor["school"], **fields)

    def record_experience(
        self, actor: Actor, entry_id: UUID, values: Mapping[str, Any], today: date
    ) -> None:
        self._check_new_entry(entry_id)
        fields = clean("experience", {"place": None, **values}, today)
        self._record_experience(actor=actor, entry_id=entry_id, **fields)

    def hold_conversation(
        self, actor: Actor, entry_id: UUID, values: Mapping[str, Any], today: date
    ) -> None:
        self._check_new_entry(entry_id)
        fields = clean("conversation", values, today)
        self.check_live_entries(fields["experience_ids"], "experience", "experience_ids")
        self._hold_conversation(actor=actor, entry_id=entry_id, coach=actor["user_id"], **fields)

    def record_phase(
        self,
        actor: Actor,
        entry_id: UUID,
        conversation_id: UUID,
        phase: str,
        values: Mapping[str, Any],
        today: date,
    ) -> None:
        self._check_new_entry(entry_id)
        if phase not in PHASES:
            raise InvalidValue(f"phase must be one of {', '.join(PHASES)}", field="phase")
        self.live_entry(conversation_id, "conversation", "conversation_id")
        if phase in self.phases[str(conversation_id)]:
            raise PhaseAlreadyRecorded(
                f"phase {phase} is already recorded in this conversation; correct it instead",
                field="phase",
            )
        fields = clean("phase", {"questions": [], **values}, today)
        self._record_phase(
            actor=actor, entry_id=entry_id, conversation_id=conversation_id, phase=phase, **fields
        )

    def record_insight(
        self,
        actor: Actor,
        entry_id: UUID,
        values: Mapping[str, Any],
        conversation_id: UUID | None,
        today: date,
    ) -> None:
        self._check_new_entry(entry_id)
        fields = clean("insight", {"words": None, **values}, today)
        self.check_live_entries(fields["experience_ids"], "experience", "experience_ids")
        if conversation_id is not None:
            self.live_entry(conversation_id, "conversation", "conversation_id")
        self._record_insight(
            actor=actor, entry_id=entry_id, conversation_id=conversation_id, **fields
        )

    def plan_action(
        self,
        actor: Actor,
        entry_id: UUID,
        values: Mapping[str, Any],
        conversation_id: UUID | None,
        today: date,
    ) -> None:
        self._check_new_entry(entry_id)
        fields = clean("action", {"helper": None, "obstacles": None, **values}, today)
        if conversation_id is not None:
            self.live_entry(conversation_id, "conversation", "conversation_id")
        self._plan_action(actor=actor, entry_id=entry_id, conversation_id=conversation_id, **fields)

    def complete_action(self, actor: Actor, action_id: UUID, outcome: str, today: date) -> None:
        self.check_action_open(action_id)
        outcome = reason_text("outcome", outcome)
        self._complete_action(actor=actor, action_id=action_id, outcome=outcome, completed_on=today)

    def abandon_action(self, actor: Actor, action_id: UUID, reason: str, today: date) -> None:
        self.check_action_open(action_id)
        reason = reason_text("reason", reason)
        self._abandon_action(actor=actor, action_id=action_id, reason=reason, abandoned_on=today)

    def correct_entry(
        self, actor: Actor, entry_id: UUID, changes: Mapping[str, Any], reason: str, today: date
    ) -> None:
        entry_type = self.live_entry(entry_id, None, "entry_id")
        if not changes:
            raise InvalidValue("changes must name at least one field", field="changes")
        fields = clean(entry_type, changes, today, partial=True)
        if "experience_ids" in fields:
            self.check_live_entries(fields["experience_ids"], "experience", "experience_ids")
        reason = reason_text("reason", reason)
        self._correct_entry(actor=actor, entry_id=entry_id, changes=fields, reason=reason)

    def retract_entry(self, actor: Actor, entry_id: UUID, reason: str, today: date) -> None:
        entry_type = self.live_entry(entry_id, None, "entry_id")
        if entry_type == "enrolment" and len(self._live_enrolments()) == 1:
            raise InvalidValue("a dossier keeps at least one enrolment", field="entry_id")
        reason = reason_text("reason", reason)
        self._retract_entry(actor=actor, entry_id=entry_id, reason=reason)

    @property
    def enrolment(self) -> dict[str, Any]:
        """The latest enrolment that was not retracted, with its corrections."""
        return dict(self._live_enrolments()[-1])

    def _live_enrolments(self) -> list[dict[str, Any]]:
        return [e for i, e in self.enrolments.items() if i not in self.retracted]

    def assign_coach(self, actor: Actor, coach_id: str) -> None:
        if coach_id in self.coaches:
            raise CoachAlreadyAssigned(f"coach {coach_id} is already assigned", field="user_id")
        self._assign_coach(actor=actor, coach_id=coach_id)

    def unassign_coach(self, actor: Actor, coach_id: str) -> None:
        if coach_id not in self.coaches:
            raise UnknownEntry(f"coach {coach_id} is not assigned to this pupil", field="user_id")
        self._unassign_coach(actor=actor, coach_id=coach_id)

    def give_consent(
        self,
        actor: Actor,
        entry_id: UUID,
        given_by: str,
        to_school: str | None,
        today: date,
    ) -> None:
        """Consent to transfer the dossier: a parent's under 16, the pupil's own from 16."""
        if given_by not in ("pupil", "parent"):
            raise InvalidValue("given_by must be pupil or parent", field="given_by")
        if not self._giver_counts(given_by, today):
            who = "the pupil's own" if given_by == "parent" else "a parent's"
            raise InvalidValue(f"at this age {who} consent is needed", field="given_by")
        self._give_consent(
            actor=actor, entry_id=entry_id, purpose="transfer", given_by=given_by,
            to_school=to_school, given_on=today,
        )  # fmt: skip

    def withdraw_consent(
        self, actor: Actor, consent_id: UUID, reason: str | None, today: date
    ) -> None:
        consent = self.consents.get(str(consent_id))
        if consent is None or consent["withdrawn"]:
            raise UnknownEntry(f"no consent {consent_id} in force", field="consent_id")
        reason = reason_text("reason", reason) if reason is not None else None
        self._withdraw_consent(
            actor=actor, consent_id=consent_id, withdrawn_on=today, reason=reason
        )

    def consent_for(self, to_school: str | None, today: date) -> str | None:
        """The id of a transfer consent in force for that school, if any (newest first)."""
        for consent_id, consent in reversed(self.consents.items()):
            fits = consent["to_school"] in (None, to_school)
            if not consent["withdrawn"] and fits and self._giver_counts(consent["given_by"], today):
                return consent_id
        return None

    def age_on(self, today: date) -> int | None:
        birth = self.date_of_birth
        if birth is None:
            return None
        birth = date.fromisoformat(birth) if isinstance(birth, str) else birth
        return today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))

    def _giver_counts(self, given_by: str, today: date) -> bool:
        """Without a date of birth only a parent's consent counts."""
        age = self.age_on(today)
        if given_by == "parent":
            return age is None or age < CONSENT_AGE
        return age is not None and age >= CONSENT_AGE

    def record_export(
        self, actor: Actor, to_school: str | None, bundle_hash: str, today: date
    ) -> None:
        consent_id = self.consent_for(to_school, today)
        if consent_id is None:
            raise NoConsent("no consent to transfer this dossier is in force", field="to_school")
        self._record_export(
            actor=actor, to_school=to_school, consent_id=consent_id, bundle_hash=bundle_hash
        )

    def receive_transfer(
        self, actor: Actor, from_school: str, bundle_hash: str, exported_at: str
    ) -> None:
        """The receiving school takes the dossier over; its own coaches are assigned anew."""
        self._receive_transfer(
            actor=actor, from_school=from_school, bundle_hash=bundle_hash, exported_at=exported_at
        )

    # Guards.

    def live_entry(self, entry_id: UUID, entry_type: str | None, field: str) -> str:
        """The type of an entry that exists here, is of `entry_type` if given, and stands."""
        found = self.types.get(str(entry_id))
        if found is None:
            raise UnknownEntry(f"{field}: no entry {entry_id} in this dossier", field=field)
        if entry_type is not None and found != entry_type:
            raise UnknownEntry(f"{field}: {entry_id} is not a {entry_type}", field=field)
        if str(entry_id) in self.retracted:
            raise EntryRetracted(f"{field}: entry {entry_id} was retracted", field=field)
        return found

    def check_live_entries(self, entry_ids: list[UUID], entry_type: str, field: str) -> None:
        for entry_id in entry_ids:
            self.live_entry(entry_id, entry_type, field)

    def _check_new_entry(self, entry_id: UUID) -> None:
        """An entry id names one entry (see ENTRY_IDS): the application makes each afresh,
        so one already taken is a caller's bug, refused before any event is made."""
        if str(entry_id) in self.types:
            raise ValueError(f"entry id {entry_id} is taken in this dossier")

    def check_action_open(self, action_id: UUID) -> None:
        self.live_entry(action_id, "action", "action_id")
        status = self.action_status[str(action_id)]
        if status != "open":
            raise ActionClosed(f"this action is already {status}", field="action_id")

    # Event application: these bodies also run when the dossier is replayed.

    def __deepcopy__(self, memo: dict[int, Any]) -> "Dossier":
        """A copy for the aggregate cache. Cheap: state is maps and lists of values that
        are replaced, never changed in place, so copying one level deep suffices."""
        clone = copy.copy(self)
        for name, value in vars(self).items():
            if isinstance(value, dict | list):
                setattr(clone, name, copy.copy(value))
        return clone

    def _add_entry(self, entry_type: str, entry_id: UUID) -> str:
        key = str(entry_id)
        self.types[key] = entry_type
        return key

    def _add_enrolment(
        self, entry_id: UUID, school: str, school_year: str, sector: str, grade: int
    ) -> None:
        key = self._add_entry("enrolment", entry_id)
        enrolment = {"school": school, "school_year": school_year, "sector": sector, "grade": grade}
        self.enrolments[key] = enrolment

    @event("EnrolmentChanged")
    def _change_enrolment(
        self, actor: Actor, entry_id: UUID, school: str, school_year: str, sector: str, grade: int
    ) -> None:
        self._add_enrolment(entry_id, school, school_year, sector, grade)

    @event("ExperienceRecorded")
    def _record_experience(
        self,
        actor: Actor,
        entry_id: UUID,
        kind: str,
        title: str,
        occurred_on: date,
        story: str,
        emotion: str,
        place: str | None,
    ) -> None:
        self._add_entry("experience", entry_id)

    @event("ConversationHeld")
    def _hold_conversation(
        self, actor: Actor, entry_id: UUID, held_on: date, experience_ids: list[UUID], coach: str
    ) -> None:
        self.phases[self._add_entry("conversation", entry_id)] = []

    @event("PhaseRecorded")
    def _record_phase(
        self,
        actor: Actor,
        entry_id: UUID,
        conversation_id: UUID,
        phase: str,
        notes: str,
        questions: list[str],
    ) -> None:
        conversation = str(conversation_id)
        self.phase_of[self._add_entry("phase", entry_id)] = [conversation, phase]
        self.phases[conversation] = [*self.phases[conversation], phase]

    @event("InsightRecorded")
    def _record_insight(
        self,
        actor: Actor,
        entry_id: UUID,
        kind: str,
        label: str,
        words: str | None,
        experience_ids: list[UUID],
        conversation_id: UUID | None,
    ) -> None:
        self._add_entry("insight", entry_id)

    @event("ActionPlanned")
    def _plan_action(
        self,
        actor: Actor,
        entry_id: UUID,
        description: str,
        due_on: date,
        helper: str | None,
        obstacles: str | None,
        conversation_id: UUID | None,
    ) -> None:
        self.action_status[self._add_entry("action", entry_id)] = "open"

    @event("ActionCompleted")
    def _complete_action(
        self, actor: Actor, action_id: UUID, outcome: str, completed_on: date
    ) -> None:
        self.action_status[str(action_id)] = "completed"

    @event("ActionAbandoned")
    def _abandon_action(
        self, actor: Actor, action_id: UUID, reason: str, abandoned_on: date
    ) -> None:
        self.action_status[str(action_id)] = "abandoned"

    @event("EntryCorrected")
    def _correct_entry(
        self, actor: Actor, entry_id: UUID, changes: dict[str, Any], reason: str
    ) -> None:
        key = str(entry_id)
        if key in self.enrolments:
            old = self.enrolments[key]
            self.enrolments[key] = {**old, **{k: v for k, v in changes.items() if k in old}}

    @event("CoachAssigned")
    def _assign_coach(self, actor: Actor, coach_id: str) -> None:
        self.coaches = [*self.coaches, coach_id]

    @event("CoachUnassigned")
    def _unassign_coach(self, actor: Actor, coach_id: str) -> None:
        self.coaches = [c for c in self.coaches if c != coach_id]

    @event("ConsentGiven")
    def _give_consent(
        self,
        actor: Actor,
        entry_id: UUID,
        purpose: str,
        given_by: str,
        to_school: str | None,
        given_on: date,
    ) -> None:
        consent = {"given_by": given_by, "to_school": to_school, "withdrawn": False}
        self.consents[str(entry_id)] = consent

    @event("ConsentWithdrawn")
    def _withdraw_consent(
        self, actor: Actor, consent_id: UUID, withdrawn_on: date, reason: str | None = None
    ) -> None:
        self.consents[str(consent_id)] = {**self.consents[str(consent_id)], "withdrawn": True}

    @event("DossierExported")
    def _record_export(
        self, actor: Actor, to_school: str | None, consent_id: str, bundle_hash: str
    ) -> None:
        pass

    @event("TransferReceived")
    def _receive_transfer(
        self, actor: Actor, from_school: str, bundle_hash: str, exported_at: str
    ) -> None:
        self.school = actor["school"]
        self.coaches = []

    @event("EntryRetracted")
    def _retract_entry(self, actor: Actor, entry_id: UUID, reason: str) -> None:
        key = str(entry_id)
        self.retracted[key] = True
        if key in self.phase_of:
            conversation, phase = self.phase_of[key]
            self.phases[conversation] = [p for p in self.phases[conversation] if p != phase]
