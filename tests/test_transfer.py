"""School switch between two running services: consent, export, import, tampering, verify."""

import copy
import json
import random
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.application import project_aggregate

from dossier.access import Actor
from dossier.domain import ENTRY_IDS
from dossier.replay import replay
from dossier.transfer import BundleRefused, Signer, build
from projections.runtime import open_services
from scripts.loopback import call, dossier, running_server
from scripts.workload import STAFF, TODAY, grow, one_pupil

EXPERIENCE = {"kind": "stage", "title": "Stage bij de dierenarts", "occurred_on": "2024-10-01",
              "story": "Ik mocht de honden voeren. Ik vond het fijn om voor dieren te zorgen.",
              "emotion": "positive"}  # fmt: skip


@dataclass
class School:
    code: str
    db: str
    base: str
    counsellor: str
    coach: str

    def call(
        self, method: str, path: str, body: Any = None, who: str = "counsellor"
    ) -> tuple[int, Any]:
        return call(self.base, method, path, getattr(self, who), body)


def add_school(db: str, code: str) -> tuple[str, str]:
    dossier(db, "school", "add", "--code", code, "--name", f"School {code}")
    tokens = [
        dossier(db, "user", "add", "--school", code, "--role", role, "--name", role).stdout.split()[
            -1
        ]
        for role in ("counsellor", "coach")
    ]
    return tokens[0], tokens[1]


@pytest.fixture
def schools(tmp_path: Path, db_url: str) -> Iterator[tuple[School, School]]:
    """School A on its own SQLite file, school B on the parametrised database; B trusts A."""
    a_db = str(tmp_path / "a.sqlite")
    a_tokens, b_tokens = add_school(a_db, "VMBO1"), add_school(db_url, "MBO2")
    public_key = dossier(a_db, "school", "key", "VMBO1").stdout.strip().splitlines()[-1]
    dossier(db_url, "school", "trust", "--code", "VMBO1", "--public-key", public_key)
    with running_server(a_db) as a_base, running_server(db_url) as b_base:
        yield School("VMBO1", a_db, a_base, *a_tokens), School("MBO2", db_url, b_base, *b_tokens)


def career(a: School) -> str:
    pupil = {
        "name": "Lisa de Jong",
        "sector": "vmbo",
        "grade": 4,
        "school_year": "2024-2025",
        "date_of_birth": "2012-03-01",
    }
    status, created = a.call("POST", "/api/v1/pupils", pupil)
    assert status == 201
    base = f"/api/v1/pupils/{created['id']}"
    experience = a.call("POST", f"{base}/experiences", EXPERIENCE)[1]["id"]
    talk = a.call(
        "POST", f"{base}/conversations", {"held_on": "2024-10-08", "experience_ids": [experience]}
    )[1]["id"]
    for phase in ("terugkijken", "reflecteren", "vooruitkijken", "activeren"):
        assert (
            a.call(
                "POST",
                f"{base}/conversations/{talk}/phases",
                {"phase": phase, "notes": f"Lisa: {phase}"},
            )[0]
            == 201
        )
    insight = {
        "kind": "quality",
        "label": "zorgzaam",
        "experience_ids": [experience],
        "conversation_id": talk,
    }
    assert a.call("POST", f"{base}/insights", insight)[0] == 201
    correction = {
        "entry_id": experience,
        "changes": {"title": "Stage dierenkliniek"},
        "reason": "naam",
    }
    assert a.call("POST", f"{base}/corrections", correction)[0] == 201
    return str(created["id"])


def exported(a: School, pupil: str) -> dict[str, Any]:
    assert (
        a.call(
            "POST",
            f"/api/v1/pupils/{pupil}/consents",
            {"purpose": "transfer", "given_by": "parent", "to_school": "MBO2"},
        )[0]
        == 201
    )
    status, bundle = a.call("GET", f"/api/v1/pupils/{pupil}/export?to_school=MBO2")
    assert status == 200, bundle
    return dict(bundle)


