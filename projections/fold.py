"""A pupil's entries as they stood at a moment: original rows with their revisions folded in."""

import threading
from collections import OrderedDict
from collections.abc import Mapping
from datetime import date
from functools import cached_property
from typing import Any

import orjson

from dossier.vocabulary import school_year_of, school_year_start
from projections.readstore import Tx

Item = dict[str, Any]
DATE_FIELDS = ("occurred_on", "held_on")


def fold(tx: Tx, pupil_id: str, as_of: str | None = None) -> dict[str, Item]:
    """Every entry of the pupil recorded up to `as_of` (a `stamp`), in recording order."""
    if as_of:
        return fold_rows(*_rows(tx, "AND recorded_at <= ?", (pupil_id, as_of)))
    return fold_rows(*_rows(tx, "", (pupil_id,)))


def _rows(tx: Tx, condition: str, params: tuple[Any, ...]) -> tuple[list[Any], list[Any]]:
    """One pupil's entry and revision rows (the first parameter is the pupil), by seq."""
    return tuple(  # type: ignore[return-value]
        tx.query(f"SELECT * FROM {table} WHERE pupil_id = ? {condition} ORDER BY seq", params)
        for table in ("timeline_entries", "timeline_revisions")
    )


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


# Per pupil: the dossier version folded, the read-model file's generation its rows came
# from (SQLite; None on PostgreSQL), and the fold.
_cache: OrderedDict[str, tuple[int, int | None, Folded]] = OrderedDict()
_cache_lock = threading.Lock()
CACHE_SIZE = 256  # pupils


def fold_current(tx: Tx, pupil_id: str, version: int) -> Folded:
    """The pupil's entries as they stand now, remembered with the dossier version.

    The version comes from the pupils read model, written in the same transaction as
    the timeline rows, and rows are only ever added: so a remembered fold is exactly
    what folding again would give, and a newer version needs only the rows after it.
    The first read after a write therefore reads and folds that write, not the career.
    Rows are read up to the version only, and a fold is remembered only when the
    timeline has applied all the pupils model has (not during a rebuild of it), both as
    this one read transaction sees them, and used only with rows of the same read-model
    file (another process may have swapped a rebuilt one in). Callers refuse a
    quarantined pupil first, in the same transaction (`Queries._reading`), so its
    incomplete rows are never folded.
    """
    with _cache_lock:
        known = _cache.get(pupil_id)
        if known is not None:
            _cache.move_to_end(pupil_id)
    if known is not None and known[1] != tx.generation:
        known = None  # folded from the rows of a read-model file since replaced (SQLite)
    if known is not None and known[0] == version:
        return known[2]
    if known is not None and known[0] < version:
        later = _rows(tx, "AND seq > ? AND seq <= ?", (pupil_id, known[0], version))
        folded = Folded(fold_rows(*later, earlier=known[2].items))
    else:
        folded = Folded(fold_rows(*_rows(tx, "AND seq <= ?", (pupil_id, version))))
    if not _timeline_complete(tx):
        return folded
    with _cache_lock:
        current = _cache.get(pupil_id)
        if current is None or (current[1] or 0, current[0]) < (tx.generation or 0, version):
            _cache[pupil_id] = (version, tx.generation, folded)
            _cache.move_to_end(pupil_id)
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    return folded


def _timeline_complete(tx: Tx) -> bool:
    """Whether the timeline read model is as far in the event log as the pupils model."""
    rows = tx.query(
        "SELECT name, position FROM projection_positions WHERE name IN ('pupils', 'timeline')"
    )
    positions = {row["name"]: row["position"] for row in rows}
    return positions.get("timeline", -1) >= positions.get("pupils", 0)


def forget_folds() -> None:
    """After a rebuild, folds are made afresh."""
    with _cache_lock:
        _cache.clear()


def fold_rows(
    entries: list[Any], revisions: list[Any], earlier: Mapping[str, Item] | None = None
) -> dict[str, Item]:
    """Fold one pupil's revisions (in recording order) into their entries.

    With `earlier`, the fold of the rows before these: it is extended, not changed (an
    item of it is copied before it changes), since other readers may hold it.
    """
    items = dict(earlier or {})
    fresh = {row["entry_id"]: _item(row) for row in entries}
    items.update(fresh)
    owned = set(fresh) if earlier else set(items)
    for revision in revisions:
        if revision["entry_id"] in items:
            _revise(_own(items, owned, revision["entry_id"]), revision)
    _follow_conversations(items, owned)
    return items


def _own(items: dict[str, Item], owned: set[str], entry_id: str) -> Item:
    """The item, copied first if it belongs to an earlier fold."""
    if entry_id not in owned:
        item = items[entry_id]
        items[entry_id] = {
            **item,
            "data": dict(item["data"]),
            "corrections": [*item["corrections"]],
        }
        owned.add(entry_id)
    return items[entry_id]


def _follow_conversations(items: dict[str, Item], owned: set[str]) -> None:
    """Phases, and insights or actions from a conversation, take its (corrected) date;
    entries of a retracted conversation count as retracted too."""
    for entry_id, item in list(items.items()):
        parent = items.get(item["parent_id"] or item["data"].get("conversation_id") or "")
        if parent is None or item["type"] == "conversation":
            continue
        retract = parent["retracted"] and item["type"] == "phase" and not item["retracted"]
        if item["date"] != parent["date"] or retract:
            item = _own(items, owned, entry_id)
            item["date"] = parent["date"]
        if retract:
            item["retracted"] = True
            item["retraction"] = item["retraction"] or parent["retraction"]


def _item(row: Any) -> Item:
    data = orjson.loads(row["data"])
    if row["type"] == "action":
        data["status"] = "open"
    return {
        "entry_id": row["entry_id"],
        "type": row["type"],
        "date": row["day"],
        "seq": row["seq"],
        "recorded_at": row["recorded_at"],
        "recorded_by": orjson.loads(row["actor"]),
        "parent_id": row["parent_id"],
        "data": data,
        "corrected": False,
        "corrections": [],
        "retracted": False,
        "retraction": None,
    }


def _revise(item: Item, revision: Any) -> None:
    data, kind = orjson.loads(revision["data"]), revision["kind"]
    note = {"recorded_at": revision["recorded_at"], "recorded_by": orjson.loads(revision["actor"])}
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


def enrolment_context(items: Mapping[str, Item]) -> Any:
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
