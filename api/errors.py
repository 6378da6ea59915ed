"""Every error leaves the service as `application/problem+json` (RFC 9457), from here only."""

import logging
from http import HTTPStatus
from typing import Any

from flask import Flask, Response, json
from flask_smorest import Api
from werkzeug.exceptions import HTTPException

from dossier import errors as e

log = logging.getLogger(__name__)

PROBLEM = "application/problem+json"

DOMAIN_STATUS: dict[type[e.DomainError], int] = {
    e.NotAuthenticated: 401,
    e.Forbidden: 403,
    e.DossierNotFound: 404,
    e.VersionConflict: 412,
    e.ActionClosed: 409,
    e.CoachAlreadyAssigned: 409,
    e.NoConsent: 409,
    e.EntryRetracted: 409,
    e.PhaseAlreadyRecorded: 409,
    e.UnknownAccount: 404,
    e.AccountError: 409,
    e.UnknownEntry: 422,
    e.InvalidValue: 422,
    e.DossierUnavailable: 503,
}


def problem(
    status: int, detail: str, slug: str | None = None, errors: Any = None, **headers: str
) -> Response:
    title = HTTPStatus(status).phrase
    body: dict[str, Any] = {
        "type": f"urn:loopbaandossier:problem:{slug}" if slug else "about:blank",
        "title": title,
        "status": status,
        "detail": detail,
    }
    if errors:
        body["errors"] = errors
    response = Response(json.dumps(body), status=status, mimetype=PROBLEM)
    response.headers.update(headers)
    return response


def slug_of(error: e.DomainError) -> str:
    name = type(error).__name__
    return "".join(f"-{c.lower()}" if c.isupper() else c for c in name).lstrip("-")


def handle_domain_error(error: e.DomainError) -> Response:
    status = next(s for cls, s in DOMAIN_STATUS.items() if isinstance(error, cls))
    errors = {error.field: [error.detail]} if error.field else None
    headers = {"WWW-Authenticate": 'Bearer realm="loopbaandossier"'} if status == 401 else {}
    if isinstance(error, e.ViewsCatchingUp):
        headers["Retry-After"] = str(error.retry_after)
    return problem(status, error.detail, slug_of(error), errors, **headers)


class ProblemApi(Api):  # type: ignore[misc]
    """flask-smorest's Api, answering HTTP errors (including 422 from schemas) as problems."""

    def handle_http_exception(self, error: HTTPException) -> Response:
        status = error.code or 500
        data = getattr(error, "data", None) or {}
        messages = data.get("messages")
        if messages:
            errors = {k: v for location in messages.values() for k, v in _flatten(location)}
            detail = "The request did not pass validation."
            if status == 400:
                detail = "The request body is not valid JSON."
            return problem(status, detail, "validation-error" if status == 422 else None, errors)
        if status >= 500:
            log.exception("request failed", exc_info=error.__cause__ or error)
        return problem(status, error.description or HTTPStatus(status).description)


def _flatten(messages: Any, prefix: str = "") -> list[tuple[str, Any]]:
    if not isinstance(messages, dict):
        return [(prefix or "body", messages)]
    pairs: list[tuple[str, Any]] = []
    for key, value in messages.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        pairs.extend(_flatten(value, name) if isinstance(value, dict) else [(name, value)])
    return pairs


def register(app: Flask) -> None:
    app.register_error_handler(e.DomainError, handle_domain_error)
