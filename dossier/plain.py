"""Turn event attributes into plain JSON-ready data for query results."""

from datetime import date, datetime
from typing import Any
from uuid import UUID

HIDDEN = frozenset(
    {"originator_id", "originator_version", "timestamp", "actor", "originator_topic"}
)


def plain(value: Any) -> Any:
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def event_type(domain_event: object) -> str:
    """`Dossier.ExperienceRecorded` -> `ExperienceRecorded`."""
    return type(domain_event).__qualname__.rsplit(".", 1)[-1]


def event_data(domain_event: object) -> dict[str, Any]:
    return {k: plain(v) for k, v in vars(domain_event).items() if k not in HIDDEN}
