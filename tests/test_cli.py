"""The `dossier` command line, and the API end to end against a real `dossier serve` process."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from projections.cores import usable_cores
from scripts import bench
from scripts.loopback import call, dossier, running_server


@pytest.fixture
def served(db_url: str) -> Iterator[tuple[str, str]]:
    """A running `dossier serve` with one school and coach; yields (base URL, coach token)."""
    dossier(db_url, "school", "add", "--code", "SCH1", "--name", "Het Loopbaan College")
    token = dossier(db_url, "user", "add", "--school", "SCH1", "--role", "coach", "--name", "Jan")
    with running_server(db_url) as base:
        yield base, token.stdout.strip().splitlines()[-1]


def test_user_add_prints_the_token_last_and_it_works(tmp_path: Path) -> None:
    db = str(tmp_path / "d.sqlite")
    dossier(db, "school", "add", "--code", "SCH1", "--name", "School")
    added = dossier(db, "user", "add", "--school", "SCH1", "--role", "counsellor", "--name", "Ria")
    token = added.stdout.strip().splitlines()[-1]
    assert token.startswith("ldt_")
    listed = dossier(db, "user", "list")
    assert "Ria" in listed.stdout
    assert token not in listed.stdout


def test_user_for_unknown_school_fails_with_a_message(tmp_path: Path) -> None:
    result = dossier(
        str(tmp_path / "d.sqlite"),
        "user",
        "add",
        "--school",
        "NOPE",
        "--role",
        "coach",
        "--name",
        "X",
        check=False,
    )
    assert result.returncode != 0
    assert "no school NOPE" in result.stderr


def test_token_is_stored_only_as_a_hash(tmp_path: Path) -> None:
    db = tmp_path / "d.sqlite"
    dossier(str(db), "school", "add", "--code", "SCH1", "--name", "School")
    token = dossier(
        str(db), "user", "add", "--school", "SCH1", "--role", "coach", "--name", "Jan"
    ).stdout.split()[-1]
    assert token.startswith("ldt_")
    stored = b"".join(p.read_bytes() for p in tmp_path.glob("d.sqlite*"))
    assert token.encode() not in stored


def test_flow_over_http_against_dossier_serve(served: tuple[str, str]) -> None:
    base, token = served
    status, me = call(base, "GET", "/api/v1/me", token)
    assert (status, me["role"]) == (200, "coach")
    pupil = {"name": "Noah", "sector": "vmbo", "grade": 4, "school_year": "2024-2025"}
    status, created = call(base, "POST", "/api/v1/pupils", token, pupil)
    assert status == 201
    path = f"/api/v1/pupils/{created['id']}"
    experience = {
        "kind": "meeloopdag",
        "title": "Meeloopdag bij de brandweer",
        "occurred_on": "2024-11-12",
        "story": "Ik mocht mee op oefening en de slang vasthouden.",
        "emotion": "positive",
    }
    status, written = call(base, "POST", f"{path}/experiences", token, experience)
    assert (status, written["version"]) == (201, 2)
    status, problem = call(
        base, "POST", f"{path}/experiences", token, {**experience, "emotion": "blij"}
    )
    assert status == 422
    assert "emotion" in problem["errors"]
    status, events = call(base, "GET", f"{path}/events", token)
    assert [e["type"] for e in events["items"]] == ["Opened", "ExperienceRecorded"]
    assert call(base, "GET", "/api/v1/pupils")[0] == 401


def test_revoked_user_is_refused_at_once(served: tuple[str, str], db_url: str) -> None:
    base, token = served
    assert call(base, "GET", "/api/v1/me", token)[0] == 200
    user_id = call(base, "GET", "/api/v1/me", token)[1]["id"]
    dossier(db_url, "user", "revoke", user_id)
    assert call(base, "GET", "/api/v1/me", token)[0] == 401


def test_projections_status_and_rebuild(tmp_path: Path) -> None:
    db = str(tmp_path / "d.sqlite")
    status = dossier(db, "projections", "status").stdout
    assert "pupils" in status
    assert "d.sqlite.views-1" in status  # where they are
    rebuilt = dossier(db, "projections", "rebuild", "pupils")
    assert "Rebuilt pupils" in rebuilt.stdout
    assert "Rebuilt all read models" in dossier(db, "projections", "rebuild").stdout
    assert "d.sqlite.views-2" in dossier(db, "projections", "status").stdout
    unknown = dossier(db, "projections", "rebuild", "nope", check=False)
    assert unknown.returncode != 0


def test_bench_help_lists_the_benchmarks_own_options(tmp_path: Path) -> None:
    """`dossier bench` passes its arguments to the benchmark, `--help` too."""
    shown = " ".join(dossier(str(tmp_path / "d.sqlite"), "bench", "--help").stdout.split())
    assert "--quick" in shown
    assert "--workers INTEGER RANGE Server processes for the HTTP appends." in shown


def test_bench_starts_one_server_process_per_usable_core() -> None:
    """Counted as for rebuild helpers, so a container's CPU quota counts, not the host's
    cores; asked when the benchmark starts, not when it is imported."""
    workers = next(p for p in bench.main.params if p.name == "workers")
    assert workers.default is usable_cores
