"""The audit as it was computed before facts were kept per pupil (commit c3164ab): every
pupil of the school folded on each request. Kept here, unchanged but for this docstring
and `answer`, as the independent oracle the kept facts are tested against."""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from dossier.vocabulary import PHASES
from projections.fold import Item, enrolment_context, fold_rows


def answer(services: Any, school: str, filters: Mapping[str, Any], limits: Any) -> Any:
    """(rows, summary) of the school's audit, computed the old way."""
    with services.reads.transaction() as tx:
        folded = fold_school(tx, school)
    limits = Thresholds(limits.late_after_days, limits.backdated_after_days)
    rows = reflection_rows(folded, filters, limits)
    return rows, summary(folded, rows, filters)


def fold_school(tx: Any, school: str) -> dict[str, dict[str, Item]]:
    join = "JOIN pupils p ON p.pupil_id = t.pupil_id WHERE p.school = ? ORDER BY t.pupil_id, t.seq"
    entries = tx.query(f"SELECT t.* FROM timeline_entries t {join}", (school,))
    revisions = tx.query(f"SELECT t.* FROM timeline_revisions t {join}", (school,))
    by_pupil: dict[str, tuple[list[Any], list[Any]]] = {}
    for row in entries:
        by_pupil.setdefault(row["pupil_id"], ([], []))[0].append(row)
    for row in revisions:
        by_pupil.setdefault(row["pupil_id"], ([], []))[1].append(row)
    return {pupil: fold_rows(*rows) for pupil, rows in by_pupil.items()}


REFLECTION_FIELDS = (
    "conversation_id", "held_on", "reflection_recorded_at", "recorder_role",
    "days_to_reflection", "days_to_recording",
)  # fmt: skip
ROW_FIELDS = (
    "pupil_id", "experience_id", "kind", "occurred_on", "school_year", "sector", "grade",
    *REFLECTION_FIELDS,
    "not_reflected", "reflected_late", "backdated", "reflected_before_experience",
)  # fmt: skip
SUMMARY_FIELDS = (
    "school_year", "sector", "grade", "experiences", "reflected", "reflected_within",
    "percentage_reflected_within", "conversations", "conversations_all_phases",
)  # fmt: skip


@dataclass(frozen=True)
class Thresholds:
    late_after_days: int = 30
    backdated_after_days: int = 14


def reflection_rows(
    school: Mapping[str, dict[str, Item]], filters: Mapping[str, Any], limits: Thresholds
) -> list[dict[str, Any]]:
    """A row per live experience of every pupil, with its first reflection, filtered."""
    rows = []
    for pupil_id, items in school.items():
        context = enrolment_context(items)
        reflections = _reflections(items)
        for item in _live(items, "experience"):
            row = _row(pupil_id, item, context(item["date"]), reflections, limits)
            if _matches(row, "occurred_on", filters):
                rows.append(row)
    return sorted(rows, key=lambda r: (r["occurred_on"], r["pupil_id"], r["experience_id"]))


def summary(
    school: Mapping[str, dict[str, Item]],
    rows: list[dict[str, Any]],
    filters: Mapping[str, Any],
) -> list[dict[str, Any]]:
    """Per school year, sector and grade: experiences, reflection and complete conversations."""
    groups: dict[tuple[str, str, int], dict[str, Any]] = {}

    def group(row: Mapping[str, Any]) -> dict[str, Any]:
        key = (row["school_year"], row["sector"], row["grade"])
        zero = dict.fromkeys(SUMMARY_FIELDS[3:], 0)
        return groups.setdefault(key, {**dict(zip(SUMMARY_FIELDS[:3], key, strict=True)), **zero})

    for row in rows:
        counts = group(row)
        counts["experiences"] += 1
        counts["reflected"] += not row["not_reflected"]
        counts["reflected_within"] += not row["not_reflected"] and not row["reflected_late"]
    for conversation in _conversations(school, filters):
        counts = group(conversation)
        counts["conversations"] += 1
        counts["conversations_all_phases"] += conversation["complete"]
    for counts in groups.values():
        share = counts["reflected_within"] / counts["experiences"] if counts["experiences"] else 0
        counts["percentage_reflected_within"] = round(100 * share, 1)
    return [groups[key] for key in sorted(groups)]


def _live(items: Mapping[str, Item], entry_type: str) -> Iterable[Item]:
    return (i for i in items.values() if i["type"] == entry_type and not i["retracted"])


def _reflections(items: Mapping[str, Item]) -> dict[str, tuple[Item, Item]]:
    """Experience id -> (first conversation about it that reached reflecteren, that phase)."""
    phases = {
        p["parent_id"]: p for p in _live(items, "phase") if p["data"]["phase"] == "reflecteren"
    }
    first: dict[str, tuple[Item, Item]] = {}
    for conversation in sorted(_live(items, "conversation"), key=lambda c: (c["date"], c["seq"])):
        phase = phases.get(conversation["entry_id"])
        if phase is None:
            continue
        for experience_id in conversation["data"]["experience_ids"]:
            first.setdefault(experience_id, (conversation, phase))
    return first


def _row(
    pupil_id: str,
    experience: Item,
    context: Mapping[str, Any],
    reflections: Mapping[str, tuple[Item, Item]],
    limits: Thresholds,
) -> dict[str, Any]:
    occurred = experience["date"]
    row: dict[str, Any] = {
        "pupil_id": pupil_id,
        "experience_id": experience["entry_id"],
        "kind": experience["data"]["kind"],
        "occurred_on": occurred,
        **{k: context[k] for k in ("school_year", "sector", "grade")},
        **dict.fromkeys(REFLECTION_FIELDS),
        "not_reflected": experience["entry_id"] not in reflections,
        "reflected_late": False,
        "backdated": False,
        "reflected_before_experience": False,
    }
    if not row["not_reflected"]:
        conversation, phase = reflections[experience["entry_id"]]
        held, recorded = conversation["date"], phase["recorded_at"]
        to_reflection = _days(occurred, held)
        to_recording = _days(held, recorded[:10])
        row.update(
            conversation_id=conversation["entry_id"],
            held_on=held,
            reflection_recorded_at=recorded,
            recorder_role=phase["recorded_by"]["role"],
            days_to_reflection=to_reflection,
            days_to_recording=to_recording,
            reflected_late=to_reflection > limits.late_after_days,
            backdated=to_recording > limits.backdated_after_days,
            reflected_before_experience=to_reflection < 0,
        )
    return row


def _days(start: str, end: str) -> int:
    return (date.fromisoformat(end) - date.fromisoformat(start)).days


def _conversations(
    school: Mapping[str, dict[str, Item]], filters: Mapping[str, Any]
) -> Iterable[dict[str, Any]]:
    for items in school.values():
        context = enrolment_context(items)
        done: dict[str, set[str]] = {}
        for phase in _live(items, "phase"):
            done.setdefault(phase["parent_id"], set()).add(phase["data"]["phase"])
        for conversation in _live(items, "conversation"):
            entry = {**context(conversation["date"]), "held_on": conversation["date"]}
            entry["complete"] = done.get(conversation["entry_id"], set()) >= set(PHASES)
            if _matches(entry, "held_on", filters):
                yield entry


def _matches(row: Mapping[str, Any], day_field: str, filters: Mapping[str, Any]) -> bool:
    for key in ("school_year", "sector", "grade"):
        if filters.get(key) is not None and row[key] != filters[key]:
            return False
    day = row[day_field]
    if filters.get("from") and day < filters["from"].isoformat():
        return False
    return not (filters.get("to") and day > filters["to"].isoformat())
