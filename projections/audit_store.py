"""Audit facts kept per pupil, so that an audit reads the rows its filters select instead
of folding every dossier of the school on each request.

The timeline read model owns these tables: they are created, dropped and rebuilt with
it, and whenever it writes a pupil's rows it marks that pupil *stale* in the same
transaction. Working the facts out again folds the pupil's whole career, so it is left
until the log is applied (`work_out`, then `keep`): done per batch, a rebuild would fold
a pupil once for every batch it appears in, and holding the write lock meanwhile would
keep writers waiting. The follower refreshes when it has caught up and nothing
new has arrived, and `dossier projections rebuild` refreshes at its end. A read takes
the kept facts of fresh pupils and folds the stale ones itself, so its answer is always
complete and current; it is only slower while many pupils are stale.
"""

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from projections.audit import (
    CONTEXT_FIELDS,
    CONVERSATION_FACTS,
    EXPERIENCE_FACTS,
    Facts,
    matches,
    pupil_facts,
)
from projections.errors import is_infrastructure
from projections.fold import fold_current
from projections.readstore import Tx

log = logging.getLogger(__name__)

Found = tuple[list[tuple[str, Facts]], list[Facts]]  # (pupil id, experience facts), conversations


def create(tx: Tx) -> None:
    # Keyed by pupil and date, so a school's rows in a date range are found per pupil.
    tx.execute(
        f"CREATE TABLE IF NOT EXISTS {tx.view('audit_experiences')} (pupil_id TEXT NOT NULL, "
        "occurred_on TEXT NOT NULL, experience_id TEXT NOT NULL, kind TEXT NOT NULL, "
        "school_year TEXT NOT NULL, sector TEXT, grade INTEGER, conversation_id TEXT, "
        "held_on TEXT, reflection_recorded_at TEXT, recorder_role TEXT, "
        "PRIMARY KEY (pupil_id, occurred_on, experience_id))"
    )
    tx.execute(
        f"CREATE TABLE IF NOT EXISTS {tx.view('audit_conversations')} (pupil_id TEXT NOT NULL, "
        "held_on TEXT NOT NULL, conversation_id TEXT NOT NULL, school_year TEXT NOT NULL, "
        "sector TEXT, grade INTEGER, complete INTEGER NOT NULL, "
        "PRIMARY KEY (pupil_id, held_on, conversation_id))"
    )
    tx.execute(
        f"CREATE TABLE IF NOT EXISTS {tx.view('audit_stale')} "
        "(pupil_id TEXT PRIMARY KEY, mark BIGINT NOT NULL)" + tx.keyed
    )


def drop(tx: Tx) -> None:
    """In the order readers take them (after `pupils`, before the timeline's tables), so
    that a rebuild and an audit on PostgreSQL wait for each other instead of deadlocking."""
    for table in ("audit_stale", "audit_experiences", "audit_conversations"):
        tx.execute(f"DROP TABLE IF EXISTS {tx.view(table)}")


def mark_stale(tx: Tx, pupils: Mapping[str, int]) -> None:
    """Mark pupils stale at their dossier versions (`mark`): facts worked out from rows
    before a later mark are then not kept (see `keep`)."""
    tx.executemany(
        "INSERT INTO audit_stale (pupil_id, mark) VALUES (?, ?) "
        "ON CONFLICT (pupil_id) DO UPDATE SET mark = excluded.mark",
        sorted(pupils.items()),
    )


@dataclass(frozen=True)
class Worked:
    """A stale pupil's facts, worked out from its rows up to `mark`."""

    pupil_id: str
    mark: int
    experiences: list[Facts]
    conversations: list[Facts]


def work_out(tx: Tx, limit: int, failed: dict[str, int]) -> list[Worked]:
    """The facts of up to `limit` stale pupils, worked out from one snapshot (a read
    transaction: folding whole careers must not hold the write lock).

    A pupil the timeline quarantined stays stale: its rows are incomplete (and the audit
    of its school answers "unavailable" until the repair rebuilds the timeline). A pupil
    whose facts cannot be worked out (a bug, data not expected) is logged, noted in
    `failed` with its mark and passed over until it changes, so the others go on."""
    stale = tx.query(
        "SELECT pupil_id, mark FROM audit_stale s WHERE NOT EXISTS (SELECT 1 FROM "
        "projection_quarantine q WHERE q.pupil_id = s.pupil_id AND q.name = 'timeline') "
        "ORDER BY pupil_id LIMIT ?",
        (limit + len(failed),),
    )
    worked = []
    for row in stale:
        if len(worked) == limit or failed.get(row["pupil_id"]) == row["mark"]:
            continue
        try:
            worked.append(Worked(row["pupil_id"], row["mark"], *_facts(tx, row)))
        except Exception as error:
            if is_infrastructure(error):
                raise
            log.exception("the audit facts of pupil %s cannot be worked out", row["pupil_id"])
            failed[row["pupil_id"]] = row["mark"]
    return worked


