"""Audit of reflection: when reflection took place, never what was said.

Rows and summaries carry only ids, kinds, dates, roles, counts and flags. `ROW_FIELDS`
and `SUMMARY_FIELDS` are the whole vocabulary; tests scan every answer against them.

What a pupil's entries say about reflection (`pupil_facts`) is worked out once per
dossier change and kept (projections.audit_store); the thresholds an auditor asks for
and the filters are applied per request (`as_row`, `matches`, `summary`).
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from dossier.vocabulary import PHASES
from projections.fold import Item, enrolment_context

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
CONTEXT_FIELDS = ("school_year", "sector", "grade")
# What is kept per live experience: the row without the threshold-dependent values.
EXPERIENCE_FACTS = (
    "experience_id", "kind", "occurred_on", *CONTEXT_FIELDS,
    "conversation_id", "held_on", "reflection_recorded_at", "recorder_role",
)  # fmt: skip
# And per live conversation: when, in which enrolment, and whether all phases were held.
CONVERSATION_FACTS = ("conversation_id", "held_on", *CONTEXT_FIELDS, "complete")

Facts = dict[str, Any]


@dataclass(frozen=True)
class Thresholds:
    late_after_days: int = 30
    backdated_after_days: int = 14


def pupil_facts(items: Mapping[str, Item]) -> tuple[list[Facts], list[Facts]]:
    """One pupil's folded entries as audit facts: per live experience its first
    reflection, per live conversation whether it reached every phase."""
    context = enrolment_context(items)
    reflections = _reflections(items)
    experiences = []
    for item in _live(items, "experience"):
        where = context(item["date"])
        facts = {
            "experience_id": item["entry_id"],
            "kind": item["data"]["kind"],
            "occurred_on": item["date"],
            **{k: where[k] for k in CONTEXT_FIELDS},
            "conversation_id": None,
            "held_on": None,
            "reflection_recorded_at": None,
            "recorder_role": None,
        }
        if item["entry_id"] in reflections:
            conversation, phase = reflections[item["entry_id"]]
            facts.update(
                conversation_id=conversation["entry_id"],
                held_on=conversation["date"],
                reflection_recorded_at=phase["recorded_at"],
                recorder_role=phase["recorded_by"]["role"],
            )
        experiences.append(facts)
    return experiences, _conversations(items, context)


def as_row(pupil_id: str, facts: Mapping[str, Any], limits: Thresholds) -> dict[str, Any]:
    """An experience's facts as an audit row, flagged by the auditor's thresholds."""
    row: dict[str, Any] = {"pupil_id": pupil_id, **{k: facts[k] for k in EXPERIENCE_FACTS}}
    row.update(days_to_reflection=None, days_to_recording=None, not_reflected=True)
    row.update(reflected_late=False, backdated=False, reflected_before_experience=False)
    held, recorded = facts["held_on"], facts["reflection_recorded_at"]
    if held is not None and recorded is not None:
        to_reflection = _days(facts["occurred_on"], held)
        to_recording = _days(held, recorded[:10])
        row.update(
            days_to_reflection=to_reflection,
            days_to_recording=to_recording,
            not_reflected=False,
            reflected_late=to_reflection > limits.late_after_days,
            backdated=to_recording > limits.backdated_after_days,
            reflected_before_experience=to_reflection < 0,
        )
    return {field: row[field] for field in ROW_FIELDS}


def sort_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(rows, key=lambda r: (r["occurred_on"], r["pupil_id"], r["experience_id"]))


def summary(
    rows: Iterable[Mapping[str, Any]], conversations: Iterable[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """Per school year, sector and grade: experiences, reflection and complete
    conversations, from the rows and conversation facts that matched the filters."""
    groups: dict[tuple[str, str, int], dict[str, Any]] = {}

    def group(row: Mapping[str, Any]) -> dict[str, Any]:
        key = (row["school_year"], row["sector"], row["grade"])
        if key not in groups:
            zero = dict.fromkeys(SUMMARY_FIELDS[3:], 0)
            groups[key] = {**dict(zip(SUMMARY_FIELDS[:3], key, strict=True)), **zero}
        return groups[key]

    for row in rows:
        counts = group(row)
        counts["experiences"] += 1
        counts["reflected"] += not row["not_reflected"]
        counts["reflected_within"] += not row["not_reflected"] and not row["reflected_late"]
    for conversation in conversations:
        counts = group(conversation)
        counts["conversations"] += 1
        counts["conversations_all_phases"] += bool(conversation["complete"])
    for counts in groups.values():
        share = counts["reflected_within"] / counts["experiences"] if counts["experiences"] else 0
        counts["percentage_reflected_within"] = round(100 * share, 1)
    return [groups[key] for key in sorted(groups)]


def matches(facts: Mapping[str, Any], day_field: str, filters: Mapping[str, Any]) -> bool:
    """Whether a row or conversation falls within the auditor's filters."""
    for key in CONTEXT_FIELDS:
        if filters.get(key) is not None and facts[key] != filters[key]:
            return False
    day = facts[day_field]
    if filters.get("from") and day < filters["from"].isoformat():
        return False
    return not (filters.get("to") and day > filters["to"].isoformat())


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


def _conversations(items: Mapping[str, Item], context: Any) -> list[Facts]:
    done: dict[str, set[str]] = {}
    for phase in _live(items, "phase"):
        done.setdefault(phase["parent_id"], set()).add(phase["data"]["phase"])
    found = []
    for conversation in _live(items, "conversation"):
        where = context(conversation["date"])
        found.append(
            {
                "conversation_id": conversation["entry_id"],
                "held_on": conversation["date"],
                **{k: where[k] for k in CONTEXT_FIELDS},
                "complete": done.get(conversation["entry_id"], set()) >= set(PHASES),
            }
        )
    return found


def _days(start: str, end: str) -> int:
    return (date.fromisoformat(end) - date.fromisoformat(start)).days
