"""/api/v1/pupils: the dossiers, their enrolments and their immutable history."""

from typing import Any
from uuid import UUID

from flask_smorest import Blueprint

from api import schemas as s
from api.auth import current_actor
from api.http import dossiers, etag, if_match, services, written
from dossier.errors import InvalidValue

blp = Blueprint("pupils", __name__, url_prefix="/api/v1/pupils", description="Pupils' dossiers")


@blp.route("", methods=["GET"])
@blp.arguments(s.Page(), location="query")
@blp.response(200, s.PupilPage)
def list_pupils(page: dict[str, Any]) -> dict[str, Any]:
    """List the pupils of the caller's school, by name."""
    items, next_cursor = services().queries.pupils(current_actor(), page["cursor"], page["limit"])
    return {"items": items, "next_cursor": next_cursor}


@blp.route("", methods=["POST"])
@blp.arguments(s.NewPupil())
@blp.response(201, s.Written)
def open_dossier(values: dict[str, Any]) -> Any:
    """Open a dossier for a pupil at the caller's school."""
    return written(dossiers().open_dossier(current_actor(), values))


@blp.route("/<uuid:pupil_id>", methods=["GET"])
@blp.response(200, s.Pupil)
def get_pupil(pupil_id: UUID) -> Any:
    """Show a pupil: name, current enrolment and the dossier's version (also as ETag)."""
    summary = dossiers().summary(current_actor(), pupil_id)
    return summary, etag(summary.version)


@blp.route("/<uuid:pupil_id>/enrolments", methods=["POST"])
@blp.arguments(s.Enrolment())
@blp.response(201, s.Written)
def change_enrolment(values: dict[str, Any], pupil_id: UUID) -> Any:
    """Record a new enrolment: school year, sector and grade."""
    return written(dossiers().change_enrolment(current_actor(), pupil_id, values, if_match()))


@blp.route("/<uuid:pupil_id>/coaches", methods=["POST"])
@blp.arguments(s.CoachAssignment())
@blp.response(201, s.Written)
def assign_coach(values: dict[str, Any], pupil_id: UUID) -> Any:
    """Assign a coach of the school to the pupil (counsellors only)."""
    receipt = dossiers().assign_coach(current_actor(), pupil_id, values["user_id"], if_match())
    return written(receipt)


@blp.route("/<uuid:pupil_id>/coaches/<uuid:user_id>", methods=["DELETE"])
@blp.response(200, s.Written)
def unassign_coach(pupil_id: UUID, user_id: UUID) -> Any:
    """End a coach's assignment to the pupil (counsellors only); the history keeps it."""
    return written(dossiers().unassign_coach(current_actor(), pupil_id, user_id, if_match()))


@blp.route("/<uuid:pupil_id>/events", methods=["GET"])
@blp.arguments(s.Page(), location="query")
@blp.response(200, s.HistoryPage)
def history(page: dict[str, Any], pupil_id: UUID) -> dict[str, Any]:
    """The dossier's immutable history, oldest first; `cursor` is the last version seen."""
    cursor = page["cursor"] or "0"
    if not (cursor.isascii() and cursor.isdigit() and len(cursor) <= 18):
        raise InvalidValue("cursor is not one this service gave out", field="cursor")
    after = int(cursor)
    events = dossiers().history(current_actor(), pupil_id, after, page["limit"] + 1)
    more = len(events) > page["limit"]
    items = events[: page["limit"]]
    return {"items": items, "next_cursor": str(items[-1].version) if more else None}
