"""A synthetic school for the benchmark: pupils, school years, experiences, four-phase
conversations, insights and actions, with Dutch text of realistic length.

Dossiers are built with the domain's own commands and saved many at a time, so the
store holds exactly what the service would write, only faster.
"""

import random
from collections.abc import Iterator
from datetime import date, timedelta
from uuid import UUID, uuid4

from dossier.domain import Dossier
from dossier.vocabulary import EXPERIENCE_KINDS, PHASES

STORY_TEXT = """
ik mocht vandaag meehelpen bij de klanten in de winkel en dat vond ik eerst spannend maar
later ging het goed omdat mijn begeleider uitlegde wat ik moest doen ik heb geleerd dat
samenwerken belangrijk is en dat ik graag mensen help de monteur liet zien hoe een motor
werkt en ik mocht zelf een band verwisselen het was druk en soms lastig maar ik bleef rustig
en geduldig volgende keer wil ik meer zelfstandig werken en vragen stellen
"""
WORDS = tuple(STORY_TEXT.split())
LABELS = (
    "samenwerken",
    "Samenwerking",
    "geduldig",
    "mensen helpen",
    "zelfstandig werken",
    "creatief",
)
STAFF = {"user_id": "bench-coach", "role": "coach", "school": "BENCH"}
TODAY = date(2026, 7, 1)


def text(rng: random.Random, words: int) -> str:
    """`words` words of the story vocabulary, in sentences of 6 to 14 words, as pupils and
    mentors write. Until the twelfth session a story was one sentence of 45 words, which
    made finding mentions look 2.5 times cheaper than in a story of five sentences, each
    split off by the lemmatiser's sentence splitter and matched on its own."""
    sentences = []
    while words > 0:
        count = min(words, rng.randint(6, 14))
        sentence = " ".join(rng.choice(WORDS) for _ in range(count))
        sentences.append(sentence[:1].upper() + sentence[1:] + rng.choice(".....!?"))
        words -= count
    return " ".join(sentences)


def new_pupil(rng: random.Random, first_year: int = 2022) -> Dossier:
    values = {"name": f"Leerling {rng.randrange(10**6)}", "sector": "vmbo", "grade": 1,
              "school_year": f"{first_year}-{first_year + 1}"}  # fmt: skip
    return Dossier.open(STAFF, uuid4(), values, [STAFF["user_id"]], TODAY)


def grow(dossier: Dossier, rng: random.Random, events: int) -> None:
    """Append about `events` realistic events to a dossier, a conversation round at a time."""
    target = dossier.version + events
    while dossier.version < target:
        _round(dossier, rng, target - dossier.version)


def _round(dossier: Dossier, rng: random.Random, room: int) -> None:
    """An experience, and room permitting its conversation, phases, insight and action."""
    day = date(2022, 9, 1) + timedelta(days=rng.randrange(1300))
    experience = uuid4()
    values = {
        "kind": rng.choice(EXPERIENCE_KINDS),
        "title": text(rng, 5),
        "occurred_on": day,
        "story": text(rng, 45),
        "emotion": rng.choice(("positive", "negative", "mixed")),
    }
    dossier.record_experience(STAFF, experience, values, TODAY)
    if room < 8:
        return
    conversation = uuid4()
    held = {"held_on": day + timedelta(days=7), "experience_ids": [experience]}
    dossier.hold_conversation(STAFF, conversation, held, TODAY)
    for phase in PHASES:
        notes = {"notes": text(rng, 25), "questions": ["Wat deed jij hierin heel goed?"]}
        dossier.record_phase(STAFF, uuid4(), conversation, phase, notes, TODAY)
    insight = {"kind": "quality", "label": rng.choice(LABELS), "experience_ids": [experience]}
    dossier.record_insight(STAFF, uuid4(), insight, conversation, TODAY)
    action = {"description": text(rng, 10), "due_on": day + timedelta(days=30)}
    dossier.plan_action(STAFF, uuid4(), action, conversation, TODAY)


def school(rng: random.Random, events: int, per_pupil: int = 60) -> Iterator[list[Dossier]]:
    """Batches of filler dossiers holding about `events` events in all."""
    made = 0
    while made < events:
        batch = []
        for _ in range(50):
            dossier = new_pupil(rng)
            grow(dossier, rng, min(per_pupil, events - made) - 1)
            made += dossier.version
            batch.append(dossier)
            if made >= events:
                break
        yield batch


def one_pupil(rng: random.Random, events: int) -> tuple[UUID, Dossier]:
    dossier = new_pupil(rng)
    grow(dossier, rng, events - 1)
    return dossier.id, dossier
