"""The Flask application factory."""

from collections.abc import Mapping
from typing import Any

from flask import Flask, Response, send_from_directory
from swagger_ui_bundle import swagger_ui_path  # type: ignore[import-untyped]

from api import access_log, account, audit, auth, entries, errors, pupils, transfers, views
from projections.runtime import Services, open_services

DEFAULTS: dict[str, Any] = {
    "API_TITLE": "Loopbaandossier",
    "API_VERSION": "v1",
    "OPENAPI_VERSION": "3.0.3",
    "OPENAPI_URL_PREFIX": "/api",
    "OPENAPI_JSON_PATH": "openapi.json",
    "OPENAPI_SWAGGER_UI_PATH": "docs",
    "OPENAPI_SWAGGER_UI_URL": "/api/docs/static/",
    "MAX_CONTENT_LENGTH": 256 * 1024,
    "DOSSIER_DB": None,
    "DOSSIER_CREATE_TABLES": True,
}


def create_app(config: Mapping[str, Any] | None = None, services: Services | None = None) -> Flask:
    """Build the app; `services` lets a caller (tests, `dossier serve`) share open services."""
    app = Flask(__name__)
    app.config.update(DEFAULTS)
    app.config.update(config or {})
    app.extensions["dossier"] = services or open_services(
        app.config["DOSSIER_DB"], create_tables=app.config["DOSSIER_CREATE_TABLES"]
    )
    api = errors.ProblemApi(
        app,
        spec_kwargs={
            "components": {
                "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            },
            "security": [{"bearer": []}],
        },
    )
    errors.register(app)
    auth.register(app)
    access_log.register(app)
    transfers.register(app)
    for blueprint in (account.blp, pupils.blp, entries.blp, views.blp, audit.blp, transfers.blp):
        api.register_blueprint(blueprint)
    app.add_url_rule("/api/docs/static/<path:filename>", "docs_assets", docs_asset)
    return app


def docs_asset(filename: str) -> Response:
    """Swagger UI's files, shipped in a package, so the docs work without internet access."""
    return send_from_directory(swagger_ui_path, filename)
