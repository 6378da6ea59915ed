"""The demo data, loaded through the application service into a real SQLite file."""

from collections import Counter
from collections.abc import Iterator
from datetime import date, timedelta
from itertools import pairwise
from pathlib import Path
from uuid import UUID

import pytest

from dossier.access import Actor
from dossier.application import HistoryEvent
from dossier.errors import AccountError, DossierNotFound, Forbidden
from dossier.vocabulary import EXPERIENCE_KINDS, PHASES, school_year_of, school_year_start
from projections.labels import normalise
from projections.runtime import Services, open_services
from scripts.demo import DemoInfo, load_demo

KINDS_OF_EXPERIENCE = set(EXPERIENCE_KINDS) - {"other"}


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Services]:
    opened = open_services(str(tmp_path / "d.sqlite"))
    yield opened
    opened.close()


@pytest.fixture
def demo(services: Services) -> DemoInfo:
    return load_demo(services)


@pytest.fixture
def coach(services: Services, demo: DemoInfo) -> Actor:
    return services.accounts.authenticate(demo.tokens["coach"])


def history(services: Services, actor: Actor, pupil_id: UUID) -> list[HistoryEvent]:
    return services.dossiers.history(actor, pupil_id, 0, 1000)


def assert_last_year_is_recent(school_year: str, today: date) -> None:
    """The current school year; the one before only in the first weeks of a school year."""
    current = school_year_of(today)
    if (today - school_year_start(current)).days > 60:
        assert school_year == current
    else:
        assert school_year in (current, school_year_of(today - timedelta(days=365)))


def multi_year_pupil(services: Services, actor: Actor, demo: DemoInfo) -> UUID:
    """The pupil with the most enrolments."""
    return max(
        demo.pupil_ids,
        key=lambda pid: sum(e.type == "EnrolmentChanged" for e in history(services, actor, pid)),
    )


def test_each_role_token_authenticates_at_the_demo_school(
    services: Services, demo: DemoInfo
) -> None:
    assert demo.school == "DEMO01"
    for role in ("coach", "counsellor", "auditor"):
        actor = services.accounts.authenticate(demo.tokens[role])
        assert (actor.role, actor.school) == (role, "DEMO01")
    assert services.accounts.school_name("DEMO02")


def test_the_coach_lists_the_demo_pupils_and_not_those_of_the_other_school(
    services: Services, demo: DemoInfo, coach: Actor
) -> None:
    items, cursor = services.queries.pupils(coach, None, 50)
    assert cursor is None
    assert {item["id"] for item in items} == {str(pid) for pid in demo.pupil_ids}
    assert len(items) == 5
    assert {item["sector"] for item in items} >= {"vmbo", "havo", "mbo"}
    other = services.accounts.authenticate(demo.other_tokens["coach"])
    other_items, _ = services.queries.pupils(other, None, 50)
    assert [item["id"] for item in other_items] == [str(pid) for pid in demo.other_pupil_ids]
    with pytest.raises(DossierNotFound):
        services.dossiers.summary(other, demo.pupil_ids[0])


def test_the_counsellor_sees_the_pupils_and_the_auditor_sees_no_content(
    services: Services, demo: DemoInfo
) -> None:
    counsellor = services.accounts.authenticate(demo.tokens["counsellor"])
    items, _ = services.queries.pupils(counsellor, None, 50)
    assert len(items) == len(demo.pupil_ids)
    auditor = services.accounts.authenticate(demo.tokens["auditor"])
    with pytest.raises(Forbidden):
        history(services, auditor, demo.pupil_ids[0])


def test_a_multi_year_pupil_has_every_kind_of_experience_and_every_phase(
    services: Services, demo: DemoInfo, coach: Actor
) -> None:
    events = history(services, coach, multi_year_pupil(services, coach, demo))
    kinds = {e.data["kind"] for e in events if e.type == "ExperienceRecorded"}
    phases = {e.data["phase"] for e in events if e.type == "PhaseRecorded"}
    assert kinds >= KINDS_OF_EXPERIENCE
    assert phases == set(PHASES)
    years = [e.data["school_year"] for e in events if e.type in ("Opened", "EnrolmentChanged")]
    assert len(years) == 4
    assert_last_year_is_recent(years[-1], services.dossiers.today())
    starts = [int(year[:4]) for year in years]
    assert starts == list(range(starts[0], starts[0] + 4))


