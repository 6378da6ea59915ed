"""Shared fixtures: real storage (SQLite files, and PostgreSQL when reachable), app and client.

PostgreSQL tests use `DOSSIER_TEST_POSTGRES` (default postgresql://postgres@127.0.0.1:5432/test)
and skip with the reason when no server answers; `.ci/run` sets
`DOSSIER_REQUIRE_POSTGRES=1`, which turns that skip into a failure.
"""

import os
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from flask import Flask
from flask.testing import FlaskClient

from api.app import create_app
from dossier.access import Actor
from projections.runtime import Services, open_services

POSTGRES_URL = os.environ.get("DOSSIER_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


def reset_postgres(url: str) -> None:
    """Give each test an empty database: drop and recreate the public schema."""
    try:
        conn = psycopg.connect(url, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as error:
        reason = f"PostgreSQL not reachable at {url}: {error}"
        if os.environ.get("DOSSIER_REQUIRE_POSTGRES") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    with conn:
        conn.execute("DROP SCHEMA IF EXISTS public CASCADE")
        conn.execute("CREATE SCHEMA public")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Any) -> str:
    if request.param == "sqlite":
        return str(tmp_path / "dossier.sqlite")
    reset_postgres(POSTGRES_URL)
    return POSTGRES_URL


@pytest.fixture
def services(db_url: str) -> Iterator[Services]:
    opened = open_services(db_url)
    yield opened
    opened.close()


@pytest.fixture
def school(services: Services) -> str:
    services.accounts.add_school("SCH1", "Het Loopbaan College")
    services.accounts.add_school("SCH2", "De Andere School")
    return "SCH1"


def make_user(services: Services, school: str, role: str, name: str) -> tuple[Actor, str]:
    _user_id, token = services.accounts.add_user(school, role, name)
    return services.accounts.authenticate(token), token


@pytest.fixture
def coach(services: Services, school: str) -> Actor:
    return make_user(services, school, "coach", "Mevrouw de Vries")[0]


@pytest.fixture
def app(services: Services) -> Flask:
    return create_app({"TESTING": True}, services=services)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def tokens(services: Services, school: str) -> dict[str, dict[str, str]]:
    """Authorization headers per kind of caller."""
    users = {
        "coach": ("SCH1", "coach"),
        "counsellor": ("SCH1", "counsellor"),
        "auditor": ("SCH1", "auditor"),
        "admin": ("SCH1", "admin"),
        "other_school": ("SCH2", "coach"),
    }
    return {
        key: {"Authorization": f"Bearer {make_user(services, code, role, key)[1]}"}
        for key, (code, role) in users.items()
    }


@pytest.fixture
def pupil_id(client: FlaskClient, tokens: dict[str, dict[str, str]]) -> str:
    response = client.post(
        "/api/v1/pupils",
        json={"name": "Sanne Jansen", "sector": "vmbo", "grade": 3, "school_year": "2024-2025"},
        headers=tokens["coach"],
    )
    assert response.status_code == 201
    return str(response.json["id"])
