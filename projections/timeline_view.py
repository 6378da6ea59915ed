"""The timeline answer: a pupil's whole career in domain-date order, filtered and paged."""

from collections.abc import Mapping
from typing import Any

from projections.fold import Item, enrolment_context

HIDDEN_DATA = frozenset({"mentions", "conversation_id"})


def timeline_items(
    items: dict[str, Item],
    filters: Mapping[str, Any],
    after: tuple[str, int] | None,
    limit: int,
) -> tuple[list[Item], bool]:
    """A page of top-level items (phases are nested in their conversation), ordered by date
    then recording, after the cursor; and whether more follow. Only the page is presented."""
    context = enrolment_context(items)
    ordered = sorted(
        (i for i in items.values() if i["type"] != "phase"), key=lambda i: (i["date"], i["seq"])
    )
    chosen = [
        item
        for item in ordered
        if (after is None or (item["date"], item["seq"]) > after)
        and _matches(item, context, filters)
    ]
    phases = _phases_by_conversation(items) if chosen else {}
    shown = []
    for item in chosen[:limit]:
        entry = _present(item, context(item["date"]))
        if item["type"] == "conversation":
            entry["phases"] = [_present(p, {}) for p in phases.get(item["entry_id"], [])]
        shown.append(entry)
    return shown, len(chosen) > limit


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


def _matches(item: Item, context: Any, filters: Mapping[str, Any]) -> bool:
    day = item["date"]
    if filters.get("type") and item["type"] != filters["type"]:
        return False
    if filters.get("from") and day < filters["from"].isoformat():
        return False
    if filters.get("to") and day > filters["to"].isoformat():
        return False
    return not (
        filters.get("school_year") and context(day)["school_year"] != filters["school_year"]
    )
