"""Queries over the read models. Each first catches up, so it sees every accepted write."""

import base64
import json
from typing import Any

from dossier.access import Actor, check_may_use_dossiers
from dossier.errors import InvalidValue
from projections.follower import Follower
from projections.pupils import list_pupils


def encode_cursor(*values: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode()


def decode_cursor(cursor: str, size: int) -> list[Any]:
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except ValueError:
        raise InvalidValue("cursor is not one this service gave out", field="cursor") from None
    if not isinstance(values, list) or len(values) != size:
        raise InvalidValue("cursor is not one this service gave out", field="cursor")
    return values


class Queries:
    def __init__(self, follower: Follower) -> None:
        self.follower = follower

    def pupils(
        self, actor: Actor, cursor: str | None, limit: int
    ) -> tuple[list[dict[str, Any]], str | None]:
        """A page of the caller's school's pupils, by name."""
        check_may_use_dossiers(actor)
        self.follower.catch_up()
        after = tuple(decode_cursor(cursor, 2)) if cursor else None
        with self.follower.store.transaction() as tx:
            rows = list_pupils(tx, actor.school, after, limit + 1)  # type: ignore[arg-type]
        items = [{**row, "id": row["pupil_id"]} for row in rows[:limit]]
        more = len(rows) > limit
        return items, encode_cursor(items[-1]["name"], items[-1]["id"]) if more else None
