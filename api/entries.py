"""/api/v1/pupils/{id}/...: recording experiences, conversations, insights and actions.

Every route is a POST that appends one event and answers the dossier's new version
(also as ETag). `If-Match: "<version>"` makes the write conditional.
"""

from typing import Any
from uuid import UUID

from flask_smorest import Blueprint

from api import schemas as s
from api.auth import current_actor
from api.http import dossiers, if_match, written

blp = Blueprint(
    "entries",
    __name__,
    url_prefix="/api/v1/pupils/<uuid:pupil_id>",
    description="Recording the career conversation and what it yields",
)


@blp.route("/experiences", methods=["POST"])
@blp.arguments(s.NewExperience())
@blp.response(201, s.Written)
def record_experience(values: dict[str, Any], pupil_id: UUID) -> Any:
    """Record an experience (ervaring) with the pupil's small story."""
    return written(dossiers().record_experience(current_actor(), pupil_id, values, if_match()))


@blp.route("/conversations", methods=["POST"])
@blp.arguments(s.NewConversation())
@blp.response(201, s.Written)
def hold_conversation(values: dict[str, Any], pupil_id: UUID) -> Any:
    """Record a career conversation (loopbaangesprek) about experiences; the caller is the coach."""
    return written(dossiers().hold_conversation(current_actor(), pupil_id, values, if_match()))


@blp.route("/conversations/<uuid:conversation_id>/phases", methods=["POST"])
@blp.arguments(s.NewPhase())
@blp.response(201, s.Written)
def record_phase(values: dict[str, Any], pupil_id: UUID, conversation_id: UUID) -> Any:
    """Record a phase of a conversation: terugkijken, reflecteren, vooruitkijken or activeren."""
    receipt = dossiers().record_phase(
        current_actor(), pupil_id, conversation_id, values, if_match()
    )
    return written(receipt)


@blp.route("/insights", methods=["POST"])
@blp.arguments(s.NewInsight())
@blp.response(201, s.Written)
def record_insight(values: dict[str, Any], pupil_id: UUID) -> Any:
    """Record an insight (quality, motive or interest) with the experiences that evidence it."""
    return written(dossiers().record_insight(current_actor(), pupil_id, values, if_match()))


@blp.route("/actions", methods=["POST"])
@blp.arguments(s.NewAction())
@blp.response(201, s.Written)
def plan_action(values: dict[str, Any], pupil_id: UUID) -> Any:
    """Plan a follow-up action (vervolgstap): what, by when, who helps, what may block it."""
    return written(dossiers().plan_action(current_actor(), pupil_id, values, if_match()))


@blp.route("/actions/<uuid:action_id>/completion", methods=["POST"])
@blp.arguments(s.Completion())
@blp.response(201, s.Written)
def complete_action(values: dict[str, Any], pupil_id: UUID, action_id: UUID) -> Any:
    """Mark a follow-up action as done, with its outcome."""
    receipt = dossiers().complete_action(
        current_actor(), pupil_id, action_id, values["outcome"], if_match()
    )
    return written(receipt)


@blp.route("/actions/<uuid:action_id>/abandonment", methods=["POST"])
@blp.arguments(s.Abandonment())
@blp.response(201, s.Written)
def abandon_action(values: dict[str, Any], pupil_id: UUID, action_id: UUID) -> Any:
    """Abandon a follow-up action, with the reason."""
    receipt = dossiers().abandon_action(
        current_actor(), pupil_id, action_id, values["reason"], if_match()
    )
    return written(receipt)


@blp.route("/corrections", methods=["POST"])
@blp.arguments(s.Correction())
@blp.response(201, s.Written)
def correct_entry(values: dict[str, Any], pupil_id: UUID) -> Any:
    """Correct fields of an entry; the original stays in the history."""
    receipt = dossiers().correct_entry(
        current_actor(),
        pupil_id,
        values["entry_id"],
        values["changes"],
        values["reason"],
        if_match(),
    )
    return written(receipt)


@blp.route("/retractions", methods=["POST"])
@blp.arguments(s.Retraction())
@blp.response(201, s.Written)
def retract_entry(values: dict[str, Any], pupil_id: UUID) -> Any:
    """Retract an entry recorded in error; it stays in the history, marked."""
    receipt = dossiers().retract_entry(
        current_actor(), pupil_id, values["entry_id"], values["reason"], if_match()
    )
    return written(receipt)
