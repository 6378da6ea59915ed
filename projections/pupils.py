"""Read model `pupils`: the list of a school's pupils, with their current enrolment."""

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from projections.readstore import Row, Tx
from projections.recorded import Recorded

ENROLMENT_FIELDS = ("school_year", "sector", "grade")
# Events whose statements read or change rows of pupils opened earlier in the batch.
PUPIL_EVENTS = frozenset(
    {"CoachAssigned", "CoachUnassigned", "TransferReceived", "EnrolmentChanged"}
    | {"EntryCorrected", "EntryRetracted"}
)


class Pupils:
    name = "pupils"
    version = "3"

    def create(self, tx: Tx) -> None:
        tx.execute(
            f"CREATE TABLE IF NOT EXISTS {tx.view('pupils')} (pupil_id TEXT PRIMARY KEY, "
            "school TEXT NOT NULL, name TEXT NOT NULL, external_ref TEXT, school_year TEXT, "
            "sector TEXT, grade INTEGER, version INTEGER NOT NULL, opened_at TEXT NOT NULL, "
            "updated_at TEXT NOT NULL)" + tx.keyed  # a rebuild updates ~200k rows by key
        )
        tx.execute(
            f"CREATE INDEX IF NOT EXISTS {tx.view('pupils_by_school')} "
            "ON pupils (school, name, pupil_id)"
        )
        tx.execute(
            f"CREATE TABLE IF NOT EXISTS {tx.view('pupil_enrolments')} (entry_id TEXT NOT NULL, "
            "pupil_id TEXT NOT NULL, seq INTEGER NOT NULL, school TEXT NOT NULL, "
            "school_year TEXT NOT NULL, sector TEXT NOT NULL, grade INTEGER NOT NULL, "
            "retracted INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (pupil_id, entry_id))"
        )
        tx.execute(
            f"CREATE INDEX IF NOT EXISTS {tx.view('pupil_enrolments_by_pupil')} "
            "ON pupil_enrolments (pupil_id, seq)"
        )

        tx.execute(
            f"CREATE TABLE IF NOT EXISTS {tx.view('pupil_coaches')} (coach_id TEXT NOT NULL, "
            "pupil_id TEXT NOT NULL, PRIMARY KEY (coach_id, pupil_id))"
        )
        tx.execute(
            f"CREATE INDEX IF NOT EXISTS {tx.view('pupil_coaches_by_pupil')} "
            "ON pupil_coaches (pupil_id)"
        )

    def index(self, tx: Tx) -> None:
        """None to make later: applying an event reads these tables by their indexes too."""

    def drop(self, tx: Tx) -> None:
        for table in ("pupil_coaches", "pupils", "pupil_enrolments"):
            tx.execute(f"DROP TABLE IF EXISTS {tx.view(table)}")

    def prepare(self, events: Sequence[Recorded]) -> None:
        """Nothing to do before the lock: every step here reads or writes the tables."""

    def work_out(self, tx: Tx, limit: int) -> list[Any]:
        """Nothing is left for later here."""
        return []

    def keep(self, tx: Tx, worked: list[Any]) -> int:
        return 0

    def waiting(self, tx: Tx) -> int:
        return 0

    def apply(self, tx: Tx, event: Recorded, position: int) -> None:
        pending, kind = self._pending(tx), event.type
        if kind == "Opened":
            self._open(pending, event)
        elif kind in PUPIL_EVENTS:
            self._write_opened(tx, pending)  # the statements below read or change those rows
            if self._change(tx, event):
                self._refresh_current(tx, event.pupil_id)
        pending.latest[event.pupil_id] = (event.version, event.timestamp, event.pupil_id)

    def _change(self, tx: Tx, event: Recorded) -> bool:
        """Apply an event of PUPIL_EVENTS; whether the pupil's current enrolment may have
        changed."""
        pupil_id, kind, values = event.pupil_id, event.type, event.fields
        if kind == "CoachAssigned":
            self._assign(tx, pupil_id, values["coach_id"])
        elif kind == "CoachUnassigned":
            tx.execute(
                "DELETE FROM pupil_coaches WHERE coach_id = ? AND pupil_id = ?",
                (values["coach_id"], pupil_id),
            )
        elif kind == "TransferReceived":
            tx.execute(
                "UPDATE pupils SET school = ? WHERE pupil_id = ?",
                (values["actor"]["school"], pupil_id),
            )
            tx.execute("DELETE FROM pupil_coaches WHERE pupil_id = ?", (pupil_id,))
        elif kind == "EnrolmentChanged":
            self._enrol(tx, event, values["entry_id"])
            return True
        elif kind == "EntryCorrected":
            changes = {k: v for k, v in values["changes"].items() if k in ENROLMENT_FIELDS}
            for column, value in changes.items():
                tx.execute(
                    f"UPDATE pupil_enrolments SET {column} = ? WHERE pupil_id = ? AND entry_id = ?",
                    (value, pupil_id, values["entry_id"]),
                )
            return bool(changes)
        elif kind == "EntryRetracted":
            tx.execute(
                "UPDATE pupil_enrolments SET retracted = 1 WHERE pupil_id = ? AND entry_id = ?",
                (pupil_id, values["entry_id"]),
            )
            return True
        return False

    def flush(self, tx: Tx) -> None:
        """The batch's new pupils, then each pupil's newest version, a statement a table."""
        pending: Pending | None = tx.batch.pop(self.name, None)
        if pending is None:
            return
        self._write_opened(tx, pending)
        tx.executemany(
            "UPDATE pupils SET version = ?, updated_at = ? WHERE pupil_id = ?",
            # In key order: a rebuild's batch updates a quarter of the pupils, and visiting
            # their pages in order took a quarter less time than in the log's order.
            [pending.latest[pupil] for pupil in sorted(pending.latest)],
        )

    def _pending(self, tx: Tx) -> "Pending":
        found: Pending | None = tx.batch.get(self.name)
        if found is None:  # not setdefault: that would build a Pending for every event
            found = tx.batch[self.name] = Pending()
        return found

    @staticmethod
    def _open(pending: "Pending", event: Recorded) -> None:
        """A new pupil's rows, kept for `_write_opened`: its first enrolment is its current
        one, so nothing needs reading back."""
        values, pupil_id, at = event.fields, event.pupil_id, event.timestamp
        school, name, ref = values["school"], values["name"], values["external_ref"]
        year, sector, grade = values["school_year"], values["sector"], values["grade"]
        pending.pupils.append((pupil_id, school, name, ref, year, sector, grade, 1, at, at))
        pending.enrolments.append(_enrolment(event, values["enrolment_id"]))
        pending.coaches += [(coach_id, pupil_id) for coach_id in values["coaches"]]

    @staticmethod
    def _write_opened(tx: Tx, pending: "Pending") -> None:
        """Write the new pupils kept so far: in a rebuild they come a hundred a batch, and a
        statement each for them, their enrolment and their coaches, with a read back of the
        current enrolment, cost more than all other events' work on this model."""
        if not pending.pupils:
            return
        tx.executemany(
            "INSERT INTO pupils (pupil_id, school, name, external_ref, school_year, sector, "
            "grade, version, opened_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            pending.pupils,
        )
        tx.executemany(ENROL, pending.enrolments)
        tx.executemany(ASSIGN, pending.coaches)
        pending.pupils, pending.enrolments, pending.coaches = [], [], []

    @staticmethod
    def _assign(tx: Tx, pupil_id: str, coach_id: str) -> None:
        tx.execute(ASSIGN, (coach_id, pupil_id))

    def _enrol(self, tx: Tx, event: Recorded, entry_id: str) -> None:
        tx.execute(ENROL, _enrolment(event, entry_id))

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


