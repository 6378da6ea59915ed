"""Every successful read of dossier content is written to the access log, here and only here.

Written before the response leaves: if the log cannot be written, the content is not sent.
"""

from flask import Flask, Response, request

from api.auth import current_actor
from api.http import services

CONTENT_VIEWS = {
    "pupils.get_pupil": "pupil",
    "pupils.history": "events",
    "views.timeline": "timeline",
    "views.story": "story",
    "transfers.export": "export",
    "transfers.export_html": "export",
    "transfers.export_pdf": "export",
}


def log_content_read(response: Response) -> Response:
    view = CONTENT_VIEWS.get(request.endpoint or "")
    if view and response.status_code == 200 and request.view_args:
        pupil_id = str(request.view_args["pupil_id"])
        services().access_log.record(current_actor(), pupil_id, view)
    return response


def register(app: Flask) -> None:
    app.after_request(log_content_read)
