"""/api/v1/me and /healthz."""

from typing import Any

from flask_smorest import Blueprint

from api import schemas as s
from api.auth import current_actor
from api.http import services

blp = Blueprint("account", __name__, description="The caller and the service's health")


@blp.route("/api/v1/me", methods=["GET"])
@blp.response(200, s.Me)
def me() -> dict[str, Any]:
    """Who the token belongs to: id, name, role and school."""
    actor = current_actor()
    return {"id": actor.user_id, "name": actor.name, "role": actor.role, "school": actor.school}


@blp.route("/healthz", methods=["GET"])
@blp.response(200)
def healthz() -> dict[str, Any]:
    """Liveness and storage check; needs no token."""
    head = services().follower.head()
    return {"status": "ok", "events": head}