def comparable(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Timeline items without who recorded them: user ids are pseudonymised on the way."""
    text = json.dumps(items)
    for item in items:
        text = text.replace(item["recorded_by"]["user_id"], "someone")
    found = json.loads(text)
    for item in found:
        item["recorded_by"]["user_id"] = "someone"
        for correction in item["corrections"]:
            correction["recorded_by"]["user_id"] = "someone"
    return found


def test_dossier_moves_to_the_receiving_school_with_its_whole_history(schools):
    a, b = schools
    pupil = career(a)
    bundle = exported(a, pupil)
    status, imported = b.call("POST", "/api/v1/imports", bundle)
    assert status == 201, imported
    moved = imported["pupil_id"]
    assert b.call("POST", "/api/v1/imports", bundle)[1]["pupil_id"] == moved
    assert b.call("POST", "/api/v1/imports", bundle)[0] == 200
    timeline_a = a.call("GET", f"/api/v1/pupils/{pupil}/timeline?limit=500")[1]["items"]
    timeline_b = b.call("GET", f"/api/v1/pupils/{moved}/timeline?limit=500")[1]["items"]
    assert comparable(timeline_b) == comparable(timeline_a)
    story_a = a.call("GET", f"/api/v1/pupils/{pupil}/story")[1]
    story_b = b.call("GET", f"/api/v1/pupils/{moved}/story")[1]
    assert story_b == story_a
    events_b = b.call("GET", f"/api/v1/pupils/{moved}/events?limit=500")[1]["items"]
    assert events_b[0]["recorded_at"] == bundle["events"][0]["recorded_at"]
    assert events_b[-1]["type"] == "TransferReceived"
    assert b.call("GET", f"/api/v1/pupils/{moved}")[1]["school"] == "MBO2"
    # The receiving school continues the dossier.
    assert (
        b.call(
            "POST", f"/api/v1/pupils/{moved}/experiences", {**EXPERIENCE, "title": "Open dag mbo"}
        )[0]
        == 201
    )
    history_a = a.call("GET", f"/api/v1/pupils/{pupil}/events?limit=500")[1]["items"]
    assert history_a[-1]["type"] == "DossierExported"


def tampered(bundle: dict[str, Any]) -> dict[str, dict[str, Any]]:
    events = bundle["events"]

    def with_events(new: list[Any]) -> dict[str, Any]:
        return {**copy.deepcopy(bundle), "events": copy.deepcopy(new)}

    changed = with_events(events)
    changed["events"][1]["data"]["story"] = "Ik vond het saai."
    resigned = copy.deepcopy(bundle)
    resigned["signature"] = resigned["signature"][::-1]
    foreign = copy.deepcopy(bundle)
    foreign["exporting_school"]["code"] = "ANDERS"
    return {
        "changed": changed,
        "removed": with_events(events[:2] + events[3:]),
        "reordered": with_events([events[0], events[2], events[1], *events[3:]]),
        "duplicated": with_events([*events[:2], events[1], *events[2:]]),
        "inserted": with_events([*events[:2], {**events[1], "version": 3}, *events[2:]]),
        "truncated": with_events(events[:-1]),
        "signature": resigned,
        "untrusted": foreign,
        "not a bundle": {"format": "iets anders"},
    }


def test_tampered_bundles_are_refused_and_store_nothing(schools, tmp_path):
    a, b = schools
    bundle = exported(a, career(a))
    before = b.call("GET", "/api/v1/pupils")[1]["items"]
    reasons = {}
    for name, bad in tampered(bundle).items():
        status, problem = b.call("POST", "/api/v1/imports", bad)
        assert status == 422, (name, problem)
        reasons[name] = problem["detail"]
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(bad))
        assert dossier(b.db, "verify", str(path), check=False).returncode != 0
    assert b.call("GET", "/api/v1/pupils")[1]["items"] == before
    assert "event 2 (ExperienceRecorded)" in reasons["changed"]
    assert "event 3 has version 4" in reasons["removed"]
    assert "signature" in reasons["signature"]
    assert "not trusted" in reasons["untrusted"]
    good = tmp_path / "good.json"
    good.write_text(json.dumps(bundle))
    verified = dossier(b.db, "verify", str(good))
    assert "signature" in verified.stdout
    assert "valid bundle" in verified.stdout


def test_export_needs_a_consent_in_force(schools):
    a, _ = schools
    pupil = career(a)
    assert a.call("GET", f"/api/v1/pupils/{pupil}/export")[0] == 409
    own = a.call("POST", f"/api/v1/pupils/{pupil}/consents", {"given_by": "pupil"})
    assert own[0] == 422  # under 16: a parent's consent counts
    status, consent = a.call("POST", f"/api/v1/pupils/{pupil}/consents", {"given_by": "parent"})
    assert status == 201
    assert a.call("GET", f"/api/v1/pupils/{pupil}/export", who="coach")[0] == 403
    assert a.call("GET", f"/api/v1/pupils/{pupil}/export")[0] == 200
    assert (
        a.call("POST", f"/api/v1/pupils/{pupil}/consents/{consent['id']}/withdrawal", {})[0] == 201
    )
    status, problem = a.call("GET", f"/api/v1/pupils/{pupil}/export")
    assert status == 409
    assert "consent" in problem["detail"]


def test_printable_dossier_in_dutch_and_as_pdf(schools):
    a, _ = schools
    pupil = career(a)
    import urllib.request

    for suffix, marker in (("export.html", b"Mijn groter verhaal"), ("export.pdf", b"%PDF")):
        request = urllib.request.Request(f"{a.base}/api/v1/pupils/{pupil}/{suffix}")
        request.add_header("Authorization", f"Bearer {a.counsellor}")
        with urllib.request.urlopen(request) as response:
            body = response.read()
        assert marker in body
    log = a.call("GET", f"/api/v1/pupils/{pupil}/access-log")[1]["items"]
    assert [e["view"] for e in log] == ["export", "export"]


def test_a_long_dossier_round_trips(tmp_path):
    a, b = open_services(str(tmp_path / "a.sqlite")), open_services(str(tmp_path / "b.sqlite"))
    try:
        a.accounts.add_school(STAFF["school"], "Bench A")
        b.accounts.add_school("B", "Bench B")
        b.accounts.trust(STAFF["school"], a.accounts.school_key(STAFF["school"]).public_key)
        pupil_id, long_dossier = one_pupil(random.Random(7), 2000)
        a.dossiers.save(long_dossier)
        sender, receiver = (
            Actor("c1", "counsellor", STAFF["school"]),
            Actor("c2", "counsellor", "B"),
        )
        a.dossiers.give_consent(sender, pupil_id, {"given_by": "parent"})
        bundle = json.loads(json.dumps(a.transfers.export(sender, pupil_id, "B")))
        result = b.transfers.import_bundle(receiver, bundle)
        assert result.created
        assert result.events == 2001
        everything = {"limit": 10_000}
        here = a.queries.timeline(sender, str(pupil_id), everything)[0]
        there = b.queries.timeline(receiver, str(result.pupil_id), everything)[0]
        assert len(there) == len(here) > 500
        assert [i["entry_id"] for i in there] == [i["entry_id"] for i in here]
        assert b.queries.story(
            receiver, str(result.pupil_id), b.dossiers.today()
        ) == a.queries.story(sender, str(pupil_id), a.dossiers.today())
    finally:
        a.close()
        b.close()
    later = open_services(str(tmp_path / "b.sqlite"))  # a process that starts afterwards
    try:
        assert later.dossiers.snapshots is not None
        snapshot = next(iter(later.dossiers.snapshots.get(result.pupil_id, desc=True, limit=1)))
        from_snapshot = later.dossiers.get_dossier(receiver, result.pupil_id)
        replayed = project_aggregate(None, later.dossiers.events.get(result.pupil_id))
    finally:
        later.close()
    assert snapshot.originator_version == replayed.version == 2002  # with TransferReceived
    assert vars(from_snapshot) == vars(replayed)


def one_store_two_schools(tmp_path: Path) -> tuple[Any, Actor, Actor]:
    store = open_services(str(tmp_path / "board.sqlite"))
    for code in (STAFF["school"], "MBO2"):
        store.accounts.add_school(code, code)
    store.accounts.trust(STAFF["school"], store.accounts.school_key(STAFF["school"]).public_key)
    sender, receiver = Actor("c1", "counsellor", STAFF["school"]), Actor("c2", "counsellor", "MBO2")
    return store, sender, receiver


def test_a_dossier_moved_between_two_schools_of_one_store_keeps_both(tmp_path):
    """Entry ids are kept on import, so read models key them by pupil as well."""
    store, sender, receiver = one_store_two_schools(tmp_path)
    try:
        pupil_id, dossier_ = one_pupil(random.Random(8), 120)
        store.dossiers.save(dossier_)
        store.dossiers.give_consent(sender, pupil_id, {"given_by": "parent"})
        bundle = json.loads(json.dumps(store.transfers.export(sender, pupil_id, "MBO2")))
        moved = store.transfers.import_bundle(receiver, bundle).pupil_id
        everything = {"limit": 10_000}
        here = store.queries.timeline(sender, str(pupil_id), everything)[0]
        there = store.queries.timeline(receiver, str(moved), everything)[0]
        assert len(here) > 20
        assert [i["entry_id"] for i in there] == [i["entry_id"] for i in here]
        assert all(status.lag == 0 for status in store.follower.status())
    finally:
        store.close()


def test_a_bundle_that_adds_one_entry_twice_is_refused_and_stores_nothing(tmp_path):
    """Signed by a trusted school and whole, but two events add the same entry (no school
    of ours writes that): replayed, the dossier would keep only the later one while the
    timeline showed both."""
    store, sender, receiver = one_store_two_schools(tmp_path)
    try:
        pupil_id, dossier_ = one_pupil(random.Random(3), 30)
        store.dossiers.save(dossier_)
        history = store.dossiers.history(sender, pupil_id, 0, 1000)
        first, second = [e for e in history if e.type == "ExperienceRecorded"][:2]
        twice = first.data["entry_id"]
        history[history.index(second)] = replace(second, data={**second.data, "entry_id": twice})
        signer = Signer(sender.school, store.accounts.signing_key(sender.school))
        bundle = json.loads(json.dumps(build(signer, pupil_id, history, "MBO2", "2026-07-01")))

        with pytest.raises(BundleRefused, match=f"adds entry {twice} a second time"):
            store.transfers.import_bundle(receiver, bundle)
        assert store.queries.pupils(receiver, None, 100)[0] == []
    finally:
        store.close()


def test_a_bundle_whose_correction_does_not_fit_its_entry_is_refused_and_ours_import(tmp_path):
    """No school of ours writes a correction of a phase's "story", of no fields, or of an
    entry added only after it, and the read models rely on that: such a history is
    refused and stores nothing. Our own corrections of every kind of entry import."""
    store, sender, receiver = one_store_two_schools(tmp_path)
    try:
        rng = random.Random(3)
        pupil_id, dossier_ = one_pupil(rng, 12)
        entries = {kind: UUID(entry) for entry, kind in dossier_.types.items()}
        changes: dict[str, dict[str, Any]] = {
            "enrolment": {"grade": 2},
            "experience": {"story": "Ik was geduldig."},
            "conversation": {"experience_ids": []},
            "phase": {"notes": "Anders."},
            "insight": {"label": "geduldig"},
            "action": {"description": "Anders."},
        }
        for kind, fields in changes.items():
            dossier_.correct_entry(dict(STAFF), entries[kind], fields, "anders", TODAY)
        before = set(dossier_.types)
        grow(dossier_, rng, 10)
        later = next(entry for entry in dossier_.types if entry not in before)
        store.dossiers.save(dossier_)
        history = store.dossiers.history(sender, pupil_id, 0, 1000)
        phase = str(entries["phase"])
        at = next(i for i, e in enumerate(history) if e.data.get("entry_id") == phase
                  and e.type == "EntryCorrected")  # fmt: skip
        signer = Signer(sender.school, store.accounts.signing_key(sender.school))

        def bundle(events: list[Any]) -> Any:
            return json.loads(json.dumps(build(signer, pupil_id, events, "MBO2", "2026-07-01")))

        wrong = {
            "story, which a phase does not have": {"changes": {"story": "Anders."}},
            "corrects no fields": {"changes": None},
            "an entry not added before it": {"entry_id": later},
        }
        for reason, data in wrong.items():
            changed = list(history)
            changed[at] = replace(history[at], data={**history[at].data, **data})
            with pytest.raises(BundleRefused, match=reason):
                store.transfers.import_bundle(receiver, bundle(changed))
        assert store.queries.pupils(receiver, None, 100)[0] == []
        assert store.transfers.import_bundle(receiver, bundle(history)).created
    finally:
        store.close()


def test_the_import_knows_every_kind_of_event_that_adds_an_entry(tmp_path):
    """`ENTRY_IDS` (what the import checks) against what replaying the domain's events does:
    an event adds an entry to the dossier exactly when its kind is listed, and the entry's
    id is the field listed for it."""
    store = open_services(str(tmp_path / "d.sqlite"))
    try:
        pupil_id, dossier_ = one_pupil(random.Random(5), 40)
        dossier_.change_enrolment(
            dict(STAFF), uuid4(), {"school_year": "2025-2026", "sector": "vmbo", "grade": 2}, TODAY
        )
        store.dossiers.save(dossier_)
        replayed, known, adding = None, set(), set()
        for event in store.dossiers.events.get(pupil_id):
            replayed = replay(replayed, [event])
            added = set(replayed.types) - known
            if added:
                kind = type(event).__name__
                adding.add(kind)
                assert added == {str(getattr(event, ENTRY_IDS.get(kind, "-"), None))}, kind
            known = set(replayed.types)
        assert adding == set(ENTRY_IDS)
    finally:
        store.close()