def test_one_pupil_moves_from_vmbo_4_to_mbo_1(
    services: Services, demo: DemoInfo, coach: Actor
) -> None:
    moves = []
    for pid in demo.pupil_ids:
        events = history(services, coach, pid)
        steps = [
            (e.data["sector"], e.data["grade"])
            for e in events
            if e.type in ("Opened", "EnrolmentChanged")
        ]
        moves += list(pairwise(steps))
    assert (("vmbo", 4), ("mbo", 1)) in moves


def test_insights_recur_in_different_words_so_the_bigger_story_can_merge_them(
    services: Services, demo: DemoInfo, coach: Actor
) -> None:
    events = history(services, coach, multi_year_pupil(services, coach, demo))
    labels = [e.data["label"] for e in events if e.type == "InsightRecorded"]
    counted = Counter(normalise(label) for label in labels)
    assert counted["samenwerken"] >= 3
    assert counted["anderen helpen"] >= 3
    written = {label for label in labels if normalise(label) == "samenwerken"}
    assert len(written) >= 3


def test_actions_corrections_retractions_and_an_unfinished_conversation(
    services: Services, demo: DemoInfo, coach: Actor
) -> None:
    today = services.dossiers.today()
    events = [e for pid in demo.pupil_ids for e in history(services, coach, pid)]
    types = Counter(e.type for e in events)
    assert types["ActionCompleted"] >= 3
    assert types["ActionAbandoned"] == 1
    assert types["EntryCorrected"] == 1
    assert types["EntryRetracted"] == 1
    closed = {
        e.data["action_id"] for e in events if e.type.startswith("Action") and "action_id" in e.data
    }
    still_open = [
        e for e in events if e.type == "ActionPlanned" and e.data["entry_id"] not in closed
    ]
    assert len(still_open) == 1
    assert date.fromisoformat(still_open[0].data["due_on"]) < today
    assert still_open[0].data["helper"] and still_open[0].data["obstacles"]
    phases: dict[str, set[str]] = {}
    for e in events:
        if e.type == "ConversationHeld":
            phases[e.data["entry_id"]] = set()
        elif e.type == "PhaseRecorded":
            phases[e.data["conversation_id"]].add(e.data["phase"])
    incomplete = [held for held in phases.values() if held != set(PHASES)]
    assert len(incomplete) == 1


@pytest.mark.parametrize(
    "today",
    [date(2026, 5, 20), date(2027, 8, 1), date(2028, 9, 10), date(2029, 10, 2), date(2031, 7, 31)],
)
def test_every_domain_date_is_past_and_inside_its_school_year(tmp_path: Path, today: date) -> None:
    services = open_services(str(tmp_path / "d.sqlite"), today=lambda: today)
    try:
        demo = load_demo(services)
        actors = [
            (services.accounts.authenticate(demo.tokens["coach"]), demo.pupil_ids),
            (services.accounts.authenticate(demo.other_tokens["coach"]), demo.other_pupil_ids),
        ]
        for actor, pupil_ids in actors:
            for pid in pupil_ids:
                school_year = ""
                for e in history(services, actor, pid):
                    if e.type in ("Opened", "EnrolmentChanged"):
                        school_year = e.data["school_year"]
                    for field in ("occurred_on", "held_on", "due_on"):
                        if field in e.data:
                            day = date.fromisoformat(e.data[field])
                            assert day < today, (e.type, day)
                            assert school_year_of(day) == school_year, (e.type, day)
                assert_last_year_is_recent(school_year, today)
    finally:
        services.close()


def test_loading_the_demo_twice_is_refused(services: Services, demo: DemoInfo) -> None:
    with pytest.raises(AccountError, match="already loaded"):
        load_demo(services)
    coach = services.accounts.authenticate(demo.tokens["coach"])
    items, _ = services.queries.pupils(coach, None, 50)
    assert len(items) == len(demo.pupil_ids)
