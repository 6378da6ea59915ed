"""Read models read stored events as plain values; those equal the library's decoding, made plain."""

from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import uuid4

import orjson
import pytest
from eventsourcing.persistence import StoredEvent

from dossier.access import Actor
from projections.recorded import decoder, from_event
from projections.runtime import Services, open_services
from projections.timeline import stamp, stamp_stored
from scripts.demo import load_demo


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Services]:
    opened = open_services(str(tmp_path / "d.sqlite"))
    yield opened
    opened.close()


def every_stored_event(services: Services) -> list[Any]:
    return services.dossiers.recorder.select_notifications(0, 10**6, inclusive_of_start=False)


def library_way(services: Services, stored: Any) -> Any:
    return from_event(services.dossiers.mapper.to_domain_event(stored))


def test_every_kind_of_stored_event_decodes_as_the_library_does(services):
    demo = load_demo(services)
    sender = Actor("t-counsellor", "counsellor", demo.school)
    receiver = Actor("t-counsellor-2", "counsellor", "OTHER")
    services.accounts.add_school("OTHER", "Het Andere College")
    services.accounts.trust(demo.school, services.accounts.school_key(demo.school).public_key)
    coach, _ = services.accounts.add_user(demo.school, "coach", "Nieuwe Mentor")
    services.dossiers.assign_coach(sender, demo.pupil_ids[1], coach)
    services.dossiers.unassign_coach(sender, demo.pupil_ids[1], coach)
    services.dossiers.give_consent(sender, demo.pupil_ids[0], {"given_by": "parent"})
    bundle = orjson.loads(
        orjson.dumps(services.transfers.export(sender, demo.pupil_ids[0], "OTHER"))
    )
    services.transfers.import_bundle(receiver, bundle)
    consent = services.dossiers.give_consent(sender, demo.pupil_ids[1], {"given_by": "parent"})
    services.dossiers.withdraw_consent(sender, demo.pupil_ids[1], consent.id, "verhuisd")

    decode, kinds = decoder(services.dossiers), set()
    for stored in every_stored_event(services):
        fast = decode(stored)
        assert fast == library_way(services, stored), stored.topic
        kinds.add(fast.type)
    expected = {"Opened", "ExperienceRecorded", "ConversationHeld", "PhaseRecorded",
                "InsightRecorded", "ActionPlanned", "ActionCompleted", "EntryCorrected",
                "EntryRetracted", "EnrolmentChanged", "CoachAssigned", "CoachUnassigned", "ConsentGiven", "ConsentWithdrawn",
                "DossierExported", "TransferReceived"}  # fmt: skip
    assert expected <= kinds, expected - kinds


def test_a_value_without_a_plain_form_is_decoded_the_library_way(services):
    load_demo(services)
    stored = every_stored_event(services)[1]
    state = orjson.loads(stored.state)
    state["amount"] = {"_type_": "decimal_str", "_data_": "1.50"}
    odd = StoredEvent(
        originator_id=stored.originator_id,
        originator_version=stored.originator_version,
        topic=stored.topic,
        state=orjson.dumps(state),
    )
    decoded = decoder(services.dossiers)(odd)
    assert decoded == library_way(services, odd)
    assert str(decoded.fields["amount"]) == "1.50"


def test_the_log_read_as_plain_rows_holds_and_decodes_to_what_the_library_reads(services):
    load_demo(services)
    library = every_stored_event(services)
    rows = services.follower.read_log(0, 10**6)
    assert [tuple(row) for row in rows] == [
        (n.id, str(n.originator_id), n.originator_version, n.topic, n.state) for n in library
    ]
    assert [r.id for r in services.follower.read_log(3, 10, upto=6)] == [4, 5, 6]
    assert [r.id for r in services.follower.read_log(3, 2)] == [4, 5]

    decode = services.follower.decode
    assert [decode(row) for row in rows] == [library_way(services, n) for n in library]
    state = orjson.loads(rows[1].state)
    state["amount"] = {"_type_": "decimal_str", "_data_": "1.50"}
    odd = rows[1]._replace(state=orjson.dumps(state))  # the library's way, from a row
    assert decode(odd) == library_way(services, replace(library[1], state=odd.state))


def test_events_of_one_kind_decode_alike_wherever_they_hold_ids_and_dates(services):
    """Per kind, the decoder converts the fields that held ids or dates in earlier events:
    an event holding them elsewhere (a date where earlier ones had none, one nested in
    another value, a list of ids) must still decode as the library does."""
    load_demo(services)
    stored = next(s for s in every_stored_event(services) if s.topic.endswith(".ActionPlanned"))
    state = orjson.loads(stored.state)
    day = {"_type_": "date_iso", "_data_": "2026-01-05"}
    ids = [{"_type_": "uuid_hex", "_data_": uuid4().hex}]
    variants = [
        {**state, "due_on": None},
        {**state, "due_on": day},
        {**state, "helper": {"since": day}},
        {**state, "obstacles": ids},
        {**state, "obstacles": [*ids, "tekst"]},
    ]
    decode = decoder(services.dossiers)
    for variant in variants + variants[::-1]:
        odd = StoredEvent(
            originator_id=stored.originator_id,
            originator_version=stored.originator_version,
            topic=stored.topic,
            state=orjson.dumps(variant),
        )
        assert decode(odd) == library_way(services, odd), variant


@pytest.mark.parametrize(
    "stored",
    [
        "2026-11-26T06:05:17.561483+00:00",
        "2026-11-26T06:05:17+00:00",
        "2026-11-26T07:05:17.5+01:00",
    ],
)
def test_a_stored_timestamp_is_stamped_as_the_moment_itself(stored):
    assert stamp_stored(stored) == stamp(datetime.fromisoformat(stored))


def test_read_model_commits_leave_the_event_store_connections_durable(services):
    """Read models commit without waiting for the disk; the events, on the same pooled
    connections, must still be committed synchronous=FULL (2)."""
    load_demo(services)
    services.follower.rebuild()
    with services.reads.datastore.get_connection(commit=True) as connection:
        cursor = connection.cursor()
        cursor.execute("PRAGMA synchronous")
        assert cursor.fetchone()[0] == 2
