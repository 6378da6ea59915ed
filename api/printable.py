"""The printable dossier for pupil and parents (AVG art. 15): HTML and PDF, in Dutch."""

import unicodedata
from itertools import groupby
from typing import Any
from uuid import UUID

from fpdf import FPDF

from dossier.access import Actor
from projections.runtime import Services

TYPES = {
    "enrolment": "Inschrijving",
    "experience": "Ervaring",
    "conversation": "Loopbaangesprek",
    "insight": "Inzicht",
    "action": "Vervolgstap",
}
THEMES = {"qualities": "Kwaliteiten", "motives": "Motieven", "interests": "Interesses"}
STATUS = {"open": "open", "completed": "gedaan", "abandoned": "gestopt"}


def printable(services: Services, actor: Actor, pupil_id: str) -> dict[str, Any]:
    """Everything the page shows: the pupil, the timeline per school year, the groter verhaal."""
    pupil = services.dossiers.summary(actor, UUID(pupil_id))
    items, _ = services.queries.timeline(actor, pupil_id, {"limit": 1_000_000})
    story = services.queries.story(actor, pupil_id, services.dossiers.today())
    years = [
        {"school_year": year, "items": [line(i) for i in group]}
        for year, group in groupby(items, key=lambda i: i["school_year"])
    ]
    themes = [{"title": THEMES[k], "items": story[k]} for k in THEMES if story[k]]
    return {"pupil": pupil, "years": years, "themes": themes, "story": story}


def line(item: dict[str, Any]) -> dict[str, Any]:
    """One timeline entry as a heading and a text, in the pupil's and mentor's own words."""
    kind = item["type"]
    heading = {
        "enrolment": f"{item.get('sector', '')} leerjaar {item.get('grade', '')}",
        "experience": item.get("title", ""),
        "conversation": "Gesprek over een ervaring",
        "insight": item.get("label", ""),
        "action": item.get("description", ""),
    }[kind]
    text = {
        "experience": item.get("story", ""),
        "insight": item.get("words") or "",
        "action": f"Uiterlijk {item.get('due_on')}; {STATUS.get(item.get('status', ''), '')}",
        "conversation": " ".join(f"{p['phase']}: {p['notes']}" for p in item.get("phases", [])),
    }.get(kind, "")
    return {
        "date": item["date"],
        "type": TYPES[kind],
        "heading": heading,
        "text": text,
        "retracted": item["retracted"],
        "corrected": item["corrected"],
    }


def _latin1(text: Any) -> str:
    """The PDF's built-in fonts know Latin-1 only: fold anything else to its nearest form."""
    folded = unicodedata.normalize("NFKC", str(text)).replace("\u2019", "'").replace("\u2018", "'")
    return folded.encode("latin-1", "replace").decode("latin-1")


def as_pdf(page: dict[str, Any]) -> bytes:
    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_page()
    pupil = page["pupil"]
    _write(pdf, 18, "B", f"Loopbaandossier van {pupil.name}")
    _write(pdf, 10, "", f"{pupil.sector} leerjaar {pupil.grade}, schooljaar {pupil.school_year}")
    for year in page["years"]:
        _write(pdf, 14, "B", f"Schooljaar {year['school_year']}")
        for item in year["items"]:
            mark = (
                " (ingetrokken)"
                if item["retracted"]
                else " (gecorrigeerd)"
                if item["corrected"]
                else ""
            )
            _write(pdf, 11, "B", f"{item['date']}  {item['type']}: {item['heading']}{mark}")
            if item["text"]:
                _write(pdf, 10, "", item["text"])
    _write(pdf, 14, "B", "Mijn groter verhaal")
    for theme in page["themes"]:
        _write(pdf, 12, "B", theme["title"])
        for t in theme["items"]:
            seen = ", ".join(t["school_years"])
            _write(pdf, 10, "", f"{t['label']}: {t['count']} ervaring(en) ({seen})")
    return bytes(pdf.output())


def _write(pdf: FPDF, size: int, style: str, text: str) -> None:
    pdf.set_font("Helvetica", style, size)
    pdf.multi_cell(0, size * 0.5, _latin1(text), new_x="LMARGIN", new_y="NEXT")