def _facts(tx: Tx, stale: Mapping[str, Any]) -> tuple[list[Facts], list[Facts]]:
    """A stale pupil's facts from its fold up to its mark: the version of its newest
    rows, written in the same transaction as they were. So the fold remembered for the
    pupil's views (projections.fold) serves here too, extended by the newer rows only."""
    return pupil_facts(fold_current(tx, stale["pupil_id"], stale["mark"]).items)


def keep(tx: Tx, worked: list[Worked]) -> int:
    """Keep the facts of pupils not marked again since they were worked out (a write
    transaction); returns how many were kept. The others stay stale, for the next round."""
    kept = 0
    for found in worked:
        pupil = found.pupil_id
        rows = tx.query("SELECT mark FROM audit_stale WHERE pupil_id = ?", (pupil,))
        if not rows or rows[0]["mark"] != found.mark:
            continue
        for table in ("audit_experiences", "audit_conversations", "audit_stale"):
            tx.execute(f"DELETE FROM {table} WHERE pupil_id = ?", (pupil,))
        _insert(tx, "audit_experiences", EXPERIENCE_FACTS, pupil, found.experiences)
        conversations = [{**c, "complete": int(c["complete"])} for c in found.conversations]
        _insert(tx, "audit_conversations", CONVERSATION_FACTS, pupil, conversations)
        kept += 1
    return kept


def waiting(tx: Tx) -> int:
    """How many pupils are stale (quarantined ones included)."""
    return int(tx.query("SELECT COUNT(*) AS n FROM audit_stale")[0]["n"])


def _insert(tx: Tx, table: str, columns: tuple[str, ...], pupil: str, found: list[Facts]) -> None:
    marks = ", ".join("?" * (len(columns) + 1))
    tx.executemany(
        f"INSERT INTO {table} (pupil_id, {', '.join(columns)}) VALUES ({marks})",
        [(pupil, *(facts[c] for c in columns)) for facts in found],
    )


def read_school(tx: Tx, school: str, filters: Mapping[str, Any]) -> Found:
    """The facts of the school's experiences and conversations that match the filters:
    kept ones for fresh pupils, folded now for stale ones.

    The stale pupils are read first and their kept rows ignored, so a pupil refreshed
    meanwhile (in a transaction that does not share this one's snapshot) still counts once."""
    stale = tx.query(
        "SELECT s.pupil_id, s.mark FROM audit_stale s JOIN pupils p ON p.pupil_id = s.pupil_id "
        "WHERE p.school = ? ORDER BY s.pupil_id",
        (school,),
    )
    skip = {row["pupil_id"] for row in stale}
    experiences = [
        (row["pupil_id"], {c: row[c] for c in EXPERIENCE_FACTS})
        for row in _kept(tx, "audit_experiences", "occurred_on", school, filters)
        if row["pupil_id"] not in skip
    ]
    conversations = [
        {c: row[c] for c in CONVERSATION_FACTS}
        for row in _kept(tx, "audit_conversations", "held_on", school, filters)
        if row["pupil_id"] not in skip
    ]
    for row in stale:
        pupil, (found, held) = row["pupil_id"], _facts(tx, row)
        experiences += [(pupil, f) for f in found if matches(f, "occurred_on", filters)]
        conversations += [c for c in held if matches(c, "held_on", filters)]
    return experiences, conversations


def _kept(
    tx: Tx, table: str, day: str, school: str, filters: Mapping[str, Any]
) -> list[Mapping[str, Any]]:
    """The kept rows of the school's pupils that match the filters, as `matches` would."""
    sql = f"SELECT a.* FROM pupils p JOIN {table} a ON a.pupil_id = p.pupil_id WHERE p.school = ?"
    params: list[Any] = [school]
    for key in CONTEXT_FIELDS:
        if filters.get(key) is not None:
            sql += f" AND a.{key} = ?"
            params.append(filters[key])
    if filters.get("from"):
        sql += f" AND a.{day} >= ?"
        params.append(filters["from"].isoformat())
    if filters.get("to"):
        sql += f" AND a.{day} <= ?"
        params.append(filters["to"].isoformat())
    return tx.query(sql, params)
