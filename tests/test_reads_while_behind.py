"""A read does a bounded share of the read models' catching up, so that a rebuild or a
follower far behind never turns a coach's request into replaying the log: the read is
told to come back, and every such read moves the models on."""

from collections.abc import Iterator
from typing import Any
from uuid import UUID

import pytest

from projections.runtime import open_services
from projections.timeline import Timeline
from tests.test_quarantine import EXPERIENCE, new_pupil, open_school, record, titles

WAITING = 30  # events written where no read model follows them
MOST = 10  # what one read may apply itself, here


def written_elsewhere(db: str, headers: dict[str, str], pupil: str) -> None:
    """WAITING experiences saved by a process that leaves following to others."""
    elsewhere = open_services(db, followed_elsewhere=True)
    try:
        actor = elsewhere.accounts.authenticate(headers["Authorization"].split()[1])
        for number in range(WAITING):
            values = {**EXPERIENCE, "title": f"Dag {number}"}
            elsewhere.dossiers.record_experience(actor, UUID(pupil), values)
    finally:
        elsewhere.close()


School = tuple[Any, Any, dict[str, str], str]  # services, client, headers, a pupil


@pytest.fixture
def school_with_pupil(db_url: str) -> Iterator[School]:
    services, client, headers = open_school(db_url, Timeline())
    try:
        yield services, client, headers, new_pupil(client, headers, "Sanne")
    finally:
        services.close()


def test_a_read_far_behind_is_told_to_retry_and_moves_the_models_on(
    school_with_pupil: School, db_url: str
) -> None:
    services, client, headers, sanne = school_with_pupil
    record(client, headers, sanne, "Bakkerij")
    written_elsewhere(db_url, headers, sanne)
    services.follower.read_most = MOST

    answer = client.get(f"/api/v1/pupils/{sanne}/timeline", headers=headers)

    assert answer.status_code == 503
    assert answer.content_type == "application/problem+json"
    assert answer.headers["Retry-After"] == "5"
    assert "try again" in answer.json["detail"]
    assert all(s.lag == WAITING - MOST for s in services.follower.status())
    audit = client.get("/api/v1/audit/reflections", headers=headers)
    assert audit.status_code == 503  # it moved the models on by MOST too
    assert all(s.lag == WAITING - 2 * MOST for s in services.follower.status())

    assert client.get(f"/api/v1/pupils/{sanne}/story", headers=headers).status_code == 200
    assert titles(client, headers, sanne) == ["Bakkerij"] + [f"Dag {n}" for n in range(WAITING)]


def test_a_read_no_further_behind_than_it_may_apply_sees_every_write(
    school_with_pupil: School, db_url: str
) -> None:
    services, client, headers, sanne = school_with_pupil
    written_elsewhere(db_url, headers, sanne)
    services.follower.read_most = WAITING  # exactly what waits

    assert titles(client, headers, sanne) == [f"Dag {n}" for n in range(WAITING)]
    assert all(s.lag == 0 for s in services.follower.status())
