"""Read model `timeline`: every entry of a pupil's dossier, as first recorded, with its revisions.

`timeline_entries` holds each entry's original fields; `timeline_revisions` holds what
happened to it later (correction, retraction, completion, abandonment), each with its
recorded-at. Folding the revisions recorded up to a moment gives the dossier as it stood
then (`as_of`); folding all of them gives it as it is now. Lexicon mentions in stories and
phase notes are found once, here, so reads never lemmatise. The audit's facts per pupil
are kept with the timeline too (projections.audit_store): a pupil whose rows change here
is marked for them to be worked out again.
"""

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeAlias

import orjson

from dossier.application import SCHOOL_TIMEZONE
from dossier.domain import ENTRY_IDS
from dossier.errors import InvalidValue
from dossier.vocabulary import school_year_start
from projections import audit_store
from projections.fold import forget_folds
from projections.labels import default_lexicon
from projections.readstore import Tx
from projections.recorded import Recorded

log = logging.getLogger(__name__)

TEXT_FIELDS = {"experience": "story", "phase": "notes"}
# The type of entry each event that adds one adds; the field holding its id is the
# domain's (dossier.domain.ENTRY_IDS, which the import checks too).
ENTRY_TYPES = {
    "Opened": "enrolment",
    "ExperienceRecorded": "experience",
    "ConversationHeld": "conversation",
    "PhaseRecorded": "phase",
    "InsightRecorded": "insight",
    "ActionPlanned": "action",
    "EnrolmentChanged": "enrolment",
}
REVISIONS = {
    "EntryCorrected": ("correction", "entry_id"),
    "EntryRetracted": ("retraction", "entry_id"),
    "ActionCompleted": ("completion", "action_id"),
    "ActionAbandoned": ("abandonment", "action_id"),
}
METADATA = frozenset({"entry_id", "actor"})
OPENED_ENROLMENT = frozenset({"school", "school_year", "sector", "grade"})
# (label, kind, start, end): the sentence it was found in is text[start:end] of the text
# searched, which the row holds beside; a row holding the sentence itself again was half
# of an experience's or a phase's row, written, checkpointed and read back every time.
Mentions = tuple[tuple[str, str, int, int], ...]


def stamp(moment: datetime) -> str:
    """A fixed-width UTC text form, so that recorded-at values compare correctly as text."""
    try:
        return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    except OverflowError:
        raise InvalidValue("the moment lies outside the calendar", field="as_of") from None


def stamp_stored(timestamp: str) -> str:
    """`stamp` of a stored ISO timestamp; the library's are UTC with microseconds, which
    only need the zone written as Z."""
    if len(timestamp) == 32 and timestamp.endswith("+00:00"):
        return timestamp[:26] + "Z"
    return stamp(datetime.fromisoformat(timestamp))


def dumps(data: Any) -> str:
    return orjson.dumps(data).decode()


def dumps_sorted(data: Any) -> str:
    return orjson.dumps(data, option=orjson.OPT_SORT_KEYS).decode()


def mentions(text: str | None) -> Mentions:
    """Lexicon qualities, motives and interests named in a text, with where in the text
    their sentence is (see `Mentions`; `sentence_of` gives it back)."""
    if not text:
        return ()
    found, spans = [], {}
    start = 0
    for entry, sentence in default_lexicon().find_in_text(text):
        if sentence not in spans:  # a sentence is a slice of the text, found in order
            start = text.index(sentence, start)
            spans[sentence] = (start, start + len(sentence))
            start += len(sentence)
        found.append((entry.label, entry.kind, *spans[sentence]))
    return tuple(found)


def sentence_of(data: dict[str, Any], entry_type: str, mention: Sequence[Any]) -> str:
    """The sentence a mention in an entry's data was found in."""
    start, end = mention[2], mention[3]
    return str(data[TEXT_FIELDS[entry_type]][start:end])


