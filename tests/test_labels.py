"""Behaviour of the label normaliser and the shipped Dutch lexicon."""

from collections import Counter
from pathlib import Path

import pytest
import simplemma
from hypothesis import given
from hypothesis import strategies as st

from projections.labels import (
    NEGATIONS,
    TEXT_SKIP,
    Lexicon,
    LexiconEntry,
    _text_words,
    default_lexicon,
    lemma_key,
    normalise,
    split_sentences,
)
from projections.timeline import mentions, sentence_of
from tests import lexicon_oracle


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


# What may end a sentence for simplemma or only look like it: every terminator it knows
# for any language, quotes and brackets that may close one, every kind of white space and
# line break, abbreviations, initials, numbers and words that open a sentence.
SENTENCE_PARTS = [".", "!", "?", "\u2026", "\u0589", "\u061f", "\u0964", "\u0965", ";", "..."]
SENTENCE_PARTS += ['"', "'", "\u201d", "\u2019", "\u00bb", ")", "]", "(", "["]
SENTENCE_PARTS += [
    " ",
    "  ",
    "\t",
    "\xa0",
    "\u2003",
    "\n",
    "\r\n",
    "\n\n",
    "\x0b",
    "\u2028",
    "\x85",
]
SENTENCE_PARTS += ["ik", "Ik", "werk", "Maar", "dr", "nr.", "J", "3", "12", "m", "É", "ĳ"]


def simplemma_per_line(text: str) -> list[str]:
    return [
        s for line in text.splitlines() for s in simplemma.split_sentences(line, lang="nl") if s
    ]


@given(st.lists(st.sampled_from(SENTENCE_PARTS), max_size=12))
def test_sentences_are_split_as_simplemma_splits_each_line(parts: list[str]) -> None:
    """A line simplemma could not split is not handed to it, for speed; the sentences
    must be exactly those it gives."""
    text = "".join(parts)
    assert split_sentences(text) == simplemma_per_line(text)


def test_every_single_place_simplemma_may_end_a_sentence_is_split_as_it_splits() -> None:
    """One possible end in a line, of every kind, between words of every sort: the cases
    where asking simplemma or not makes the difference."""
    terminators = [".", "!", "?", ";", "\u2026", "\u0589", "\u061f", "\u0964", "\u0965", "\u037e"]
    closers = ["", '"', "'", "\u201d", "\u2019", "\u00bb", ")", "]", "\u201c", "\u2018"]
    spaces = [" ", "\t", "\xa0", "\u2003", "\u3000", "\x1c", ""]
    for term in terminators:
        for closer in closers:
            for space in spaces:
                for before, after in [
                    ("Ik werk", "Maar ik"),
                    ("ik", "ik"),
                    ("nr", "3"),
                    ("J", "Ik"),
                    ("3 m", "Ik"),
                    ("werk 12", "(Ik"),
                    ("dr", "maar"),
                    ("zie https://school.example/loopbaan/gesprekken/2026/verslag", "Ik"),
                ]:
                    text = f"{before}{term}{closer}{space}{after}"
                    assert split_sentences(text) == simplemma_per_line(text), text


# Words as they end up between single spaces, the way nearly all typed text comes: every
# part above that is not white space, glued into words of one to four parts.
WORD_PARTS = [part for part in SENTENCE_PARTS if part.strip()]
SPACED_WORDS = st.lists(st.sampled_from(WORD_PARTS), min_size=1, max_size=4).map("".join)


@given(st.lists(SPACED_WORDS, max_size=16))
def test_words_one_space_apart_are_split_as_simplemma_splits_them(words: list[str]) -> None:
    """Where words stand one space apart, simplemma's verdict is asked per word and
    remembered (`sentence_starts`): what it decides must be what it decides in context."""
    text = " ".join(words)
    assert split_sentences(text) == simplemma_per_line(text)
    assert split_sentences(" " + text) == simplemma_per_line(" " + text)


@given(st.lists(st.sampled_from([*SENTENCE_PARTS, "samenwerken", "geduldig", "niet"]), max_size=30))
def test_a_mention_points_at_the_sentence_it_was_found_in(parts: list[str]) -> None:
    """Rows keep where a mention's sentence is in the text, not the sentence again."""
    text = "".join(parts)
    found = [(e.label, e.kind, sentence) for e, sentence in default_lexicon().find_in_text(text)]
    held = mentions(text)
    assert [(m[0], m[1], sentence_of({"story": text}, "experience", m)) for m in held] == found


@given(st.text(max_size=120))
def test_sentences_of_any_text_are_split_as_simplemma_splits_each_line(text: str) -> None:
    assert split_sentences(text) == simplemma_per_line(text)


def test_ambiguous_words_are_not_found_in_free_text() -> None:
    text = "Eerlijk gezegd had ik een plan. Ik zorg ervoor dat ik op tijd ben."
    assert _labels(default_lexicon().find_in_text(text)) == []
    assert _labels(default_lexicon().find_in_text(text + " Ik kan goed plannen.")) == ["plannen"]
    assert normalise("Eerlijk") == "eerlijk"


