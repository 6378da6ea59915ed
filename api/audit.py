"""/api/v1/audit: when reflection took place, for auditors and counsellors; never content."""

import csv
import io
from typing import Any

from flask import Response, request
from flask_smorest import Blueprint

from api import schemas as s
from api.auth import current_actor
from api.http import services
from projections.audit import ROW_FIELDS, Thresholds

blp = Blueprint("audit", __name__, url_prefix="/api/v1/audit", description="Audit of reflection")


@blp.route("/reflections", methods=["GET"])
@blp.arguments(s.AuditQuery(), location="query")
@blp.response(200, s.Audit)
@blp.alt_response(200, content_type="text/csv", description="The rows as CSV.")
def reflections(query: dict[str, Any]) -> Any:
    """A row per experience with its first reflection, and a summary; `format=csv` for CSV."""
    limits = Thresholds(query["late_after"], query["backdated_after"])
    rows, summary = services().queries.audit(current_actor(), query, limits)
    if wants_csv(query.get("format")):
        return Response(as_csv(rows), mimetype="text/csv")
    return {"items": rows, "summary": summary}


def wants_csv(format_: str | None) -> bool:
    if format_ is not None:
        return format_ == "csv"
    best = request.accept_mimetypes.best_match(["application/json", "text/csv"])
    return best == "text/csv"


def as_csv(rows: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=ROW_FIELDS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()
