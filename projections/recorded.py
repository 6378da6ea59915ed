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

import orjson
from eventsourcing.application import Application
from eventsourcing.persistence import JSONTranscoder, Mapper
from eventsourcing.utils import resolve_topic

from dossier.plain import event_type, plain

HEADER = ("originator_id", "originator_version", "timestamp")


@dataclass(frozen=True, slots=True)
class Recorded:
    """One stored event of a dossier, its values plain (UUIDs, dates and moments as text)."""

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
        if len(value) == 2 and "_type_" in value and "_data_" in value:
            try:
                return PLAIN_FORMS[value["_type_"]](value["_data_"])
            except KeyError:
                raise NotPlain(value["_type_"]) from None
        return {k: v if type(v) in SCALARS else _plain_json(v) for k, v in value.items()}
    if kind is list:
        return [v if type(v) in SCALARS else _plain_json(v) for v in value]
    return value


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
                fields = _plain_json(orjson.loads(state))
            except NotPlain:
                return from_event(mapper.to_domain_event(stored))
            if "class_version" not in fields:
                timestamp = fields.pop("timestamp")
                return Recorded(
                    name, str(stored.originator_id), stored.originator_version, timestamp, fields
                )
        return from_event(mapper.to_domain_event(stored))

    return decode


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
