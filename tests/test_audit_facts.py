"""The audit reads facts kept per pupil, folding only pupils whose facts are stale; either
way its answer equals folding every dossier of the school afresh."""

import time
from datetime import date
from typing import Any
from uuid import UUID

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dossier.access import Actor
from projections.audit import Thresholds, as_row, matches, pupil_facts, sort_rows, summary
from projections.fold import fold
from projections.runtime import Services, open_services
from tests.test_projections import COMMANDS, play

LIMITS = Thresholds(late_after_days=30, backdated_after_days=14)
# Each on its own, on the dates the random commands use (conversations are held on 1 June).
FILTERS: list[dict[str, Any]] = [
    {},
    {"from": date(2024, 6, 1)},
    {"to": date(2024, 6, 1)},
    {"school_year": "2023-2024"},
    {"sector": "vmbo", "grade": 3},
    {"school_year": "2024-2025", "sector": "mbo", "grade": 1},
]


def folded_afresh(services: Services, school: str, filters: dict[str, Any]) -> Any:
    """The audit as it was computed before facts were kept: every pupil folded now."""
    rows, conversations = [], []
    with services.reads.transaction() as tx:
        pupils = tx.query("SELECT pupil_id FROM pupils WHERE school = ?", (school,))
        for pupil in (row["pupil_id"] for row in pupils):
            experiences, held = pupil_facts(fold(tx, pupil))
            rows += [as_row(pupil, f, LIMITS) for f in experiences]
            conversations += [c for c in held if matches(c, "held_on", filters)]
    rows = sort_rows([r for r in rows if matches(r, "occurred_on", filters)])
    return rows, summary(rows, conversations)


def counsellor_of(services: Services, school: str) -> Actor:
    return services.accounts.authenticate(
        services.accounts.add_user(school, "counsellor", "Decaan")[1]
    )


def waiting(services: Services) -> int:
    return next(s.waiting for s in services.follower.status() if s.name == "timeline")


def open_pupil(services: Services, actor: Actor) -> UUID:
    values = {"name": "Pupil", "sector": "vmbo", "grade": 3, "school_year": "2023-2024"}
    return services.dossiers.open_dossier(actor, values).id


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(commands=COMMANDS, data=st.data())
def test_the_audit_from_kept_or_stale_facts_equals_folding_the_school_afresh(
    tmp_path_factory, commands, data
):
    services = open_services(str(tmp_path_factory.mktemp("audit") / "d.sqlite"))
    try:
        for school in ("SCH1", "SCH2"):
            services.accounts.add_school(school, school)
        actor, elsewhere = counsellor_of(services, "SCH1"), counsellor_of(services, "SCH2")
        first, second = open_pupil(services, actor), open_pupil(services, actor)
        play(services, elsewhere, open_pupil(services, elsewhere), commands, data.draw)
        checked = {"stale": 0, "kept": 0}

        def compare() -> None:
            expected = [folded_afresh(services, "SCH1", f) for f in FILTERS]
            if waiting(services):
                checked["stale"] += 1
                assert [services.queries.audit(actor, f, LIMITS) for f in FILTERS] == expected
            services.follower.refresh_all()
            assert waiting(services) == 0
            checked["kept"] += 1
            assert [services.queries.audit(actor, f, LIMITS) for f in FILTERS] == expected

        play(services, actor, first, commands, data.draw, after_each=compare)
        # One pupil kept, the other stale: the audit takes each its own way.
        play(services, actor, second, commands[:6], data.draw)
        assert waiting(services) == 1
        for f in FILTERS:
            assert services.queries.audit(actor, f, LIMITS) == folded_afresh(services, "SCH1", f)
        assert checked["stale"] > 0 and checked["kept"] > 0
    finally:
        services.close()


def test_facts_worked_out_before_a_later_write_are_not_kept(services, coach):
    pupil = open_pupil(services, coach)
    timeline = services.follower.models["timeline"]
    with services.reads.transaction() as tx:
        worked = timeline.work_out(tx, 10)
    assert [w.pupil_id for w in worked] == [str(pupil)]
    experience = {"kind": "stage", "title": "Garage", "occurred_on": date(2024, 3, 1),
                  "story": "Ik hielp.", "emotion": "positive"}  # fmt: skip
    services.dossiers.record_experience(coach, pupil, experience)
    with services.reads.transaction(write=True) as tx:
        assert timeline.keep(tx, worked) == 0
    assert waiting(services) == 1
    services.follower.refresh_all()
    rows, _ = services.queries.audit(counsellor_of(services, "SCH1"), {}, LIMITS)
    assert [row["kind"] for row in rows] == ["stage"]


def test_a_rebuild_leaves_every_pupil_stale_until_refreshed(services, coach):
    for _ in range(3):
        open_pupil(services, coach)
    services.follower.refresh_all()
    assert waiting(services) == 0
    services.follower.rebuild()
    assert waiting(services) == 3
    assert services.follower.refresh_all() == 3
    assert waiting(services) == 0


def test_the_background_follower_refreshes_when_nothing_new_arrives(tmp_path):
    services = open_services(str(tmp_path / "d.sqlite"), background=True)
    try:
        services.accounts.add_school("SCH1", "School")
        actor = counsellor_of(services, "SCH1")
        services.follower.follow_in_background()
        open_pupil(services, actor)
        deadline = time.monotonic() + 30
        while waiting(services) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert waiting(services) == 0
    finally:
        services.close()
