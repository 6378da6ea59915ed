"""`Dossiers`: the application service for pupils' dossiers.

Each command loads one dossier, checks scope, calls one aggregate method and saves.
A save that loses a race with another writer is retried on the fresh dossier,
unless the caller pinned a version (If-Match), which then conflicts instead.
"""

import logging
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, ClassVar
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import IntegrityError, JSONTranscoder, Recording

from dossier.access import (
    Actor,
    check_in_scope,
    check_may_assign_coaches,
    check_may_use_dossiers,
)
from dossier.domain import Dossier
from dossier.errors import DossierNotFound, InvalidValue, VersionConflict
from dossier.plain import event_data, event_type
from dossier.replay import replay
from dossier.transcoding import DateAsISO

log = logging.getLogger(__name__)
SCHOOL_TIMEZONE = ZoneInfo("Europe/Amsterdam")
MAX_ATTEMPTS = 50


def school_today() -> date:
    return datetime.now(SCHOOL_TIMEZONE).date()


@dataclass(frozen=True)
class Receipt:
    """What a write answers: the new entry's id (or the pupil's) and the dossier's version."""

    id: UUID
    version: int


@dataclass(frozen=True)
class HistoryEvent:
    version: int
    type: str
    recorded_at: datetime
    actor: dict[str, str]
    data: dict[str, Any]


@dataclass(frozen=True)
class PupilSummary:
    id: UUID
    version: int
    name: str
    external_ref: str | None
    school: str
    school_year: str
    sector: str
    grade: int
    coaches: list[str]
    opened_at: datetime
    updated_at: datetime


