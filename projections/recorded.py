"""Stored events as plain values: what read models consume.

Read models write text, not objects. Decoding a stored event into the domain's event
object (UUIDs, datetimes, dates) only to turn every value back into text for a row took
most of a rebuild's time. `decoder(app)` reads the same stored JSON with orjson straight
into plain values, equal to what `dossier.plain.plain` makes of the event's attributes.
The library's own steps still apply: a cipher or compressor configured on the
application, and upcasting (an event class with a `class_version` is decoded the
library's way, then made plain).
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any
from uuid import UUID

import orjson
from eventsourcing.application import Application
from eventsourcing.persistence import JSONTranscoder, Mapper, StoredEvent
from eventsourcing.utils import resolve_topic

from dossier.plain import event_type, plain

HEADER = ("originator_id", "originator_version", "timestamp")


@dataclass(slots=True)
class Recorded:
    """One stored event of a dossier, its values plain (UUIDs, dates and moments as text).
    Not frozen, though nothing changes it but `prepared`: a frozen dataclass sets each
    field through object.__setattr__, and a rebuild makes a million of these."""

    type: str  # the event class's name: "ExperienceRecorded"
    pupil_id: str
    version: int
    timestamp: str  # when it was recorded, ISO 8601 as the library stores it (UTC)
    fields: dict[str, Any]  # the event's own attributes
    # What a read model's `prepare` worked out for it before the write lock, per model.
    prepared: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def moment(self) -> datetime:
        return datetime.fromisoformat(self.timestamp)


def _uuid_text(hex_digits: str) -> str:
    """The library stores a UUID as 32 hex digits; plain text has the usual dashes."""
    h = hex_digits
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _as_is(text: str) -> str:
    return text


# The library's and our transcodings whose stored text is already the plain form.
PLAIN_FORMS: dict[str, Callable[[str], str]] = {
    "uuid_hex": _uuid_text,
    "datetime_iso": _as_is,
    "date_iso": _as_is,
}


class NotPlain(Exception):
    """A stored value this decoder has no plain form for; the library decodes it instead."""


SCALARS = frozenset({str, int, float, bool, type(None)})


def _plain_json(value: Any) -> Any:
    """Transcoded values (`{"_type_": …, "_data_": …}`) in their plain form."""
    kind = type(value)
    if kind is dict:
        if _is_transcoded(value):
            return _plain_value(value)
        return {k: v if type(v) in SCALARS else _plain_json(v) for k, v in value.items()}
    if kind is list:
        return [v if type(v) in SCALARS else _plain_json(v) for v in value]
    return value


# Per topic, the top-level fields whose values were transcoded (a date, an id, a list
# of ids) in the events of it decoded so far.
_TRANSCODED: dict[str, frozenset[str]] = {}


def _plain_fields(topic: str, state: bytes) -> dict[str, Any]:
    """The stored JSON as plain values, converting only the fields that held transcoded
    values in earlier events of the topic. Walking every value (`_plain_json`) cost half
    of decoding; so it is done only when the fields converted do not account for every
    transcoded value in the text: each holds `"_type_"` once, and that sequence cannot
    occur inside a JSON string, where a quote is always escaped."""
    data = orjson.loads(state)
    expected = state.count(b'"_type_"')
    converted = 0
    for name in _TRANSCODED.get(topic, ()):
        value = data.get(name)
        if type(value) is dict and _is_transcoded(value):
            data[name] = _plain_value(value)
            converted += 1
        elif type(value) is list and value and all(_is_transcoded(v) for v in value):
            data[name] = [_plain_value(v) for v in value]
            converted += len(value)
    if converted == expected:
        return data
    found = {
        name
        for name, value in data.items()
        if (type(value) is dict and _is_transcoded(value))
        or (type(value) is list and value and all(_is_transcoded(v) for v in value))
    }
    _TRANSCODED[topic] = _TRANSCODED.get(topic, frozenset()) | found
    plain: dict[str, Any] = _plain_json(data)
    return plain


def _is_transcoded(value: Any) -> bool:
    return type(value) is dict and len(value) == 2 and "_type_" in value and "_data_" in value


def _plain_value(value: dict[str, Any]) -> Any:
    try:
        return PLAIN_FORMS[value["_type_"]](value["_data_"])
    except KeyError:
        raise NotPlain(value["_type_"]) from None


@lru_cache(maxsize=256)
def _event_class(topic: str) -> tuple[str, bool]:
    """The event's name for a topic (registered renames resolve too), and whether it is
    versioned, so that upcasting must run."""
    cls = resolve_topic(topic)
    return cls.__qualname__.rsplit(".", 1)[-1], getattr(cls, "class_version", 1) > 1


def decoder(app: Application[Any]) -> Callable[[Any], Recorded]:
    """A function from a stored event (or notification) of `app` to `Recorded`."""
    mapper: Mapper[Any] = app.mapper
    fast = isinstance(mapper.transcoder, JSONTranscoder)

    def decode(stored: Any) -> Recorded:
        name, versioned = _event_class(stored.topic)
        if fast and not versioned:
            state = stored.state
            if mapper.cipher:
                state = mapper.cipher.decrypt(state)
            if mapper.compressor:
                state = mapper.compressor.decompress(state)
            try:
                fields = _plain_fields(stored.topic, state)
            except NotPlain:
                return from_event(mapper.to_domain_event(_as_stored(stored)))
            if "class_version" not in fields:
                timestamp = fields.pop("timestamp")
                return Recorded(
                    name, str(stored.originator_id), stored.originator_version, timestamp, fields
                )
        return from_event(mapper.to_domain_event(_as_stored(stored)))

    return decode


def _as_stored(stored: Any) -> StoredEvent:
    """The library's stored event, with a UUID for an aggregate id read as text (see
    ReadStore.read_log), as the library gives it to the domain event."""
    if isinstance(stored, StoredEvent):
        return stored
    return StoredEvent(
        UUID(stored.originator_id), stored.originator_version, stored.topic, stored.state
    )


def from_event(event: Any) -> Recorded:
    """The library's way: a domain event object made plain."""
    values = vars(event)
    return Recorded(
        event_type(event),
        str(event.originator_id),
        event.originator_version,
        event.timestamp.isoformat(),
        {k: plain(v) for k, v in values.items() if k not in HEADER},
    )
