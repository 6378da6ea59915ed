"""Who opened which dossier, when, and which view of it: the school's AVG accountability.

Append-only: there is an insert and a select, nothing else, and it is no read model, so
`dossier projections rebuild` never touches it. Ids only grow (AUTOINCREMENT, BIGSERIAL).
"""

from datetime import UTC, datetime
from typing import Any

from dossier.access import Actor
from projections.readstore import ReadStore, Row, Tx

SQLITE_TABLE = (
    "CREATE TABLE IF NOT EXISTS access_log (id INTEGER PRIMARY KEY AUTOINCREMENT, "
    "pupil_id TEXT NOT NULL, user_id TEXT NOT NULL, role TEXT NOT NULL, school TEXT NOT NULL, "
    "view TEXT NOT NULL, at TEXT NOT NULL)"
)
POSTGRES_TABLE = SQLITE_TABLE.replace("INTEGER PRIMARY KEY AUTOINCREMENT", "BIGSERIAL PRIMARY KEY")


class AccessLog:
    def __init__(self, store: ReadStore) -> None:
        self.store = store

    def create_table(self) -> None:
        with self.store.transaction(write=True) as tx:
            tx.execute(POSTGRES_TABLE if self.store.postgres else SQLITE_TABLE)
            tx.execute(
                "CREATE INDEX IF NOT EXISTS access_log_by_pupil ON access_log (pupil_id, id)"
            )

    def record(self, actor: Actor, pupil_id: str, view: str) -> None:
        at = datetime.now(UTC).isoformat()
        with self.store.transaction(write=True) as tx:
            tx.execute(
                "INSERT INTO access_log (pupil_id, user_id, role, school, view, at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (pupil_id, actor.user_id, actor.role, actor.school, view, at),
            )


def read_access_log(tx: Tx, pupil_id: str, after: int, limit: int) -> list[Row]:
    return tx.query(
        "SELECT id, user_id, role, school, view, at FROM access_log "
        "WHERE pupil_id = ? AND id > ? ORDER BY id LIMIT ?",
        (pupil_id, after, limit),
    )


def as_item(row: Row) -> dict[str, Any]:
    return {
        "id": row["id"],
        "at": row["at"],
        "view": row["view"],
        "user": {"user_id": row["user_id"], "role": row["role"], "school": row["school"]},
    }