class Timeline:
    name = "timeline"
    version = "5"

    def __init__(self) -> None:
        self._failed: dict[str, int] = {}  # pupils whose audit facts failed, at their mark

    def create(self, tx: Tx) -> None:
        tx.execute(
            f"CREATE TABLE IF NOT EXISTS {tx.view('timeline_entries')} (entry_id TEXT NOT NULL, "
            "pupil_id TEXT NOT NULL, seq INTEGER NOT NULL, type TEXT NOT NULL, "
            "day TEXT NOT NULL, recorded_at TEXT NOT NULL, actor TEXT NOT NULL, "
            "parent_id TEXT, data TEXT NOT NULL)"
        )
        # What applying asks the table: the day of a conversation recorded in an earlier
        # batch (Pending.conversation_day); one conversation in six entries. With seq, so
        # that SQLite takes it over the reads' index for that query's ORDER BY seq.
        tx.execute(
            f"CREATE INDEX IF NOT EXISTS {tx.view('timeline_conversation_days')} "
            "ON timeline_entries (pupil_id, entry_id, seq) WHERE type = 'conversation'"
        )
        tx.execute(
            f"CREATE TABLE IF NOT EXISTS {tx.view('timeline_revisions')} (pupil_id TEXT NOT NULL, "
            "seq INTEGER NOT NULL, entry_id TEXT NOT NULL, kind TEXT NOT NULL, "
            "recorded_at TEXT NOT NULL, actor TEXT NOT NULL, data TEXT NOT NULL, "
            "PRIMARY KEY (pupil_id, seq))"
        )
        audit_store.create(tx)

    def index(self, tx: Tx) -> None:
        """What reads ask: a pupil's rows by seq. Unique: an event applied twice would
        repeat all three. An entry id added twice is refused before it is stored
        (dossier.domain.ENTRY_IDS). Keyed by pupil, its entries of an interleaved log land
        all over it, batch after batch: a replay into a fresh file makes it at the end."""
        tx.execute(
            f"CREATE UNIQUE INDEX IF NOT EXISTS {tx.view('timeline_entries_by_pupil')} "
            "ON timeline_entries (pupil_id, seq, entry_id)"
        )

    def drop(self, tx: Tx) -> None:
        forget_folds()
        audit_store.drop(tx)  # first: readers take the audit's tables before these
        tx.execute(f"DROP TABLE IF EXISTS {tx.view('timeline_entries')}")
        tx.execute(f"DROP TABLE IF EXISTS {tx.view('timeline_revisions')}")

    def work_out(self, tx: Tx, limit: int) -> list[audit_store.Worked]:
        """The audit facts of up to `limit` pupils whose rows changed, worked out again."""
        return audit_store.work_out(tx, limit, self._failed)

    def keep(self, tx: Tx, worked: list[audit_store.Worked]) -> int:
        return audit_store.keep(tx, worked)

    def waiting(self, tx: Tx) -> int:
        return audit_store.waiting(tx)

    def prepare(self, events: Sequence[Recorded]) -> None:
        """Work out the batch's rows before the write lock is taken: finding the mentions
        in its texts takes most of the time an event costs, and writers (or, in a rebuild,
        the helper whose turn is next) wait while the lock is held. What only the table
        can tell (the day of a conversation recorded in an earlier batch) is left for
        `apply`. An event that cannot be prepared is left as it is: `apply` meets the
        failure again and quarantines its pupil, while the rest of the batch stays prepared."""
        days: dict[tuple[str, str], str] = {}  # conversations of this batch: (pupil, id) -> day
        for event in events:
            try:
                event.prepared[self.name] = self._prepare_one(event, days)
            except Exception:
                log.debug("event %s of %s not prepared", event.version, event.pupil_id,
                          exc_info=True)  # fmt: skip

    def _prepare_one(self, event: Recorded, days: dict[tuple[str, str], str]) -> "Prepared":
        if event.type in REVISIONS:  # the mentions of a corrected text, for `_revise`
            changes = event.fields.get("changes") or {}
            texts = (changes.get(f) for f in TEXT_FIELDS.values())
            return {t: mentions(t) for t in texts if isinstance(t, str) and t}
        return self._draft(event, days)

    def apply(self, tx: Tx, event: Recorded, position: int) -> None:
        pending = self._pending(tx)
        # Every event of the pupil moves its mark, so the mark is the dossier version the
        # views fold up to too, and the fold remembered for them serves the refresh.
        pending.touched[event.pupil_id] = event.version
        prepared: Prepared = event.prepared.get(self.name)
        if event.type in REVISIONS:
            revision, key = REVISIONS[event.type]
            found = prepared if isinstance(prepared, dict) else {}
            self._revise(tx, pending, event, revision, event.fields[key], found)
            return
        # None also when the event adds no entry: drafting it again then costs a lookup
        draft = prepared if isinstance(prepared, Draft) else self._draft(event, {})
        if draft is not None:
            self._add(tx, pending, event, draft)

    def _draft(self, event: Recorded, days: dict[tuple[str, str], str]) -> "Draft | None":
        """The row of the entry an event adds, with its text's mentions; its day is None
        when that is a conversation's day not in `days` (this batch's conversations')."""
        entry_type = ENTRY_TYPES.get(event.type)
        if entry_type is None:
            return None
        values = event.fields
        entry_id = values[ENTRY_IDS[event.type]]
        data = self._fields(event)
        if (text_field := TEXT_FIELDS.get(entry_type)) is not None:
            data["mentions"] = mentions(data.get(text_field))
        pupil, conversation = event.pupil_id, data.get("conversation_id")
        day = _own_day(entry_type, data)
        if day is None:
            day = days.get((pupil, conversation)) if conversation else _recorded_day(event)
        if day is not None and entry_type == "conversation":  # what others take theirs from
            days[pupil, entry_id] = day
        row = (
            entry_id,
            pupil,
            event.version,
            entry_type,
            day,
            stamp_stored(event.timestamp),
            dumps(values["actor"]),
            conversation if entry_type == "phase" else None,
            dumps_sorted(data),
        )
        return Draft(row, conversation or None)

    @staticmethod
    def _fields(event: Recorded) -> dict[str, Any]:
        """The event's own fields; for `Opened` only those of the first enrolment. The row
        holds them with sorted keys (`dumps_sorted`): sorting in orjson, not here, nearly
        halved the cost of making the row's data."""
        values = event.fields
        if event.type == "Opened":
            return {k: values[k] for k in OPENED_ENROLMENT}
        data = dict(values)
        for name in METADATA:
            data.pop(name, None)
        return data

    def flush(self, tx: Tx) -> None:
        """Write the batch's rows at once: one statement per table, not one per event."""
        pending = self._pending(tx)
        tx.executemany(
            "INSERT INTO timeline_entries (entry_id, pupil_id, seq, type, day, recorded_at, actor, "
            "parent_id, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            pending.entries,
        )
        tx.executemany(
            "INSERT INTO timeline_revisions (pupil_id, seq, entry_id, kind, recorded_at, actor, "
            "data) VALUES (?, ?, ?, ?, ?, ?, ?)",
            pending.revisions,
        )
        audit_store.mark_stale(tx, pending.touched)
        tx.batch.pop(self.name, None)

    def _pending(self, tx: Tx) -> "Pending":
        found: Pending | None = tx.batch.get(self.name)
        if found is None:  # not setdefault: that would build a Pending for every event
            found = tx.batch[self.name] = Pending()
        return found

    def _add(self, tx: Tx, pending: "Pending", event: Recorded, draft: "Draft") -> None:
        """Add the entry's row; a day left open is the conversation's, from this batch or
        the table, else the day the event was recorded."""
        row = draft.row
        if row[4] is None:
            day = pending.conversation_day(tx, row[1], draft.conversation or "")
            day = day or _recorded_day(event)
            row = (*row[:4], day, *row[5:])
        if row[3] == "conversation":
            pending.days[row[1], row[0]] = row[4]
        pending.entries.append(row)

    def _revise(
        self,
        tx: Tx,
        pending: "Pending",
        event: Recorded,
        kind: str,
        entry_id: str,
        found: dict[str, Mentions],
    ) -> None:
        data = {k: v for k, v in event.fields.items() if k in {"changes", "reason", "outcome"}}
        if "changes" in data:  # the mentions added below must not change the event
            data["changes"] = dict(data["changes"])
        changes = data.get("changes", {})
        # Each text field is one entry type's (TEXT_FIELDS; a correction names only its
        # entry's fields: the domain, and an import, refuse others), so the changes tell
        # which text changed without asking the table whose entry this is.
        for text in (changes.get(f) for f in TEXT_FIELDS.values()):
            if isinstance(text, str):
                changes["mentions"] = found[text] if text in found else mentions(text)
        pending.revisions.append(
            (
                event.pupil_id,
                event.version,
                entry_id,
                kind,
                stamp_stored(event.timestamp),
                dumps(event.fields["actor"]),
                dumps(data),
            )
        )