class Dossiers(Application[UUID]):
    """Snapshots: one whenever a save passes a multiple of `SNAPSHOT_INTERVAL` events,
    taken from the dossier just saved (see `save`), not by the library, which reads and
    replays the last interval's events back from the store inside the request."""

    name = "dossiers"
    is_snapshotting_enabled = True
    SNAPSHOT_INTERVAL = 100
    env: ClassVar = {"AGGREGATE_CACHE_MAXSIZE": "1000"}

    def __init__(
        self,
        env: Mapping[str, str] | None = None,
        *,
        on_saved: Callable[[], None] | None = None,
        today: Callable[[], date] = school_today,
        is_coach: Callable[[str, str], bool] = lambda school, user_id: False,
    ) -> None:
        """`on_saved` tells the read models; `is_coach(school, user_id)` asks the accounts."""
        super().__init__(env)
        self.on_saved = on_saved
        self.today = today
        self.is_coach = is_coach

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(DateAsISO())

    # Commands.

    def open_dossier(self, actor: Actor, values: Mapping[str, Any]) -> Receipt:
        check_may_use_dossiers(actor)
        coaches = [actor.user_id] if actor.role == "coach" else []
        dossier = Dossier.open(actor.as_record(), uuid4(), values, coaches, self.today())
        self.record(dossier)
        return Receipt(dossier.id, dossier.version)

    def change_enrolment(
        self, actor: Actor, pupil_id: UUID, values: Mapping[str, Any], expected: int | None = None
    ) -> Receipt:
        return self._add(actor, pupil_id, expected, "change_enrolment", values)

    def record_experience(
        self, actor: Actor, pupil_id: UUID, values: Mapping[str, Any], expected: int | None = None
    ) -> Receipt:
        return self._add(actor, pupil_id, expected, "record_experience", values)

    def hold_conversation(
        self, actor: Actor, pupil_id: UUID, values: Mapping[str, Any], expected: int | None = None
    ) -> Receipt:
        return self._add(actor, pupil_id, expected, "hold_conversation", values)

    def record_phase(
        self,
        actor: Actor,
        pupil_id: UUID,
        conversation_id: UUID,
        values: Mapping[str, Any],
        expected: int | None = None,
    ) -> Receipt:
        fields = dict(values)
        phase = fields.pop("phase", None)
        return self._add(actor, pupil_id, expected, "record_phase", conversation_id, phase, fields)

    def record_insight(
        self, actor: Actor, pupil_id: UUID, values: Mapping[str, Any], expected: int | None = None
    ) -> Receipt:
        fields = dict(values)
        conversation_id = fields.pop("conversation_id", None)
        return self._add(actor, pupil_id, expected, "record_insight", fields, conversation_id)

    def plan_action(
        self, actor: Actor, pupil_id: UUID, values: Mapping[str, Any], expected: int | None = None
    ) -> Receipt:
        fields = dict(values)
        conversation_id = fields.pop("conversation_id", None)
        return self._add(actor, pupil_id, expected, "plan_action", fields, conversation_id)

    def complete_action(
        self,
        actor: Actor,
        pupil_id: UUID,
        action_id: UUID,
        outcome: str,
        expected: int | None = None,
    ) -> Receipt:
        return self._close(actor, pupil_id, expected, "complete_action", action_id, outcome)

    def abandon_action(
        self,
        actor: Actor,
        pupil_id: UUID,
        action_id: UUID,
        reason: str,
        expected: int | None = None,
    ) -> Receipt:
        return self._close(actor, pupil_id, expected, "abandon_action", action_id, reason)

    def correct_entry(
        self,
        actor: Actor,
        pupil_id: UUID,
        entry_id: UUID,
        changes: Mapping[str, Any],
        reason: str,
        expected: int | None = None,
    ) -> Receipt:
        return self._close(actor, pupil_id, expected, "correct_entry", entry_id, changes, reason)

    def retract_entry(
        self, actor: Actor, pupil_id: UUID, entry_id: UUID, reason: str, expected: int | None = None
    ) -> Receipt:
        return self._close(actor, pupil_id, expected, "retract_entry", entry_id, reason)

    def give_consent(
        self, actor: Actor, pupil_id: UUID, values: Mapping[str, Any], expected: int | None = None
    ) -> Receipt:
        """Record consent to transfer the dossier (purpose `transfer`)."""
        if values.get("purpose", "transfer") != "transfer":
            raise InvalidValue("the only purpose is transfer", field="purpose")
        given_by, to_school = values.get("given_by"), values.get("to_school")
        return self._add(actor, pupil_id, expected, "give_consent", given_by, to_school)

    def withdraw_consent(
        self,
        actor: Actor,
        pupil_id: UUID,
        consent_id: UUID,
        reason: str | None = None,
        expected: int | None = None,
    ) -> Receipt:
        return self._close(actor, pupil_id, expected, "withdraw_consent", consent_id, reason)

    def assign_coach(
        self, actor: Actor, pupil_id: UUID, coach_id: UUID, expected: int | None = None
    ) -> Receipt:
        """A counsellor assigns a coach of the school to the pupil."""
        check_may_assign_coaches(actor)
        if not self.is_coach(actor.school, str(coach_id)):
            raise InvalidValue(f"{coach_id} is not an active coach of this school", field="user_id")
        version = self._change(
            actor, pupil_id, expected, lambda d, who, _: d.assign_coach(who, str(coach_id))
        )
        return Receipt(coach_id, version)

    def unassign_coach(
        self, actor: Actor, pupil_id: UUID, coach_id: UUID, expected: int | None = None
    ) -> Receipt:
        check_may_assign_coaches(actor)
        version = self._change(
            actor, pupil_id, expected, lambda d, who, _: d.unassign_coach(who, str(coach_id))
        )
        return Receipt(coach_id, version)

    # Queries.

    def get_dossier(self, actor: Actor, pupil_id: UUID) -> Dossier:
        """The dossier aggregate, once scope is checked. Callers read its plain attributes."""
        check_may_use_dossiers(actor)
        try:
            dossier: Dossier = self.repository.get(pupil_id, projector_func=replay)
        except AggregateNotFoundError:
            raise DossierNotFound(f"no pupil {pupil_id}") from None
        check_in_scope(actor, dossier.school, dossier.coaches, pupil_id)
        return dossier

    def summary(self, actor: Actor, pupil_id: UUID) -> PupilSummary:
        dossier = self.get_dossier(actor, pupil_id)
        enrolment = dossier.enrolment
        return PupilSummary(
            id=dossier.id,
            version=dossier.version,
            name=dossier.name,
            external_ref=dossier.external_ref,
            school=dossier.school,
            school_year=enrolment["school_year"],
            sector=enrolment["sector"],
            grade=enrolment["grade"],
            coaches=list(dossier.coaches),
            opened_at=dossier.created_on,
            updated_at=dossier.modified_on,
        )

    def history(
        self, actor: Actor, pupil_id: UUID, after: int = 0, limit: int = 100
    ) -> list[HistoryEvent]:
        """The dossier's immutable events, oldest first, after a version."""
        self.get_dossier(actor, pupil_id)
        return [
            HistoryEvent(
                version=e.originator_version,
                type=event_type(e),
                recorded_at=e.timestamp,
                actor=e.actor,  # type: ignore[attr-defined]
                data=event_data(e),
            )
            for e in self.events.get(pupil_id, gt=after or None, limit=limit)
        ]

    # The write path.

    def _add(
        self, actor: Actor, pupil_id: UUID, expected: int | None, method: str, *args: Any
    ) -> Receipt:
        """Run an aggregate command that creates a new entry, with a fresh entry id."""
        entry_id = uuid4()

        def command(dossier: Dossier, who: dict[str, str], today: date) -> None:
            getattr(dossier, method)(who, entry_id, *args, today=today)

        return Receipt(entry_id, self._change(actor, pupil_id, expected, command))

    def _close(
        self, actor: Actor, pupil_id: UUID, expected: int | None, method: str, *args: Any
    ) -> Receipt:
        """Run an aggregate command about an existing entry (the first argument)."""

        def command(dossier: Dossier, who: dict[str, str], today: date) -> None:
            getattr(dossier, method)(who, *args, today=today)

        return Receipt(args[0], self._change(actor, pupil_id, expected, command))

    def _change(
        self,
        actor: Actor,
        pupil_id: UUID,
        expected: int | None,
        command: Callable[[Dossier, dict[str, str], date], None],
    ) -> int:
        for attempt in range(MAX_ATTEMPTS):
            dossier = self.get_dossier(actor, pupil_id)
            if expected is not None and dossier.version != expected:
                raise VersionConflict(
                    f"the dossier is at version {dossier.version}, not {expected}"
                )
            command(dossier, actor.as_record(), self.today())
            try:
                self.record(dossier)
            except IntegrityError:
                if expected is not None:
                    raise VersionConflict("the dossier changed while saving") from None
                time.sleep(random.uniform(0, 0.002 * (attempt + 1)))
                continue
            version = dossier.version  # once remembered, another thread may fast-forward it
            self._remember(dossier)
            return version
        raise VersionConflict("the dossier is too busy; try again")

    def save(self, *items: Any, **kwargs: Any) -> list[Recording[UUID]]:
        """Save, then snapshot each dossier whose new events pass a multiple of the interval.

        The saved dossier is the state its events replay to (state changes only in event
        bodies), so it is snapshotted as it is, at its new version. The events are
        committed by then: a snapshot that cannot be stored is only logged, or the caller
        would take the write for failed and might make it again.
        """
        passed = {
            event.originator_id
            for item in items
            for event in (item.pending_events if isinstance(item, Dossier) else [item])
            if event is not None and event.originator_version % self.SNAPSHOT_INTERVAL == 0
        }
        recordings = super().save(*items, **kwargs)
        for item in items:
            if isinstance(item, Dossier) and item.id in passed:
                self._snapshot(item)
        return recordings

    def _snapshot(self, dossier: Dossier) -> None:
        if self.snapshots is None:  # IS_SNAPSHOTTING_ENABLED=n in the environment
            return
        try:
            self.snapshots.put([Dossier.Snapshot.take(dossier)])
        except Exception:
            log.exception("no snapshot of %s at version %s", dossier.id, dossier.version)

    def _remember(self, dossier: Dossier) -> None:
        """Cache the dossier just saved, which no one changes after: the next command
        then finds it current, instead of reading back and replaying its own event.
        Another process's later events are still fast-forwarded onto it on the next get."""
        if self.repository.cache is not None:
            self.repository.cache.put(dossier.id, dossier)

    def record(self, *items: Any) -> None:
        """Save aggregates and events in one transaction, then tell the read models.

        A conflict raises before anything is told. Once the events are committed, a
        failure to tell must not fail or repeat the write: the next read catches up again.
        """
        self.save(*items)
        if self.on_saved is None:
            return
        try:
            self.on_saved()
        except Exception:
            log.exception("read models could not catch up after a save; the next read retries")
