"""A synthetic school for the benchmark: pupils, school years, experiences, four-phase
conversations, insights and actions, with Dutch text of realistic length.

Dossiers are built with the domain's own commands and saved many at a time, so the
store holds exactly what the service would write, only faster.
"""

import heapq
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any
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
START = date(2022, 9, 1)  # the first school year the filler's careers begin in


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
    day = START + timedelta(days=rng.randrange(1300))
    experience = uuid4()
    dossier.record_experience(STAFF, experience, _experience(rng, day), TODAY)
    if room < 8:
        return
    conversation = uuid4()
    held = {"held_on": day + timedelta(days=7), "experience_ids": [experience]}
    dossier.hold_conversation(STAFF, conversation, held, TODAY)
    for phase in PHASES:
        dossier.record_phase(STAFF, uuid4(), conversation, phase, _notes(rng), TODAY)
    dossier.record_insight(STAFF, uuid4(), _insight(rng, experience), conversation, TODAY)
    dossier.plan_action(STAFF, uuid4(), _action(rng, day), conversation, TODAY)


def _experience(rng: random.Random, day: date) -> dict[str, Any]:
    return {
        "kind": rng.choice(EXPERIENCE_KINDS),
        "title": text(rng, 5),
        "occurred_on": day,
        "story": text(rng, 45),
        "emotion": rng.choice(("positive", "negative", "mixed")),
    }


def _notes(rng: random.Random) -> dict[str, Any]:
    return {"notes": text(rng, 25), "questions": ["Wat deed jij hierin heel goed?"]}


def _insight(rng: random.Random, experience: UUID) -> dict[str, Any]:
    return {"kind": "quality", "label": rng.choice(LABELS), "experience_ids": [experience]}


def _action(rng: random.Random, planned_on: date) -> dict[str, Any]:
    return {"description": text(rng, 10), "due_on": planned_on + timedelta(days=30)}


@dataclass(slots=True)
class Round:
    """The ids and days of one experience and what follows from it in a pupil's dossier."""

    day: date
    experience: UUID = field(default_factory=uuid4)
    conversation: UUID = field(default_factory=uuid4)
    action: UUID = field(default_factory=uuid4)


# One command on one pupil's dossier, adding one event: when (days since START, the time
# of day as the fraction), whose (the pupil's number), a number unique to the pupil's
# steps (so that no two compare equal), what, and of which round.
Step = tuple[float, int, int, str, Round]
SITTING = ("conversation", *PHASES, "insight", "action")  # one conversation, a minute apart
# Events saved at once, so that the fill takes the library's own path of writing, as the
# service's small saves do. (The first version saved every pupil's opening in one go:
# 16,700 for 1M events, an insert that hung in psycopg's pipeline mode on PostgreSQL;
# projections.storage now writes so large a save in chunks.)
BATCH = 1_000


def school(rng: random.Random, events: int, per_pupil: int = 60) -> Iterator[list[Any]]:
    """Batches of filler events, `events` in all, in the order a school records them.

    Each pupil's experiences are spread over four school years; a conversation about one
    follows a week later, its action is completed (or abandoned) weeks after that, and
    some stories are corrected a few days after they were written. Every pupil's history
    is interleaved with everyone else's by when it happened, as in a school's log. Until
    the eighteenth session the filler saved each pupil's sixty events in one go, with no
    completions or corrections: a rebuild then found nearly every entry an event refers
    to in its own batch, and ran ~15 % faster than on the same events in date order.
    """
    careers = _careers(rng, events, per_pupil)
    dossiers = [new_pupil(rng) for _ in careers]
    openings = [d.collect_events()[0] for d in dossiers]  # all enrolled at the start
    for start in range(0, len(openings), BATCH):
        yield openings[start : start + BATCH]
    batch: list[Any] = []
    for moment, pupil, _, what, round_ in heapq.merge(*careers):
        dossier = dossiers[pupil]
        _act(dossier, rng, what, round_, START + timedelta(days=int(moment)))
        batch.extend(dossier.collect_events())
        if len(batch) >= BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def _careers(rng: random.Random, events: int, per_pupil: int) -> list[list[Step]]:
    """Every pupil's steps in the order they happen, `events` events in all with the
    pupils' openings; each pupil ~`per_pupil`, the last one what is left."""
    if per_pupil < 1:
        raise ValueError("a pupil's dossier holds at least its opening")
    careers: list[list[Step]] = []
    left = events
    while left > 0:
        pupil = len(careers)
        steps: list[Step] = []
        while len(steps) < per_pupil - 1:
            steps.extend(_round_steps(rng, pupil, len(steps)))
        steps.sort()
        wanted = min(per_pupil, left) - 1
        careers.append(steps[:wanted])
        left -= wanted + 1
    return careers


def _round_steps(rng: random.Random, pupil: int, first: int) -> list[Step]:
    """An experience written during a school day; a week later the conversation about it,
    a minute a step; sometimes a correction of its story, mostly the action's closing."""
    round_ = Round(START + timedelta(days=rng.randrange(1300)))
    written = (round_.day - START).days + rng.uniform(0.35, 0.7)
    held = written + 7
    moments = [(written, "experience")]
    moments += [(held + n / 1440, what) for n, what in enumerate(SITTING)]
    if rng.random() < 0.1:
        moments.append((written + rng.randint(1, 3), "correction"))
    if rng.random() < 0.85:
        moments.append((held + rng.randint(14, 60), "closing"))
    return [(m, pupil, first + n, what, round_) for n, (m, what) in enumerate(moments)]


def _act(dossier: Dossier, rng: random.Random, what: str, round_: Round, day: date) -> None:
    """Run one step's command on the pupil's dossier, as the coach would on `day`."""
    if what == "experience":
        dossier.record_experience(STAFF, round_.experience, _experience(rng, round_.day), day)
    elif what == "conversation":
        held = {"held_on": day, "experience_ids": [round_.experience]}
        dossier.hold_conversation(STAFF, round_.conversation, held, day)
    elif what in PHASES:
        dossier.record_phase(STAFF, uuid4(), round_.conversation, what, _notes(rng), day)
    elif what == "insight":
        insight = _insight(rng, round_.experience)
        dossier.record_insight(STAFF, uuid4(), insight, round_.conversation, day)
    elif what == "action":
        action = _action(rng, day)
        dossier.plan_action(STAFF, round_.action, action, round_.conversation, day)
    elif what == "correction":
        changes = {"story": text(rng, 45)}
        dossier.correct_entry(STAFF, round_.experience, changes, "typefout", day)
    elif rng.random() < 0.9:  # closing: mostly done, sometimes given up
        dossier.complete_action(STAFF, round_.action, text(rng, 8), day)
    else:
        dossier.abandon_action(STAFF, round_.action, "past niet meer", day)


def one_pupil(rng: random.Random, events: int) -> tuple[UUID, Dossier]:
    dossier = new_pupil(rng)
    grow(dossier, rng, events - 1)
    return dossier.id, dossier
