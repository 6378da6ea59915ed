"""Behaviour of the label normaliser and the shipped Dutch lexicon."""

from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from projections.labels import (
    TEXT_SKIP,
    Lexicon,
    LexiconEntry,
    _text_words,
    default_lexicon,
    lemma_key,
    normalise,
)


def _labels(found: list[tuple[LexiconEntry, str]]) -> list[str]:
    return [entry.label for entry, _ in found]


def test_differently_written_quality_counts_once() -> None:
    written = [
        "Samenwerking",
        "goed kunnen samenwerken",
        " SAMENWERKEN ",
        "heel goed samenwerken",
        "teamwork!",
        "samen werken",
        "In een team werken",
    ]
    assert Counter(normalise(text) for text in written) == {"samenwerken": len(written)}


def test_differently_written_motive_counts_once() -> None:
    written = ["Behulpzaam", "mensen helpen", "anderen helpen", "Hulpvaardig", "klanten helpen"]
    assert {normalise(text) for text in written} == {"anderen helpen"}


def test_accents_and_case_do_not_matter() -> None:
    assert normalise("Créatief") == "creatief"
    assert normalise("CRÉATIEVE") == "creatief"
    assert normalise("ICT") == "ict"


def test_inflected_forms_count_as_their_lemma() -> None:
    assert normalise("Auto's") == normalise("auto") == "auto's"
    assert normalise("Dieren") == "dieren"


def test_unknown_label_keeps_its_own_normalised_form() -> None:
    assert normalise("Ouderen!") == "oudere"
    assert normalise("  Zorg   voor   de   ouderen ") == "zorg voor de oudere"
    assert Lexicon([]).canonical("samenwerken") is None
    assert normalise("samenwerken", Lexicon([])) == "samen werken"


def test_negated_label_is_not_the_quality() -> None:
    assert normalise("niet samenwerken") == "niet samen werken"


def test_filler_words_are_compared_as_written_not_as_lemmas() -> None:
    # simplemma lemmatises "beter" to "goed"; that must not turn "beter worden" into "worden"
    assert normalise("worden") == "worden"
    assert normalise("beter worden") == "mezelf ontwikkelen"


def test_canonical_and_entry_describe_the_group() -> None:
    lexicon = default_lexicon()
    assert lexicon.canonical("teamspeler") == "samenwerken"
    assert lexicon.canonical("iets heel anders") is None
    entry = lexicon.entry("samenwerken")
    assert entry is not None
    assert entry.kind == "quality"
    assert "teamwork" in entry.variants
    assert lexicon.entry("teamwork") is None


def test_shipped_lexicon_covers_qualities_motives_and_interests() -> None:
    kinds = Counter(entry.kind for entry in default_lexicon().entries)
    assert kinds["quality"] >= 40
    assert kinds["motive"] >= 25
    assert kinds["interest"] >= 20


def test_finds_lexicon_quality_in_story_with_its_sentence() -> None:
    story = (
        "Tijdens mijn stage bij de kinderopvang moest ik veel uitleggen. "
        "Ik bleef geduldig toen een kind ging huilen! Daarna gingen we buiten spelen."
    )
    found = default_lexicon().find_in_text(story)
    assert ("geduldig", "Ik bleef geduldig toen een kind ging huilen!") in [
        (entry.label, sentence) for entry, sentence in found
    ]


def test_finds_multi_word_motive_across_inflection() -> None:
    found = default_lexicon().find_in_text("Ik vond het fijn om mensen te helpen.")
    assert _labels(found) == ["anderen helpen"]


def test_mentor_notes_are_split_per_line() -> None:
    notes = "Wat ging goed:\n- doorzettingsvermogen\n- creatieve oplossing bedacht"
    found = default_lexicon().find_in_text(notes)
    assert [(entry.label, sentence) for entry, sentence in found] == [
        ("doorzetten", "- doorzettingsvermogen"),
        ("creatief", "- creatieve oplossing bedacht"),
        ("oplossingsgericht", "- creatieve oplossing bedacht"),
    ]


def test_does_not_match_inside_another_word() -> None:
    lexicon = default_lexicon()
    assert lexicon.find_in_text("Het samenwerkingsverband met de school was groot.") == []
    assert lexicon.find_in_text("De natuurkundeles ging over kunststof.") == []
    assert _labels(lexicon.find_in_text("Ik hou van de natuur en van kunst.")) == [
        "natuur",
        "kunst",
    ]


