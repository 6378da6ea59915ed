"""A pupil's entries as they stood at a moment: original rows with their revisions folded in."""

import json
import threading
from collections import OrderedDict
from datetime import date
from functools import cached_property
from typing import Any

from dossier.vocabulary import school_year_of, school_year_start
from projections.readstore import Tx

Item = dict[str, Any]
DATE_FIELDS = ("occurred_on", "held_on")


def fold(tx: Tx, pupil_id: str, as_of: str | None = None) -> dict[str, Item]:
    """Every entry of the pupil recorded up to `as_of` (a `stamp`), in recording order."""
    until, params = ("AND recorded_at <= ? ", (pupil_id, as_of)) if as_of else ("", (pupil_id,))
    entries = tx.query(
        f"SELECT * FROM timeline_entries WHERE pupil_id = ? {until}ORDER BY seq",
        params,
    )
    revisions = tx.query(
        f"SELECT * FROM timeline_revisions WHERE pupil_id = ? {until}ORDER BY seq",
        params,
    )
    return fold_rows(entries, revisions)


class Folded:
    """A pupil's folded entries, with what the views derive from them computed once.

    Remembered per dossier version (see `fold_current`), so a coach reading the same
    dossier again pays only for the page they see. Nothing here is changed after it is
    made; callers must not change what they get either.
    """

    def __init__(self, items: dict[str, Item]) -> None:
        self.items = items
        self._derived: dict[Any, Any] = {}

    @cached_property
    def ordered(self) -> list[Item]:
        """Top-level entries (phases live in their conversation) by date, then recording."""
        top = (i for i in self.items.values() if i["type"] != "phase")
        return sorted(top, key=lambda i: (i["date"], i["seq"]))

    @cached_property
    def keys(self) -> list[tuple[str, int]]:
        return [(i["date"], i["seq"]) for i in self.ordered]

    @cached_property
    def phases(self) -> dict[str, list[Item]]:
        grouped: dict[str, list[Item]] = {}
        for item in self.items.values():
            if item["type"] == "phase":
                grouped.setdefault(item["parent_id"], []).append(item)
        return grouped

    @cached_property
    def context(self) -> Any:
        return enrolment_context(self.items)

    def derived(self, key: Any, make: Any) -> Any:
        """`make()` once per key (the story for a given day, say)."""
        if key not in self._derived:
            self._derived[key] = make()
        return self._derived[key]


_cache: OrderedDict[tuple[str, int], Folded] = OrderedDict()
_cache_lock = threading.Lock()
CACHE_SIZE = 256


def fold_current(tx: Tx, pupil_id: str, version: int) -> Folded:
    """The pupil's entries as they stand now, remembered per dossier version.

    The version comes from the pupils read model, written in the same transaction as
    the timeline rows, so a remembered fold is exactly what folding again would give.
    """
    key = (pupil_id, version)
    with _cache_lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    folded = Folded(fold(tx, pupil_id))
    with _cache_lock:
        _cache[key] = folded
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    return folded


def forget_folds() -> None:
    """After a rebuild, folds are made afresh."""
    with _cache_lock:
        _cache.clear()


def fold_school(tx: Tx, school: str) -> dict[str, dict[str, Item]]:
    """Every pupil of a school, folded as they stand now: pupil id -> entries."""
    join = "JOIN pupils p ON p.pupil_id = t.pupil_id WHERE p.school = ? ORDER BY t.pupil_id, t.seq"
    entries = tx.query(f"SELECT t.* FROM timeline_entries t {join}", (school,))
    revisions = tx.query(f"SELECT t.* FROM timeline_revisions t {join}", (school,))
    by_pupil: dict[str, tuple[list[Any], list[Any]]] = {}
    for row in entries:
        by_pupil.setdefault(row["pupil_id"], ([], []))[0].append(row)
    for row in revisions:
        by_pupil.setdefault(row["pupil_id"], ([], []))[1].append(row)
    return {pupil: fold_rows(*rows) for pupil, rows in by_pupil.items()}


def fold_rows(entries: list[Any], revisions: list[Any]) -> dict[str, Item]:
    """Fold one pupil's revisions (in recording order) into their entries."""
    items = {row["entry_id"]: _item(row) for row in entries}
    for revision in revisions:
        item = items.get(revision["entry_id"])
        if item is not None:
            _revise(item, revision)
    _follow_conversations(items)
    return items


def _follow_conversations(items: dict[str, Item]) -> None:
    """Phases, and insights or actions from a conversation, take its (corrected) date;
    entries of a retracted conversation count as retracted too."""
    for item in items.values():
        parent = items.get(item["parent_id"] or item["data"].get("conversation_id") or "")
        if parent is None or item["type"] == "conversation":
            continue
        item["date"] = parent["date"]
        if parent["retracted"] and item["type"] == "phase":
            item["retracted"] = True
            item["retraction"] = item["retraction"] or parent["retraction"]


def _item(row: Any) -> Item:
    data = json.loads(row["data"])
    if row["type"] == "action":
        data["status"] = "open"
    return {
        "entry_id": row["entry_id"],
        "type": row["type"],
        "date": row["day"],
        "seq": row["seq"],
        "recorded_at": row["recorded_at"],
        "recorded_by": json.loads(row["actor"]),
        "parent_id": row["parent_id"],
        "data": data,
        "corrected": False,
        "corrections": [],
        "retracted": False,
        "retraction": None,
    }


def _revise(item: Item, revision: Any) -> None:
    data, kind = json.loads(revision["data"]), revision["kind"]
    note = {"recorded_at": revision["recorded_at"], "recorded_by": json.loads(revision["actor"])}
    if kind == "correction":
        item["data"].update(data["changes"])
        item["corrected"] = True
        shown = {k: v for k, v in data["changes"].items() if k != "mentions"}
        item["corrections"].append({**note, "changes": shown, "reason": data["reason"]})
        _redate(item)
    elif kind == "retraction":
        item["retracted"] = True
        item["retraction"] = {**note, "reason": data["reason"]}
    else:
        status = "completed" if kind == "completion" else "abandoned"
        item["data"].update({"status": status, "closed_at": note["recorded_at"]})
        item["data"].update({k: data[k] for k in ("outcome", "reason") if k in data})


def _redate(item: Item) -> None:
    if item["type"] == "enrolment":
        item["date"] = school_year_start(item["data"]["school_year"]).isoformat()
    for field in DATE_FIELDS:
        if field in item["data"]:
            item["date"] = item["data"][field]


def enrolment_context(items: dict[str, Item]) -> Any:
    """A function giving, for a date, the school, sector, grade and school year it falls in."""
    enrolments = sorted(
        (i for i in items.values() if i["type"] == "enrolment" and not i["retracted"]),
        key=lambda i: (i["date"], i["seq"]),
    )

    def context(day: str) -> dict[str, Any]:
        year = school_year_of(date.fromisoformat(day))
        started = [e for e in enrolments if e["date"] <= day] or enrolments[:1]
        same_year = [e for e in started if e["data"]["school_year"] == year]
        chosen = (same_year or started)[-1]["data"] if started else {}
        return {
            "school": chosen.get("school"),
            "sector": chosen.get("sector"),
            "grade": chosen.get("grade"),
            "school_year": year,
        }

    return context
