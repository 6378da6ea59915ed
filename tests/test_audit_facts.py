"""The audit reads facts kept per pupil, folding only pupils whose facts are stale; either
way its answer equals the audit as computed before facts were kept (tests/audit_oracle.py):
every pupil of the school folded afresh."""

import json
import random
import threading
import time
from datetime import date
from typing import Any
from uuid import UUID

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dossier.access import Actor
from projections import audit_store
from projections.audit import Thresholds
from projections.runtime import Services, open_services
from scripts.workload import STAFF, one_pupil
from tests import audit_oracle
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
SCHOOL, OTHER = STAFF["school"], "SCH2"  # the workload's careers are of STAFF's school


def counsellor_of(services: Services, school: str) -> Actor:
    return services.accounts.authenticate(
        services.accounts.add_user(school, "counsellor", "Decaan")[1]
    )


def timeline_status(services: Services) -> Any:
    return next(s for s in services.follower.status() if s.name == "timeline")


def waiting(services: Services) -> int:
    return int(timeline_status(services).waiting)


def open_pupil(services: Services, actor: Actor) -> UUID:
    values = {"name": "Pupil", "sector": "vmbo", "grade": 3, "school_year": "2023-2024"}
    return services.dossiers.open_dossier(actor, values).id


def school_of(db: str, **options: Any) -> Services:
    services = open_services(db, **options)
    for school in (SCHOOL, OTHER):
        services.accounts.add_school(school, school)
    return services


def assert_audits_as_before(
    services: Services, actors: dict[str, Actor], limits: Thresholds = LIMITS
) -> None:
    for school, actor in actors.items():
        for filters in FILTERS:
            expected = audit_oracle.answer(services, school, filters, limits)
            assert services.queries.audit(actor, filters, limits) == expected, (school, filters)


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(commands=COMMANDS, data=st.data())
def test_the_audit_from_kept_or_stale_facts_equals_the_audit_before_facts_were_kept(
    tmp_path_factory, commands, data
):
    services = school_of(str(tmp_path_factory.mktemp("audit") / "d.sqlite"))
    try:
        actor, elsewhere = counsellor_of(services, SCHOOL), counsellor_of(services, OTHER)
        actors = {SCHOOL: actor}
        first, second = open_pupil(services, actor), open_pupil(services, actor)
        play(services, elsewhere, open_pupil(services, elsewhere), commands, data.draw)
        checked = {"stale": 0, "kept": 0}

        def compare() -> None:
            if waiting(services):
                checked["stale"] += 1
                assert_audits_as_before(services, actors)
            services.follower.refresh_all()
            assert waiting(services) == 0
            checked["kept"] += 1
            assert_audits_as_before(services, actors)

        play(services, actor, first, commands, data.draw, after_each=compare)
        # One pupil kept, the other stale: the audit takes each its own way.
        play(services, actor, second, commands[:6], data.draw)
        assert waiting(services) == 1
        assert_audits_as_before(services, actors)
        assert checked["stale"] > 0 and checked["kept"] > 0
    finally:
        services.close()


STEPS = st.lists(
    st.sampled_from(
        ["career", "commands", "unfollowed", "refresh", "refresh_all", "rebuild", "transfer"]
    ),
    min_size=3,
    max_size=10,
)


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=STEPS, data=st.data())
def test_the_audit_stays_as_before_through_batches_refreshes_rebuilds_and_transfers(
    tmp_path_factory, steps, data
):
    """Whole careers saved at once (many events of a pupil in one batch), commands caught
    up one by one or many at once, partial and full refreshes, rebuilds of everything or
    of the timeline alone, and pupils moving to the other school."""
    services = school_of(str(tmp_path_factory.mktemp("steps") / "d.sqlite"))
    try:
        services.accounts.trust(SCHOOL, services.accounts.school_key(SCHOOL).public_key)
        actors = {school: counsellor_of(services, school) for school in (SCHOOL, OTHER)}
        pupils = [open_pupil(services, actors[SCHOOL])]
        rng = random.Random(data.draw(st.integers(0, 1000)))
        for step in steps:
            if step == "career":
                pupil, career = one_pupil(rng, data.draw(st.integers(2, 60)))
                services.dossiers.save(career)
                services.follower.catch_up()
                pupils.append(pupil)
            elif step in ("commands", "unfollowed"):
                if step == "unfollowed":  # the commands' events caught up in one batch
                    services.dossiers.on_saved = None
                pupil = data.draw(st.sampled_from(pupils))
                play(services, actors[SCHOOL], pupil, data.draw(COMMANDS)[:8], data.draw)
                services.dossiers.on_saved = services.follower.catch_up
                services.follower.catch_up()
            elif step == "refresh":
                services.follower.refresh(data.draw(st.integers(1, 3)))
            elif step == "refresh_all":
                services.follower.refresh_all()
            elif step == "rebuild":
                services.follower.rebuild(data.draw(st.sampled_from([[], ["timeline"]])))
            elif step == "transfer":
                move_to_other_school(services, data.draw(st.sampled_from(pupils)), actors[OTHER])
            limits = Thresholds(data.draw(st.integers(0, 60)), data.draw(st.integers(0, 30)))
            assert_audits_as_before(services, actors, limits)
    finally:
        services.close()


