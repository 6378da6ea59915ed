"""The benchmark's synthetic school looks like a school's log: valid dossiers with
conversations, completed actions and corrections, every pupil's history interleaved with
the others' in the order it happened."""

import random
from collections import Counter
from collections.abc import Iterator
from itertools import pairwise

import pytest

from projections.runtime import Services, open_services
from scripts.measure import fill
from scripts.workload import BATCH, school


@pytest.fixture(scope="module")
def services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    """One school of 1,500 filler events, read by every test here."""
    opened = open_services(str(tmp_path_factory.mktemp("workload") / "d.sqlite"))
    fill(opened, 1_500, seed=7)
    yield opened
    opened.close()


def test_the_filler_writes_exactly_the_events_asked_for_as_valid_dossiers(services):
    log = services.dossiers.recorder.select_notifications(0, 10_000)
    assert len(log) == 1_500
    versions = Counter(n.originator_id for n in log)
    for pupil, count in versions.items():
        assert services.dossiers.repository.get(pupil).version == count
    assert services.follower.quarantined() == []
    kinds = Counter(n.topic.rsplit(".", 1)[-1] for n in log)
    assert kinds["ActionCompleted"] and kinds["ActionAbandoned"] and kinds["EntryCorrected"]


def test_the_filler_interleaves_pupils_in_the_order_their_experiences_happened(services):
    log = services.dossiers.recorder.select_notifications(0, 10_000)
    pupils = {n.originator_id for n in log}
    switches = sum(a.originator_id != b.originator_id for a, b in pairwise(log))
    assert switches > 5 * len(pupils)
    days = [
        services.dossiers.mapper.to_domain_event(n).occurred_on
        for n in log
        if n.topic.endswith("ExperienceRecorded")
    ]
    assert days == sorted(days) and days[0] < days[-1]


def test_the_filler_saves_at_most_a_batch_of_events_at_once():
    """Also the openings of a school's many pupils, so that the fill writes as the
    service's small saves do (see scripts.workload.BATCH)."""
    batches = [len(batch) for batch in school(random.Random(1), 3_000, per_pupil=2)]
    assert sum(batches) == 3_000
    assert max(batches) == BATCH
