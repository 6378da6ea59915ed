"""Read model `pupils`: the list of a school's pupils, with their current enrolment."""

from typing import Any

from dossier.plain import event_type
from projections.readstore import Row, Tx

ENROLMENT_FIELDS = ("school_year", "sector", "grade")


class Pupils:
    name = "pupils"

    def create(self, tx: Tx) -> None:
        tx.execute(
            "CREATE TABLE IF NOT EXISTS pupils (pupil_id TEXT PRIMARY KEY, school TEXT NOT NULL, "
            "name TEXT NOT NULL, external_ref TEXT, school_year TEXT, sector TEXT, grade INTEGER, "
            "version INTEGER NOT NULL, opened_at TEXT NOT NULL, updated_at TEXT NOT NULL)"
        )
        tx.execute("CREATE INDEX IF NOT EXISTS pupils_by_school ON pupils (school, name, pupil_id)")
        tx.execute(
            "CREATE TABLE IF NOT EXISTS pupil_enrolments (entry_id TEXT PRIMARY KEY, "
            "pupil_id TEXT NOT NULL, seq INTEGER NOT NULL, school TEXT NOT NULL, "
            "school_year TEXT NOT NULL, sector TEXT NOT NULL, grade INTEGER NOT NULL, "
            "retracted INTEGER NOT NULL DEFAULT 0)"
        )
        tx.execute(
            "CREATE INDEX IF NOT EXISTS pupil_enrolments_by_pupil "
            "ON pupil_enrolments (pupil_id, seq)"
        )

    def drop(self, tx: Tx) -> None:
        tx.execute("DROP TABLE IF EXISTS pupils")
        tx.execute("DROP TABLE IF EXISTS pupil_enrolments")

    def apply(self, tx: Tx, event: Any, position: int) -> None:
        pupil_id, kind = str(event.originator_id), event_type(event)
        at = event.timestamp.isoformat()
        if kind == "Opened":
            tx.execute(
                "INSERT INTO pupils (pupil_id, school, name, external_ref, version, opened_at, "
                "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (pupil_id, event.school, event.name, event.external_ref, 1, at, at),
            )
            self._enrol(tx, pupil_id, event.enrolment_id, event)
        elif kind == "EnrolmentChanged":
            self._enrol(tx, pupil_id, event.entry_id, event)
        elif kind == "EntryCorrected":
            changes = {k: v for k, v in event.changes.items() if k in ENROLMENT_FIELDS}
            for field, value in changes.items():
                tx.execute(
                    f"UPDATE pupil_enrolments SET {field} = ? WHERE entry_id = ?",
                    (value, str(event.entry_id)),
                )
        elif kind == "EntryRetracted":
            tx.execute(
                "UPDATE pupil_enrolments SET retracted = 1 WHERE entry_id = ?",
                (str(event.entry_id),),
            )
        tx.execute(
            "UPDATE pupils SET version = ?, updated_at = ? WHERE pupil_id = ?",
            (event.originator_version, at, pupil_id),
        )
        self._refresh_current(tx, pupil_id)

    def _enrol(self, tx: Tx, pupil_id: str, entry_id: Any, event: Any) -> None:
        tx.execute(
            "INSERT INTO pupil_enrolments (entry_id, pupil_id, seq, school, school_year, sector, "
            "grade) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                str(entry_id),
                pupil_id,
                event.originator_version,
                event.school,
                event.school_year,
                event.sector,
                event.grade,
            ),
        )

    def _refresh_current(self, tx: Tx, pupil_id: str) -> None:
        rows = tx.query(
            "SELECT school_year, sector, grade FROM pupil_enrolments "
            "WHERE pupil_id = ? AND retracted = 0 ORDER BY seq DESC LIMIT 1",
            (pupil_id,),
        )
        if rows:
            current = rows[0]
            tx.execute(
                "UPDATE pupils SET school_year = ?, sector = ?, grade = ? WHERE pupil_id = ?",
                (current["school_year"], current["sector"], current["grade"], pupil_id),
            )


def list_pupils(tx: Tx, school: str, after: tuple[str, str] | None, limit: int) -> list[Row]:
    """A page of a school's pupils by name, after the (name, id) of the previous page's last."""
    columns = "pupil_id, name, external_ref, school, school_year, sector, grade, version"
    if after is None:
        sql = f"SELECT {columns} FROM pupils WHERE school = ? ORDER BY name, pupil_id LIMIT ?"
        return tx.query(sql, (school, limit))
    sql = (
        f"SELECT {columns} FROM pupils WHERE school = ? AND (name > ? OR (name = ? AND "
        "pupil_id > ?)) ORDER BY name, pupil_id LIMIT ?"
    )
    return tx.query(sql, (school, after[0], after[0], after[1], limit))
