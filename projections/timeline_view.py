"""The timeline answer: a pupil's whole career in domain-date order, filtered and paged."""

from bisect import bisect_right
from collections.abc import Mapping
from itertools import islice
from typing import Any

from projections.fold import Folded, Item

HIDDEN_DATA = frozenset({"mentions", "conversation_id"})


def timeline_items(
    folded: Folded,
    filters: Mapping[str, Any],
    after: tuple[str, int] | None,
    limit: int,
) -> tuple[list[Item], bool]:
    """A page of top-level items after the cursor, and whether more follow.

    Entries are kept in order, so the cursor is found by bisection and, without
    filters, the page is a slice: the work follows the page, not the whole career.
    """
    start = bisect_right(folded.keys, after) if after is not None else 0
    rest = folded.ordered[start:]
    if any(filters.get(k) for k in ("type", "from", "to", "school_year")):
        matching = (i for i in rest if _matches(i, folded.context, filters))
        chosen = list(islice(matching, limit + 1))
    else:
        chosen = rest[: limit + 1]
    shown = []
    for item in chosen[:limit]:
        entry = _present(item, folded.context(item["date"]))
        if item["type"] == "conversation":
            phases = folded.phases.get(item["entry_id"], [])
            entry["phases"] = [_present(p, {}) for p in phases]
        shown.append(entry)
    return shown, len(chosen) > limit


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
