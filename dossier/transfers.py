"""`Transfers`: export a dossier for another school, and import one, as signed bundles.

The import writes the sending school's events into a new stream at the receiving school,
with their original versions, dates, recorded-at and (pseudonymised) authors, then one
`TransferReceived` event of its own; all in one transaction, and only after every check.
The new pupil id is derived from the bundle's pupil and the receiving school, so the same
bundle imported twice finds the dossier it made the first time.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError
from eventsourcing.utils import get_topic

from dossier.access import Actor, check_role
from dossier.application import Dossiers
from dossier.domain import ENTRY_IDS, Dossier
from dossier.errors import VersionConflict
from dossier.replay import replay
from dossier.rules import ENTRY_RULES
from dossier.transfer import BundleRefused, Checked, Signer, build, check, digest

NAMESPACE = uuid5(NAMESPACE_URL, "https://loopbaandossier.nl/transfers")
TRANSFER_ROLES = ("counsellor",)


class Keyring(Protocol):
    def signing_key(self, code: str) -> str: ...

    def trusted_key(self, code: str, public_key: str) -> bool: ...


@dataclass(frozen=True)
class Imported:
    pupil_id: UUID
    created: bool
    from_school: str
    events: int


class Transfers:
    def __init__(
        self,
        dossiers: Dossiers,
        keyring: Keyring,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.dossiers = dossiers
        self.keyring = keyring
        self.now = now

    def export(self, actor: Actor, pupil_id: UUID, to_school: str | None) -> dict[str, Any]:
        """A signed bundle of the whole history; the export itself is recorded in the dossier."""
        check_role(actor, TRANSFER_ROLES, "export dossiers")
        signer = Signer(actor.school, self.keyring.signing_key(actor.school))
        for _ in range(10):
            dossier = self.dossiers.get_dossier(actor, pupil_id)
            history = self.dossiers.history(actor, pupil_id, 0, dossier.version)
            bundle = build(signer, pupil_id, history, to_school, self.now().isoformat())
            today = self.dossiers.today()
            dossier.record_export(actor.as_record(), to_school, digest(bundle), today)
            try:
                self.dossiers.record(dossier)
            except IntegrityError:
                continue
            return bundle
        raise VersionConflict("the dossier kept changing during the export; try again")

    def verify(self, bundle: Any) -> Checked:
        return check(bundle, self.keyring.trusted_key)

    def import_bundle(self, actor: Actor, bundle: Any) -> Imported:
        check_role(actor, TRANSFER_ROLES, "import dossiers")
        checked = self.verify(bundle)
        pupil_id = uuid5(NAMESPACE, f"{checked.pupil_id}:{actor.school}")
        result = Imported(pupil_id, False, checked.school, len(checked.events))
        try:
            self.dossiers.repository.get(pupil_id)
        except AggregateNotFoundError:
            self._write(actor, pupil_id, checked)
            return Imported(pupil_id, True, checked.school, len(checked.events))
        return result

    def _write(self, actor: Actor, pupil_id: UUID, checked: Checked) -> None:
        added_at = _refuse_repeated_entries(checked.events)
        events = [_rebuild(pupil_id, e) for e in checked.events]
        dossier = _replay(events)
        _refuse_foreign_changes(dossier, events, added_at)
        dossier.receive_transfer(
            actor.as_record(), checked.school, checked.digest, checked.exported_at
        )
        try:
            self.dossiers.record(*events, dossier)
        except IntegrityError:
            return  # imported at the same moment by someone else: the same dossier exists


def _refuse_repeated_entries(events: list[dict[str, Any]]) -> dict[Any, int]:
    """A history that adds one entry id twice would replay as one entry, the later, while
    the timeline kept both: no school of ours writes one, so the bundle is refused.
    Returns the version that added each entry."""
    added: dict[Any, int] = {}
    for event in events:
        field = ENTRY_IDS.get(event["type"])
        entry = event["data"].get(field) if field else None
        if entry is None:
            continue
        if entry in added:
            raise BundleRefused(f"event {event['version']} adds entry {entry} a second time")
        added[entry] = event["version"]
    return added


def _refuse_foreign_changes(dossier: Dossier, events: list[Any], added_at: dict[Any, int]) -> None:
    """A correction names, as `Dossier.correct_entry` checks, some fields of an entry
    added before it (`added_at`: by which version), and only fields that entry has; the
    read models rely on it (a corrected story is an experience's, and notes are a
    phase's), so a history with one that does not is refused."""
    for event in events:
        if not isinstance(event, Dossier.EntryCorrected):
            continue
        version = event.originator_version
        entry_type = dossier.types.get(str(event.entry_id))
        if entry_type is None or added_at.get(event.entry_id, version) >= version:
            raise BundleRefused(f"event {version} corrects an entry not added before it")
        if not isinstance(event.changes, dict) or not event.changes:
            raise BundleRefused(f"event {version} corrects no fields")
        foreign = sorted(set(event.changes) - set(ENTRY_RULES[entry_type]))
        if foreign:
            raise BundleRefused(
                f"event {version} corrects {', '.join(foreign)}, which a {entry_type} does not have"
            )


def _rebuild(pupil_id: UUID, event: dict[str, Any]) -> Any:
    cls = getattr(Dossier, event["type"], None)
    if not isinstance(cls, type) or not issubclass(cls, Dossier.Event):
        raise BundleRefused(f"event {event['version']} has an unknown type {event['type']}")
    extra = {"originator_topic": get_topic(Dossier)} if event["type"] == "Opened" else {}
    try:
        return cls(
            originator_id=pupil_id,
            originator_version=event["version"],
            timestamp=datetime.fromisoformat(event["recorded_at"]),
            actor=event["actor"],
            **extra,
            **event["data"],
        )
    except TypeError:
        raise BundleRefused(
            f"event {event['version']} ({event['type']}) has other fields"
        ) from None


def _replay(events: list[Any]) -> Dossier:
    try:
        dossier = replay(None, events)
    except (KeyError, TypeError, ValueError, AttributeError):
        raise BundleRefused("the events do not make a valid dossier") from None
    if not isinstance(dossier, Dossier):
        raise BundleRefused("the first event does not open a dossier")
    return dossier
