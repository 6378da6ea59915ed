"""The timeline answer: a pupil's whole career in domain-date order, filtered and paged."""

from collections.abc import Mapping
from typing import Any

from projections.fold import Item, enrolment_context

HIDDEN_DATA = frozenset({"mentions", "conversation_id"})


def timeline_items(items: dict[str, Item], filters: Mapping[str, Any]) -> list[Item]:
    """Top-level items (phases are nested in their conversation), ordered by date then recording."""
    context = enrolment_context(items)
    phases = _phases_by_conversation(items)
    shown = []
    for item in sorted(items.values(), key=lambda i: (i["date"], i["seq"])):
        if item["type"] == "phase":
            continue
        entry = _present(item, context(item["date"]))
        if item["type"] == "conversation":
            entry["phases"] = [_present(p, {}) for p in phases.get(item["entry_id"], [])]
        if _matches(entry, filters):
            shown.append(entry)
    return shown


def page(entries: list[Item], after: tuple[str, int] | None, limit: int) -> list[Item]:
    if after is not None:
        entries = [e for e in entries if (e["date"], e["seq"]) > after]
    return entries[:limit]


def _phases_by_conversation(items: dict[str, Item]) -> dict[str, list[Item]]:
    grouped: dict[str, list[Item]] = {}
    for item in items.values():
        if item["type"] == "phase":
            grouped.setdefault(item["parent_id"], []).append(item)
    return grouped


def _present(item: Item, context: dict[str, Any]) -> Item:
    data = {k: v for k, v in item["data"].items() if k not in HIDDEN_DATA}
    if item["type"] == "insight" and "conversation_id" in item["data"]:
        data["conversation_id"] = item["data"]["conversation_id"]
    return {
        **data,
        **context,
        "entry_id": item["entry_id"],
        "type": item["type"],
        "date": item["date"],
        "seq": item["seq"],
        "recorded_at": item["recorded_at"],
        "recorded_by": item["recorded_by"],
        "corrected": item["corrected"],
        "corrections": item["corrections"],
        "retracted": item["retracted"],
        "retraction": item["retraction"],
    }


def _matches(entry: Item, filters: Mapping[str, Any]) -> bool:
    if filters.get("type") and entry["type"] != filters["type"]:
        return False
    if filters.get("school_year") and entry["school_year"] != filters["school_year"]:
        return False
    if filters.get("from") and entry["date"] < filters["from"].isoformat():
        return False
    return not (filters.get("to") and entry["date"] > filters["to"].isoformat())
