"""The domain's closed vocabularies and value rules, shared by the domain and the API schemas."""

import re
from datetime import date

SECTORS = ("vmbo", "havo", "vwo", "mbo", "hbo")
EXPERIENCE_KINDS = (
    "stage",
    "praktijkles",
    "meeloopdag",
    "proefles",
    "open_dag",
    "interview",
    "opdracht",
    "other",
)
EMOTIONS = ("positive", "negative", "mixed", "neutral")
PHASES = ("terugkijken", "reflecteren", "vooruitkijken", "activeren")
INSIGHT_KINDS = ("quality", "motive", "interest")
ROLES = ("coach", "counsellor", "auditor", "admin")

MAX_NAME = 200
MAX_TITLE = 200
MAX_LABEL = 100
MAX_TEXT = 10_000
MAX_REASON = 1_000
MAX_QUESTIONS = 50
MAX_QUESTION = 500
MAX_IDS = 100
MAX_GRADE = 8
MAX_EXTERNAL_REF = 64

SCHOOL_YEAR_PATTERN = re.compile(r"^(\d{4})-(\d{4})$")


def school_year_is_valid(value: str) -> bool:
    """A school year is written `2024-2025`: two consecutive years."""
    match = SCHOOL_YEAR_PATTERN.match(value)
    return bool(match) and int(match.group(2)) == int(match.group(1)) + 1


def school_year_start(school_year: str) -> date:
    """A school year runs from 1 August to 31 July."""
    return date(int(school_year[:4]), 8, 1)


def school_year_of(day: date) -> str:
    start = day.year if day.month >= 8 else day.year - 1
    return f"{start}-{start + 1}"


def looks_like_bsn(value: str) -> bool:
    """Nine digits that pass the elfproef: a Dutch citizen service number."""
    digits = value.replace(".", "").replace(" ", "")
    if len(digits) != 9 or not digits.isdigit():
        return False
    weights = (9, 8, 7, 6, 5, 4, 3, 2, -1)
    total = sum(int(d) * w for d, w in zip(digits, weights, strict=True))
    return total % 11 == 0 and total != 0
