"""/api/v1/me and /healthz."""

from typing import Any
from uuid import UUID

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


@blp.route("/api/v1/users", methods=["GET"])
@blp.response(200, s.UserList)
def list_users() -> dict[str, Any]:
    """The users of the caller's school (admins only); never their tokens."""
    return {"items": services().accounts.users_of(current_actor())}


@blp.route("/api/v1/users", methods=["POST"])
@blp.arguments(s.NewUser())
@blp.response(201, s.NewUserToken)
def add_user(values: dict[str, Any]) -> dict[str, Any]:
    """Add a user at the caller's school (admins only); the token is shown only in this answer."""
    user, token = services().accounts.add_user_as(current_actor(), values["role"], values["name"])
    return {**vars(user), "token": token}


@blp.route("/api/v1/users/<uuid:user_id>", methods=["DELETE"])
@blp.response(204)
def revoke_user(user_id: UUID) -> None:
    """Revoke a user of the caller's school (admins only): their tokens stop working at once."""
    services().accounts.revoke_user_as(current_actor(), user_id)


@blp.route("/healthz", methods=["GET"])
@blp.response(200)
def healthz() -> dict[str, Any]:
    """Liveness and storage check; needs no token."""
    head = services().follower.head()
    return {"status": "ok", "events": head}