ENROL = (
    "INSERT INTO pupil_enrolments (entry_id, pupil_id, seq, school, school_year, sector, grade) "
    "VALUES (?, ?, ?, ?, ?, ?, ?)"
)
ASSIGN = "INSERT INTO pupil_coaches (coach_id, pupil_id) VALUES (?, ?)"


def _enrolment(event: Recorded, entry_id: str) -> tuple[Any, ...]:
    values = event.fields
    return (
        entry_id,
        event.pupil_id,
        event.version,
        values["school"],
        values["school_year"],
        values["sector"],
        values["grade"],
    )


@dataclass
class Pending:
    """A batch's rows not yet written: new pupils (with their enrolment and coaches),
    and each pupil's newest version."""

    latest: dict[str, tuple[int, str, str]] = field(default_factory=dict)
    pupils: list[tuple[Any, ...]] = field(default_factory=list)
    enrolments: list[tuple[Any, ...]] = field(default_factory=list)
    coaches: list[tuple[str, str]] = field(default_factory=list)


def list_pupils(
    tx: Tx, school: str, coach: str | None, after: tuple[str, str] | None, limit: int
) -> list[Row]:
    """A page of a school's pupils (only a coach's own, given `coach`), by name, after
    the (name, id) of the previous page's last."""
    columns = (
        "p.pupil_id, p.name, p.external_ref, p.school, p.school_year, p.sector, p.grade, p.version"
    )
    sql, params = f"SELECT {columns} FROM pupils p ", []
    if coach is not None:
        sql += "JOIN pupil_coaches c ON c.pupil_id = p.pupil_id AND c.coach_id = ? "
        params.append(coach)
    # A pupil this read model stopped applying (quarantined) may have a stale school or
    # coaches, so it is not listed until repaired.
    sql += (
        "WHERE p.school = ? AND NOT EXISTS (SELECT 1 FROM projection_quarantine q "
        "WHERE q.pupil_id = p.pupil_id AND q.name = 'pupils') "
    )
    params.append(school)
    if after is not None:
        sql += "AND (p.name > ? OR (p.name = ? AND p.pupil_id > ?)) "
        params += [after[0], after[0], after[1]]
    return tx.query(sql + "ORDER BY p.name, p.pupil_id LIMIT ?", [*params, limit])


def quarantined_in_school(tx: Tx, school: str) -> int:
    """How many of the school's pupils some read model stopped applying."""
    rows = tx.query(
        "SELECT COUNT(DISTINCT q.pupil_id) AS n FROM projection_quarantine q "
        "JOIN pupils p ON p.pupil_id = q.pupil_id WHERE p.school = ?",
        (school,),
    )
    return int(rows[0]["n"])


@dataclass(frozen=True)
class Scope:
    school: str
    coaches: list[str]
    version: int
    quarantined: bool  # a read model stopped applying this pupil's events; scope may be stale


def scope_of(tx: Tx, pupil_id: str) -> Scope | None:
    """The pupil's school, assigned coaches and dossier version; None for an unknown pupil."""
    rows = tx.query(
        "SELECT school, version, EXISTS (SELECT 1 FROM projection_quarantine q "
        "WHERE q.pupil_id = p.pupil_id) AS quarantined FROM pupils p WHERE pupil_id = ?",
        (pupil_id,),
    )
    if not rows:
        return None
    coaches = tx.query("SELECT coach_id FROM pupil_coaches WHERE pupil_id = ?", (pupil_id,))
    row = rows[0]
    return Scope(
        row["school"], [r["coach_id"] for r in coaches], row["version"], bool(row["quarantined"])
    )
