"""Queries over the read models. Each first catches up, so it sees every accepted write,
or answers that the views are still being brought up to date (ViewsCatchingUp)."""

import base64
import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import date, datetime
from typing import Any
from uuid import UUID

from dossier.access import (
    Actor,
    check_in_scope,
    check_may_audit,
    check_may_read_access_log,
    check_may_use_dossiers,
)
from dossier.errors import DossierNotFound, DossierUnavailable, InvalidValue, ViewsCatchingUp
from projections.access_log import as_item, read_access_log
from projections.audit import Thresholds, as_row, sort_rows, summary
from projections.audit_store import read_school
from projections.fold import Folded, fold, fold_current
from projections.follower import Follower
from projections.pupils import list_pupils, quarantined_in_school, scope_of
from projections.readstore import Tx
from projections.story import story
from projections.timeline import stamp
from projections.timeline_view import timeline_items

RETRY_AFTER = 5  # seconds; a 1M-event rebuild takes about a minute on the project's machine


def encode_cursor(*values: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode()


def decode_cursor(cursor: str, types: tuple[type, ...]) -> list[Any]:
    """The values of a cursor this service gave out, each of the expected type."""
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except ValueError:
        values = None
    if not isinstance(values, list) or [type(v) for v in values] != list(types):
        raise InvalidValue("cursor is not one this service gave out", field="cursor")
    if any(isinstance(v, int) and not 0 <= v < 2**62 for v in values):
        raise InvalidValue("cursor is not one this service gave out", field="cursor")
    return values


class Queries:
    def __init__(self, follower: Follower) -> None:
        self.follower = follower

    def pupils(
        self, actor: Actor, cursor: str | None, limit: int
    ) -> tuple[list[dict[str, Any]], str | None]:
        """A page of the caller's school's pupils, by name."""
        after = tuple(decode_cursor(cursor, (str, str))) if cursor else None
        with self._reading(actor) as (tx, _):
            coach = actor.user_id if actor.role == "coach" else None
            rows = list_pupils(tx, actor.school, coach, after, limit + 1)  # type: ignore[arg-type]
        items = [{**row, "id": row["pupil_id"]} for row in rows[:limit]]
        more = len(rows) > limit
        return items, encode_cursor(items[-1]["name"], items[-1]["id"]) if more else None

    def timeline(
        self,
        actor: Actor,
        pupil_id: str,
        filters: Mapping[str, Any],
        as_of: datetime | None = None,
    ) -> tuple[list[dict[str, Any]], str | None]:
        """A page of the pupil's career, as it stands now or as it was recorded at `as_of`."""
        cursor, limit = filters.get("cursor"), filters["limit"]
        after = tuple(decode_cursor(cursor, (str, int))) if cursor else None
        with self._reading(actor, pupil_id) as (tx, version):
            if as_of:
                folded = Folded(fold(tx, pupil_id, stamp(as_of)))
            else:
                folded = fold_current(tx, pupil_id, version)
        shown, more = timeline_items(folded, filters, after, limit)  # type: ignore[arg-type]
        return shown, encode_cursor(shown[-1]["date"], shown[-1]["seq"]) if more else None

    def story(self, actor: Actor, pupil_id: str, today: date) -> dict[str, Any]:
        """The pupil's groter verhaal, from the timeline read model."""
        with self._reading(actor, pupil_id) as (tx, version):
            folded = fold_current(tx, pupil_id, version)
        found: dict[str, Any] = folded.derived(("story", today), lambda: story(folded.items, today))
        return found

    def access_log(
        self, actor: Actor, pupil_id: str, cursor: str | None, limit: int
    ) -> tuple[list[dict[str, Any]], str | None]:
        """Who read this pupil's dossier, oldest first (counsellors only)."""
        check_may_read_access_log(actor)
        (after,) = decode_cursor(cursor, (int,)) if cursor else (0,)
        with self._reading(actor, pupil_id) as (tx, _):
            rows = read_access_log(tx, pupil_id, after, limit + 1)
        items = [as_item(row) for row in rows[:limit]]
        return items, encode_cursor(items[-1]["id"]) if len(rows) > limit else None

    def audit(
        self, actor: Actor, filters: Mapping[str, Any], limits: Thresholds
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """Reflection rows and summaries for the caller's school: dates and counts, no content."""
        check_may_audit(actor)
        self._catch_up()
        with self.follower.store.transaction() as tx:
            if quarantined_in_school(tx, actor.school):
                raise DossierUnavailable(
                    "some dossiers of this school cannot be read until their read models are "
                    "repaired, so the audit would be incomplete; try again after the repair"
                )
            experiences, conversations = read_school(tx, actor.school, filters)
        rows = sort_rows([as_row(pupil, facts, limits) for pupil, facts in experiences])
        return rows, summary(rows, conversations)

    @contextmanager
    def _reading(self, actor: Actor, pupil_id: str | None = None) -> Iterator[tuple[Tx, int]]:
        """Catch up, open one read transaction and check the pupil is in the caller's scope;
        yields the transaction and the pupil's dossier version (0 without a pupil)."""
        check_may_use_dossiers(actor)
        self._catch_up()
        with self.follower.store.transaction() as tx:
            version = 0
            if pupil_id is not None:
                scope = scope_of(tx, pupil_id)
                if scope is None:
                    raise DossierNotFound(f"no pupil {pupil_id}")
                if scope.quarantined:
                    self._unavailable(actor, pupil_id)
                check_in_scope(actor, scope.school, scope.coaches, pupil_id)
                version = scope.version
            yield tx, version

    def _catch_up(self) -> None:
        """Bring the read models up to date, within what a request may do."""
        if self.follower.catch_up_for_read():
            # How many events wait is not told: it counts every school's writes.
            raise ViewsCatchingUp(
                "the views are being brought up to date (as during a rebuild); nothing is "
                "lost, try again in a few seconds",
                retry_after=RETRY_AFTER,
            )

    def _unavailable(self, actor: Actor, pupil_id: str) -> None:
        """A quarantined pupil's read-model scope may be stale: the dossier itself decides
        who may know it exists (404 for others); those in scope learn it is unavailable."""
        self.follower.app.get_dossier(actor, UUID(pupil_id))  # type: ignore[attr-defined]
        raise DossierUnavailable(
            "this dossier's views cannot be shown until its read models are repaired; "
            "its history is complete and safe"
        )
