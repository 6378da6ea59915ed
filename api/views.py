"""/api/v1/pupils/{id}/timeline and /story: read models of the dossier."""

from typing import Any
from uuid import UUID

from flask_smorest import Blueprint

from api import schemas as s
from api.auth import current_actor
from api.http import dossiers, services

blp = Blueprint(
    "views",
    __name__,
    url_prefix="/api/v1/pupils/<uuid:pupil_id>",
    description="The pupil's career at a glance: timeline and groter verhaal",
)


@blp.route("/timeline", methods=["GET"])
@blp.arguments(s.TimelineQuery(), location="query")
@blp.response(200, s.TimelinePage)
def timeline(query: dict[str, Any], pupil_id: UUID) -> dict[str, Any]:
    """The whole school career by date; `as_of` shows it as recorded at that moment."""
    items, next_cursor = services().queries.timeline(
        current_actor(), str(pupil_id), query, query.get("as_of")
    )
    return {"items": items, "next_cursor": next_cursor}


@blp.route("/story", methods=["GET"])
@blp.response(200, s.Story)
def story(pupil_id: UUID) -> dict[str, Any]:
    """The groter verhaal: recurring qualities and motives with their evidence."""
    return services().queries.story(current_actor(), str(pupil_id), dossiers().today())


@blp.route("/access-log", methods=["GET"])
@blp.arguments(s.Page(), location="query")
@blp.response(200, s.AccessLogPage)
def access_log(page: dict[str, Any], pupil_id: UUID) -> dict[str, Any]:
    """Who opened this dossier, when, and which view (counsellors only)."""
    items, next_cursor = services().queries.access_log(
        current_actor(), str(pupil_id), page["cursor"], page["limit"]
    )
    return {"items": items, "next_cursor": next_cursor}
