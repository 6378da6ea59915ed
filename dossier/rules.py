"""Value rules per entry type and field: one place for recording and for corrections.

A correction carries raw values (as sent over JSON), so every field knows how to
check and coerce its own value; recording an entry goes through the same rules.
"""

from collections.abc import Callable, Mapping
from datetime import date
from typing import Any
from uuid import UUID

from dossier import vocabulary as v
from dossier.errors import FutureDate, InvalidValue

Rule = Callable[[str, Any, date], Any]


def text(limit: int, *, optional: bool = False) -> Rule:
    def check(field: str, value: Any, today: date) -> str | None:
        if value is None and optional:
            return None
        if not isinstance(value, str) or not value.strip():
            raise InvalidValue(f"{field} must be a non-empty text", field=field)
        if len(value) > limit:
            raise InvalidValue(f"{field} is longer than {limit} characters", field=field)
        return value.strip()

    return check


def choice(options: tuple[str, ...]) -> Rule:
    def check(field: str, value: Any, today: date) -> str:
        if value not in options:
            raise InvalidValue(f"{field} must be one of {', '.join(options)}", field=field)
        return str(value)

    return check


def day(*, not_future: bool, optional: bool = False) -> Rule:
    def check(field: str, value: Any, today: date) -> date | None:
        if value is None and optional:
            return None
        if isinstance(value, str):
            try:
                value = date.fromisoformat(value)
            except ValueError:
                raise InvalidValue(f"{field} must be a date (YYYY-MM-DD)", field=field) from None
        if not isinstance(value, date):
            raise InvalidValue(f"{field} must be a date (YYYY-MM-DD)", field=field)
        if not_future and value > today:
            raise FutureDate(f"{field} {value.isoformat()} lies in the future", field=field)
        return value

    return check


def school_year(field: str, value: Any, today: date) -> str:
    if not isinstance(value, str) or not v.school_year_is_valid(value):
        raise InvalidValue(f"{field} must look like 2024-2025", field=field)
    return value


def grade(field: str, value: Any, today: date) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= v.MAX_GRADE:
        raise InvalidValue(f"{field} must be a whole number from 1 to {v.MAX_GRADE}", field=field)
    return value


def id_list(*, min_items: int) -> Rule:
    def check(field: str, value: Any, today: date) -> list[UUID]:
        if not isinstance(value, list | tuple) or not min_items <= len(value) <= v.MAX_IDS:
            raise InvalidValue(f"{field} must list {min_items} to {v.MAX_IDS} ids", field=field)
        try:
            ids = [item if isinstance(item, UUID) else UUID(str(item)) for item in value]
        except ValueError:
            raise InvalidValue(f"{field} must contain entry ids", field=field) from None
        return list(dict.fromkeys(ids))

    return check


def questions(field: str, value: Any, today: date) -> list[str]:
    if not isinstance(value, list | tuple) or len(value) > v.MAX_QUESTIONS:
        raise InvalidValue(f"{field} must list at most {v.MAX_QUESTIONS} questions", field=field)
    check = text(v.MAX_QUESTION)
    return [check(field, item, today) for item in value]


def external_ref(field: str, value: Any, today: date) -> str | None:
    """The school's own pupil number; a BSN must never be stored."""
    value = text(v.MAX_EXTERNAL_REF, optional=True)(field, value, today)
    if value is not None and v.looks_like_bsn(value):
        raise InvalidValue(
            f"{field} looks like a BSN; use the school's own pupil number", field=field
        )
    return value


ENTRY_RULES: Mapping[str, Mapping[str, Rule]] = {
    "pupil": {
        "name": text(v.MAX_NAME),
        "external_ref": external_ref,
        "school_year": school_year,
        "sector": choice(v.SECTORS),
        "grade": grade,
        "date_of_birth": day(not_future=True, optional=True),
    },
    "enrolment": {"school_year": school_year, "sector": choice(v.SECTORS), "grade": grade},
    "experience": {
        "kind": choice(v.EXPERIENCE_KINDS),
        "title": text(v.MAX_TITLE),
        "occurred_on": day(not_future=True),
        "story": text(v.MAX_TEXT),
        "emotion": choice(v.EMOTIONS),
        "place": text(v.MAX_TITLE, optional=True),
    },
    "conversation": {"held_on": day(not_future=True), "experience_ids": id_list(min_items=0)},
    "phase": {"notes": text(v.MAX_TEXT), "questions": questions},
    "insight": {
        "kind": choice(v.INSIGHT_KINDS),
        "label": text(v.MAX_LABEL),
        "words": text(v.MAX_TEXT, optional=True),
        "experience_ids": id_list(min_items=1),
    },
    "action": {
        "description": text(v.MAX_TEXT),
        "due_on": day(not_future=False),
        "helper": text(v.MAX_TITLE, optional=True),
        "obstacles": text(v.MAX_TEXT, optional=True),
    },
}


def reason_text(field: str, value: Any) -> str:
    """A free-text reason or outcome, as given with a closing or correcting event."""
    result: str = text(v.MAX_REASON)(field, value, date.min)
    return result


def clean(
    entry_type: str, values: Mapping[str, Any], today: date, *, partial: bool = False
) -> dict[str, Any]:
    """Check and coerce the given fields of an entry type; unknown fields are refused, and
    so are missing ones unless `partial` (a correction names only what it changes)."""
    rules = ENTRY_RULES[entry_type]
    unknown = sorted(set(values) - set(rules))
    if unknown:
        raise InvalidValue(f"{entry_type} has no field {', '.join(unknown)}", field=unknown[0])
    missing = [] if partial else [name for name in rules if name not in values]
    if missing:
        raise InvalidValue(f"{entry_type} needs {', '.join(missing)}", field=missing[0])
    return {name: rules[name](name, value, today) for name, value in values.items()}