def _recorded_day(event: Recorded) -> str:
    """The school's calendar day the event was recorded on: an entry's day when neither
    its fields nor its conversation tell one."""
    return event.moment.astimezone(SCHOOL_TIMEZONE).date().isoformat()


def _own_day(entry_type: str, data: dict[str, Any]) -> str | None:
    """The entry's domain date, when its own fields tell it (when it happened, not when it
    was recorded): an enrolment's school year, an experience's or conversation's date."""
    if entry_type == "enrolment":
        return school_year_start(data["school_year"]).isoformat()
    for name in ("occurred_on", "held_on"):
        if name in data:
            return str(data[name])
    return None


@dataclass(slots=True)  # not frozen, for speed: see Recorded
class Draft:
    """An entry's row as `prepare` worked it out; its day (row[4]) is None when it is the
    day of the conversation, which only the table holds."""

    row: tuple[Any, ...]
    conversation: str | None


# What `prepare` worked out for an event: the row of the entry it adds, or the mentions in
# a revision's changed texts (keyed by text, for `_revise`); None for an event adding no
# entry. Not wrapped in an object: a rebuild holds a million of these and frees them.
Prepared: TypeAlias = Draft | dict[str, Mentions] | None


@dataclass
class Pending:
    """The rows of one batch not yet written, and what later events of it look up."""

    entries: list[tuple[Any, ...]] = field(default_factory=list)
    revisions: list[tuple[Any, ...]] = field(default_factory=list)
    days: dict[tuple[str, str], str] = field(default_factory=dict)  # its conversations'
    touched: dict[str, int] = field(default_factory=dict)  # pupil -> its newest version here

    def conversation_day(self, tx: Tx, pupil_id: str, conversation_id: str) -> str | None:
        """A conversation's day: from this batch, else from the table. Entry ids are
        unique within a dossier only: an imported dossier keeps its entries' ids."""
        day = self.days.get((pupil_id, conversation_id))
        if day is not None:
            return day
        rows = tx.query(
            "SELECT day FROM timeline_entries WHERE pupil_id = ? AND entry_id = ? "
            "AND type = 'conversation' ORDER BY seq DESC LIMIT 1",  # the later, as folding
            (pupil_id, conversation_id),  # keeps it (see ENTRY_IDS)
        )
        return str(rows[0]["day"]) if rows else None
