"""School switch: consent, signed export, import, and the printable dossier."""

from typing import Any
from uuid import UUID

from flask import Flask, Response, render_template, request
from flask_smorest import Blueprint

from api import schemas as s
from api.auth import current_actor
from api.http import dossiers, services, written
from api.printable import as_pdf, printable

MAX_BUNDLE = 64 * 1024 * 1024

blp = Blueprint("transfers", __name__, description="School switch and the printable dossier")


@blp.route("/api/v1/pupils/<uuid:pupil_id>/consents", methods=["POST"])
@blp.arguments(s.NewConsent())
@blp.response(201, s.Written)
def give_consent(values: dict[str, Any], pupil_id: UUID) -> Any:
    """Record consent to transfer the dossier: a parent's under 16, the pupil's own from 16."""
    return written(dossiers().give_consent(current_actor(), pupil_id, values))


@blp.route("/api/v1/pupils/<uuid:pupil_id>/consents/<uuid:consent_id>/withdrawal", methods=["POST"])
@blp.arguments(s.Withdrawal())
@blp.response(201, s.Written)
def withdraw_consent(values: dict[str, Any], pupil_id: UUID, consent_id: UUID) -> Any:
    """Withdraw a consent; exports need another one in force."""
    return written(
        dossiers().withdraw_consent(current_actor(), pupil_id, consent_id, values.get("reason"))
    )


@blp.route("/api/v1/pupils/<uuid:pupil_id>/export", methods=["GET"])
@blp.arguments(s.ExportQuery(), location="query")
@blp.response(200)
def export(query: dict[str, Any], pupil_id: UUID) -> dict[str, Any]:
    """A signed, hash-chained bundle of the whole dossier for another school (counsellors)."""
    return services().transfers.export(current_actor(), pupil_id, query.get("to_school"))


@blp.route("/api/v1/imports", methods=["POST"])
@blp.arguments(s.Bundle())
@blp.response(201, s.ImportResult)
def import_bundle(bundle: dict[str, Any]) -> Any:
    """Import a bundle from a trusted school: 201 with the new pupil, 200 if imported before."""
    result = services().transfers.import_bundle(current_actor(), bundle)
    return result, 201 if result.created else 200


@blp.route("/api/v1/pupils/<uuid:pupil_id>/export.html", methods=["GET"])
@blp.response(200, content_type="text/html")
def export_html(pupil_id: UUID) -> Response:
    """The dossier to read and print, in Dutch: timeline per school year and groter verhaal."""
    page = printable(services(), current_actor(), str(pupil_id))
    return Response(render_template("dossier.html", **page), mimetype="text/html")


@blp.route("/api/v1/pupils/<uuid:pupil_id>/export.pdf", methods=["GET"])
@blp.response(200, content_type="application/pdf")
def export_pdf(pupil_id: UUID) -> Response:
    """The same printable dossier as PDF."""
    page = printable(services(), current_actor(), str(pupil_id))
    return Response(as_pdf(page), mimetype="application/pdf")


def allow_large_bundles() -> None:
    if request.endpoint == "transfers.import_bundle":
        request.max_content_length = MAX_BUNDLE


def register(app: Flask) -> None:
    app.before_request(allow_large_bundles)
