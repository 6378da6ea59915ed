"""Authentication: every /api/v1 request carries `Authorization: Bearer <token>`.

Who may do what is decided in the application services (`dossier.access`); this
module only establishes who is calling.
"""

from flask import Flask, g, request

from api.http import services
from dossier.access import Actor
from dossier.errors import NotAuthenticated

PROTECTED_PREFIX = "/api/v1/"


def authenticate() -> None:
    if not request.path.startswith(PROTECTED_PREFIX):
        return
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise NotAuthenticated("send Authorization: Bearer <token>")
    g.actor = services().accounts.authenticate(token.strip())


def current_actor() -> Actor:
    actor: Actor = g.actor
    return actor


def register(app: Flask) -> None:
    app.before_request(authenticate)