def test_denied_quality_is_not_found_in_text() -> None:
    found = default_lexicon().find_in_text("Ik ben niet zo creatief, maar wel nauwkeurig.")
    assert _labels(found) == ["nauwkeurig"]


def test_a_lexicon_of_thousands_of_words_finds_and_denies_as_a_small_one() -> None:
    """A lexicon of more words than the private use area its codes begin in holds (6,400)
    finds mentions and denials as the shipped one does."""
    lexicon = Lexicon(LexiconEntry(f"kwaliteit{n}", "quality", ()) for n in range(6_500))
    found = lexicon.find_in_text("Ik ben kwaliteit6499. Ik ben niet kwaliteit3!")
    assert [(entry.label, sentence) for entry, sentence in found] == [
        ("kwaliteit6499", "Ik ben kwaliteit6499.")
    ]


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


# Words of the shipped lexicon's forms, denials, words between them, and what ends or
# splits sentences, so that generated texts hold mentions, near-misses and denials.
FORM_WORDS = sorted(
    {word for e in default_lexicon().entries for f in (e.label, *e.variants) for word in f.split()}
)
TEXT_WORDS = [*FORM_WORDS, *sorted(NEGATIONS), "werkte", "samengewerkt", "hielp", "te", "het"]
TEXT_WORDS += ["Ik", "Maar", "Dr.", "nr.", "3"]  # after a "." a sentence may begin, or not
TEXT_GLUE = [" ", "  ", ", ", ". ", "! ", "? ", "\n", "\n\n", " - ", "... ", " bijv. ", "\u2019"]


@given(st.lists(st.tuples(st.sampled_from(TEXT_WORDS), st.sampled_from(TEXT_GLUE)), max_size=40))
def test_mentions_in_text_are_found_as_word_by_word_matching_finds_them(
    parts: list[tuple[str, str]],
) -> None:
    text = "".join(word + glue for word, glue in parts)
    assert default_lexicon().find_in_text(text) == lexicon_oracle.find_in_text(
        default_lexicon(), text
    )


@given(st.text(max_size=120))
def test_mentions_in_any_text_are_found_as_word_by_word_matching_finds_them(text: str) -> None:
    assert default_lexicon().find_in_text(text) == lexicon_oracle.find_in_text(
        default_lexicon(), text
    )


def test_a_school_lexicon_finds_its_own_forms_as_word_by_word_matching_does(
    tmp_path: Path,
) -> None:
    own = tmp_path / "own.toml"
    own.write_text(
        '[[group]]\nlabel = "lassen"\nkind = "interest"\nvariants = ["metaal lassen"]\n'
        '[[group]]\nlabel = "nooit stilzitten"\nkind = "quality"\n',
        encoding="utf-8",
    )
    lexicon = default_lexicon().extended(own)
    text = "Ik wil metaal lassen. Ik kan nooit stilzitten, ik wil niet lassen. Geduldig lassen!"
    assert lexicon.find_in_text(text) == lexicon_oracle.find_in_text(lexicon, text)
    assert _labels(lexicon.find_in_text(text)) == [
        "lassen",
        "nooit stilzitten",
        "geduldig",
        "lassen",
    ]


# Pieces of the lexicon's phrases (as lemmas, which read back as themselves): whole
# phrases, their beginnings and their ends, so that generated texts put phrases next to
# and across each other; denials and other words to stand between them.
PHRASE_PIECES = sorted(
    {
        " ".join(piece)
        for phrase in default_lexicon()._phrases
        for piece in (phrase, phrase[1:], phrase[:-1])
        if piece
    }
)
PIECES = [*PHRASE_PIECES, *sorted(NEGATIONS), "en", "ook", "dat", "wel", "Ik", "Maar"]
# Two phrases sharing words ("samen werken" and "werken zonder hulp"), and phrases one to
# four words after a denial: where the order of matching and the denial's reach tell.
PHRASES = sorted(default_lexicon()._phrases)
OVERLAPPING = sorted(
    {
        " ".join(first[:cut] + second)
        for first in PHRASES
        for cut in range(1, len(first))
        for second in PHRASES
        if second[: len(first) - cut] == first[cut:]
    }
)
DENIED = [f"{denial} {'en ' * between}{' '.join(phrase)}" for denial in sorted(NEGATIONS)
          for between in range(4) for phrase in PHRASES[::7]]  # fmt: skip
TRICKY = st.one_of(st.sampled_from(OVERLAPPING), st.sampled_from(DENIED), st.sampled_from(PIECES))


@given(
    st.lists(
        st.tuples(TRICKY, st.sampled_from([" ", " ", " ", ", ", ". ", "\n"])),
        max_size=12,
    )
)
def test_phrases_next_to_and_across_each_other_are_found_as_word_by_word_matching_does(
    parts: list[tuple[str, str]],
) -> None:
    text = "".join(piece + glue for piece, glue in parts)
    assert default_lexicon().find_in_text(text) == lexicon_oracle.find_in_text(
        default_lexicon(), text
    )