# Words pupils write, lexicon words among them, and what may stand between or inside words:
# punctuation, apostrophes (straight and curly), underscores, digits, accents written as
# one character or as a combining mark, and every kind of white space.
WORDS = ["samenwerken", "Geduldig", "mensen", "helpen", "café", "cafe\u0301", "zo'n", "m\u2019n"]
WORDS += ["werk_plek", "2e", "niet", "te", "zelfstandig", "ÉÉN", "ĳs", "ﬁets"]
GLUE = [" ", "  ", "\t", "\xa0", "\u2003", ",", ", ", "'", "\u2019", "-", "(", ")", '"', "_"]
GLUE += ["\u0301"]


@given(st.lists(st.tuples(st.sampled_from(WORDS), st.sampled_from(GLUE)), max_size=30))
def test_free_text_is_read_into_the_words_labels_are(parts: list[tuple[str, str]]) -> None:
    """Stories are read chunk by chunk between white space, for speed; the words must be
    exactly those a label of the same text is read into (word by word over the text)."""
    text = "".join(word + glue for word, glue in parts)
    assert _text_words(text) == tuple(w for w in lemma_key(text) if w not in TEXT_SKIP)


@given(st.text(max_size=80))
def test_any_text_is_read_into_the_words_labels_are(text: str) -> None:
    assert _text_words(text) == tuple(w for w in lemma_key(text) if w not in TEXT_SKIP)


def test_ambiguous_words_are_not_found_in_free_text() -> None:
    text = "Eerlijk gezegd had ik een plan. Ik zorg ervoor dat ik op tijd ben."
    assert _labels(default_lexicon().find_in_text(text)) == []
    assert _labels(default_lexicon().find_in_text(text + " Ik kan goed plannen.")) == ["plannen"]
    assert normalise("Eerlijk") == "eerlijk"


def test_denied_quality_is_not_found_in_text() -> None:
    found = default_lexicon().find_in_text("Ik ben niet zo creatief, maar wel nauwkeurig.")
    assert _labels(found) == ["nauwkeurig"]


def test_longest_variant_wins_in_text() -> None:
    found = default_lexicon().find_in_text("Later wil ik met kinderen werken.")
    assert _labels(found) == ["kinderen"]


def test_school_can_extend_lexicon_with_own_file(tmp_path: Path) -> None:
    school_file = tmp_path / "school.toml"
    school_file.write_text(
        '[[group]]\nlabel = "samenwerken"\nkind = "quality"\nvariants = ["samen dingen doen"]\n\n'
        '[[group]]\nlabel = "paardrijden"\nkind = "interest"\nvariants = ["manege"]\n',
        encoding="utf-8",
    )
    lexicon = default_lexicon().extended(school_file)
    assert normalise("Samen dingen doen", lexicon) == "samenwerken"
    assert normalise("teamwork", lexicon) == "samenwerken"
    assert normalise("Manege", lexicon) == "paardrijden"
    assert _labels(lexicon.find_in_text("Ik werk op een manege.")) == ["paardrijden"]
    assert normalise("manege") == "manege"  # the shipped lexicon is unchanged


def test_school_can_use_its_own_file_alone(tmp_path: Path) -> None:
    school_file = tmp_path / "eigen.toml"
    school_file.write_text(
        '[[group]]\nlabel = "Techniek"\nkind = "interest"\nvariants = ["Techniek en ICT"]\n',
        encoding="utf-8",
    )
    lexicon = Lexicon.load(school_file)
    assert [entry.label for entry in lexicon.entries] == ["techniek"]
    assert normalise("techniek en ict", lexicon) == "techniek"


def test_same_form_in_two_groups_is_refused(tmp_path: Path) -> None:
    school_file = tmp_path / "school.toml"
    school_file.write_text(
        '[[group]]\nlabel = "teamsport"\nkind = "quality"\nvariants = ["teamwork"]\n',
        encoding="utf-8",
    )
    with pytest.raises(ValueError, match="teamwork"):
        default_lexicon().extended(school_file)


def test_group_needs_a_known_kind(tmp_path: Path) -> None:
    school_file = tmp_path / "school.toml"
    school_file.write_text('[[group]]\nlabel = "koken"\nkind = "hobby"\n', encoding="utf-8")
    with pytest.raises(ValueError, match="kind"):
        Lexicon.load(school_file)
