"""The groter verhaal: recurring qualities, motives and interests with their evidence.

Built from the folded timeline, so it reflects corrections and ignores retracted entries.
"""

from collections import Counter
from datetime import date
from typing import Any

from dossier.vocabulary import PHASES, school_year_of
from projections.fold import Item
from projections.labels import normalise
from projections.timeline import sentence_of

COMPETENCIES = (
    "kwaliteitenreflectie",
    "motievenreflectie",
    "werkexploratie",
    "loopbaansturing",
    "netwerken",
)
PHASE_COMPETENCIES = {
    "terugkijken": ("werkexploratie",),
    "reflecteren": ("kwaliteitenreflectie", "motievenreflectie"),
    "vooruitkijken": ("loopbaansturing",),
    "activeren": ("loopbaansturing", "netwerken"),
}
INSIGHT_COMPETENCIES = {
    "quality": ("kwaliteitenreflectie",),
    "motive": ("motievenreflectie",),
    "interest": ("werkexploratie",),
}
GROUPS = {"quality": "qualities", "motive": "motives", "interest": "interests"}


def story(items: dict[str, Item], today: date) -> dict[str, Any]:
    live = [i for i in items.values() if not i["retracted"]]
    themes = _themes(live)
    recorded = {theme["label"] for group in themes.values() for theme in group}
    return {
        **themes,
        "suggestions": _suggestions(live, recorded),
        "competencies": _competencies(live),
        "incomplete_conversations": _incomplete_conversations(live),
        "open_actions": _open_actions(live, today),
    }


def _themes(live: list[Item]) -> dict[str, list[dict[str, Any]]]:
    experiences = {i["entry_id"]: i for i in live if i["type"] == "experience"}
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for insight in (i for i in live if i["type"] == "insight"):
        data = insight["data"]
        key = (data["kind"], normalise(data["label"]))
        theme = found.setdefault(key, {"labels": [], "words": [], "evidence": {}})
        theme["labels"].append(data["label"])
        if data.get("words"):
            theme["words"].append(data["words"])
        for experience_id in data["experience_ids"]:
            if experience_id in experiences:
                theme["evidence"][experience_id] = experiences[experience_id]
    themes: dict[str, list[dict[str, Any]]] = {group: [] for group in GROUPS.values()}
    for (kind, label), theme in found.items():
        themes[GROUPS[kind]].append(_theme(label, theme))
    for group in themes.values():
        group.sort(key=lambda t: (-t["count"], _desc(t["last_seen"] or ""), t["label"]))
    return themes


def _desc(text: str) -> str:
    """Sort key that orders ISO dates newest first."""
    return "".join(chr(0x10FFFF - ord(c)) for c in text)


def _theme(label: str, theme: dict[str, Any]) -> dict[str, Any]:
    evidence = sorted(theme["evidence"].values(), key=lambda e: e["data"]["occurred_on"])
    days = [e["data"]["occurred_on"] for e in evidence]
    return {
        "label": label,
        "labels_as_written": sorted(set(theme["labels"])),
        "experiences": [
            {
                "id": e["entry_id"],
                **{k: e["data"][k] for k in ("title", "kind", "occurred_on", "emotion")},
            }
            for e in evidence
        ],
        "count": len(evidence),
        "recurring": len(evidence) >= 2,
        "first_seen": days[0] if days else None,
        "last_seen": days[-1] if days else None,
        "school_years": sorted({school_year_of(date.fromisoformat(d)) for d in days}),
        "words": theme["words"],
        "emotions": dict(Counter(e["data"]["emotion"] for e in evidence)),
    }


def _suggestions(live: list[Item], recorded: set[str]) -> list[dict[str, Any]]:
    """Lexicon words found in stories and notes that are not (yet) recorded insights."""
    seen, suggestions = set(), []
    for item in live:
        for mention in item["data"].get("mentions", []):
            label, kind = mention[0], mention[1]
            sentence = sentence_of(item["data"], item["type"], mention)
            if normalise(label) in recorded or (label, sentence) in seen:
                continue
            seen.add((label, sentence))
            suggestions.append(
                {
                    "label": label,
                    "kind": kind,
                    "sentence": sentence,
                    "entry_id": item["entry_id"],
                    "entry_type": item["type"],
                }
            )
    return suggestions


def _touches(item: Item) -> tuple[str, ...]:
    data = item["data"]
    if item["type"] == "phase":
        return PHASE_COMPETENCIES[data["phase"]]
    if item["type"] == "insight":
        return INSIGHT_COMPETENCIES[data["kind"]]
    if item["type"] == "experience":
        return ("werkexploratie",)
    if item["type"] == "action":
        return ("loopbaansturing", "netwerken") if data.get("helper") else ("loopbaansturing",)
    return ()


def _competencies(live: list[Item]) -> dict[str, dict[str, list[str]]]:
    """Per school year, the entries that touched each career competency (empty lists are gaps)."""
    years = {school_year_of(date.fromisoformat(i["date"])) for i in live}
    years |= {i["data"]["school_year"] for i in live if i["type"] == "enrolment"}
    table = {year: {c: [] for c in COMPETENCIES} for year in sorted(years)}
    for item in live:
        year = school_year_of(date.fromisoformat(item["date"]))
        for competency in _touches(item):
            table[year][competency].append(item["entry_id"])
    return table


def _incomplete_conversations(live: list[Item]) -> list[dict[str, Any]]:
    phases: dict[str, set[str]] = {}
    for item in live:
        if item["type"] == "phase":
            phases.setdefault(item["parent_id"], set()).add(item["data"]["phase"])
    return [
        {
            "entry_id": c["entry_id"],
            "held_on": c["data"]["held_on"],
            "missing": [p for p in PHASES if p not in phases.get(c["entry_id"], set())],
        }
        for c in live
        if c["type"] == "conversation" and set(PHASES) - phases.get(c["entry_id"], set())
    ]


def _open_actions(live: list[Item], today: date) -> list[dict[str, Any]]:
    return [
        {
            "entry_id": a["entry_id"],
            "description": a["data"]["description"],
            "due_on": a["data"]["due_on"],
            "overdue": a["data"]["due_on"] < today.isoformat(),
        }
        for a in live
        if a["type"] == "action" and a["data"]["status"] == "open"
    ]