def move_to_other_school(services: Services, pupil: UUID, receiver: Actor) -> None:
    """Export with consent and import at the other school; a pupil that cannot move
    (moved already, say) stays where it is."""
    from dossier.errors import DomainError

    sender = Actor("mover", "counsellor", SCHOOL)
    try:
        services.dossiers.give_consent(sender, pupil, {"given_by": "parent"})
        bundle = json.loads(json.dumps(services.transfers.export(sender, pupil, OTHER)))
    except DomainError:
        return
    services.transfers.import_bundle(receiver, bundle)


def test_a_career_saved_in_one_batch_is_kept_whole(tmp_path):
    services = school_of(str(tmp_path / "d.sqlite"))
    try:
        services.dossiers.save(one_pupil(random.Random(3), 80)[1])
        services.follower.catch_up()
        services.follower.refresh_all()
        assert waiting(services) == 0
        actor = counsellor_of(services, SCHOOL)
        assert services.queries.audit(actor, {}, LIMITS)[0]
        assert_audits_as_before(services, {SCHOOL: actor})
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


def test_a_store_of_the_previous_timeline_version_is_rebuilt_with_its_facts(tmp_path):
    db = str(tmp_path / "d.sqlite")
    services = school_of(db)
    try:
        services.dossiers.save(one_pupil(random.Random(4), 60)[1])
        services.follower.catch_up()
        with services.reads.transaction(write=True) as tx:  # as version 2 left it
            audit_store.drop(tx)
            tx.execute("UPDATE projection_positions SET version = '2' WHERE name = 'timeline'")
    finally:
        services.close()
    services = open_services(db)
    try:
        actor = counsellor_of(services, SCHOOL)
        assert services.queries.audit(actor, {}, LIMITS)[0]
        assert_audits_as_before(services, {SCHOOL: actor})
    finally:
        services.close()


def wait_until_refreshed(services: Services, seconds: float = 15) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        status = timeline_status(services)
        if status.lag == 0 and status.waiting == 0:
            break
        time.sleep(0.05)
    return status


def test_the_background_follower_refreshes_when_nothing_new_arrives(tmp_path):
    services = school_of(str(tmp_path / "d.sqlite"), background=True)
    try:
        open_pupil(services, counsellor_of(services, SCHOOL))
        status = wait_until_refreshed(services)
        assert (status.lag, status.waiting) == (0, 0)
    finally:
        services.close()


def test_the_one_process_server_refreshes_what_was_left_before_it_started(tmp_path):
    """Stale facts at start (an upgrade's rebuild, another process's import) are refreshed
    though no write of this process nudges its follower."""
    db = str(tmp_path / "d.sqlite")
    services = school_of(db)
    try:
        open_pupil(services, counsellor_of(services, SCHOOL))
        assert waiting(services) == 1
    finally:
        services.close()
    services = open_services(db, background=True)
    try:
        status = wait_until_refreshed(services)
        assert (status.lag, status.waiting) == (0, 0)
    finally:
        services.close()


def test_the_follower_process_loop_refreshes_when_idle(tmp_path):
    services = school_of(str(tmp_path / "d.sqlite"))
    try:
        open_pupil(services, counsellor_of(services, SCHOOL))
        rounds = iter(range(3))
        services.follower.follow(lambda: next(rounds, None) is not None, poll=0.01)
        assert waiting(services) == 0
    finally:
        services.close()


def test_a_pupil_whose_facts_fail_does_not_hold_up_the_others(tmp_path, monkeypatch):
    services = school_of(str(tmp_path / "d.sqlite"))
    try:
        actor = counsellor_of(services, SCHOOL)
        pupils = sorted(str(open_pupil(services, actor)) for _ in range(30))
        works = audit_store._facts

        def breaks_for_the_first(tx: Any, stale: Any) -> Any:
            if stale["pupil_id"] == pupils[0]:
                raise KeyError("data this version does not expect")
            return works(tx, stale)

        monkeypatch.setattr(audit_store, "_facts", breaks_for_the_first)
        services.follower.refresh_while_idle()
        assert waiting(services) == 1
        assert services.follower.refresh_all() == 0  # passed over until it changes
    finally:
        services.close()


def test_a_failure_after_catching_up_leaves_the_background_follower_running(tmp_path, monkeypatch):
    services = school_of(str(tmp_path / "d.sqlite"), background=True)
    try:
        follower, calls = services.follower, {"n": 0, "lost": False}
        head = follower.head

        def connection_lost_once() -> int:
            """From the third call on, the first that the follower's thread makes fails:
            this test's own status checks call it too, and took the third call on a
            slow machine, which then failed the test instead of the follower."""
            calls["n"] += 1
            if (
                calls["n"] >= 3
                and not calls["lost"]
                and threading.current_thread() is follower._thread
            ):
                calls["lost"] = True
                raise OSError("connection lost")
            return head()

        monkeypatch.setattr(follower, "head", connection_lost_once)
        open_pupil(services, counsellor_of(services, SCHOOL))
        wait_until_refreshed(services, seconds=3)
        assert calls["n"] > 3
        assert follower._thread is not None and follower._thread.is_alive()
    finally:
        services.close()
