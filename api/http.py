"""Small HTTP helpers shared by the views: the services, If-Match and written responses."""

import re
from typing import Any

from flask import current_app, request
from werkzeug.exceptions import BadRequest

from dossier.application import Dossiers, Receipt
from projections.runtime import Services

IF_MATCH = re.compile(r'^"(\d{1,18})"$')


def services() -> Services:
    found: Services = current_app.extensions["dossier"]
    return found


def dossiers() -> Dossiers:
    return services().dossiers


def if_match() -> int | None:
    """The version the client last saw, from `If-Match: "7"`; None when absent or `*`."""
    value = request.headers.get("If-Match", "").strip()
    if not value or value == "*":
        return None
    match = IF_MATCH.match(value)
    if not match:
        raise BadRequest('If-Match must be the strong ETag of a version, e.g. "7"')
    return int(match.group(1))


def etag(version: int) -> dict[str, str]:
    return {"ETag": f'"{version}"'}


def written(receipt: Receipt) -> tuple[dict[str, Any], dict[str, str]]:
    return {"id": receipt.id, "version": receipt.version}, etag(receipt.version)
