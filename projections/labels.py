"""Normalised labels for pupils' insights, and a Dutch lexicon of qualities, motives, interests.

The bigger story counts how often a quality or motive recurs. Pupils write the same insight
in many ways ("Samenwerking", "goed kunnen samenwerken", "teamwork"), so each label is reduced
to a key: lower case, no accents or punctuation, every word lemmatised with simplemma, and,
where the lexicon knows the phrase, the canonical label of its synonym group.
"""

from __future__ import annotations

import re
import tomllib
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import ahocorasick_rs
import simplemma

KINDS = frozenset({"quality", "motive", "interest"})
DEFAULT_LEXICON_PATH = Path(__file__).with_name("lexicon_nl.toml")
# Words dropped only when a label is compared with the lexicon, so "heel goed samenwerken"
# and "goed kunnen samenwerken" both find samenwerken. Compared as written, not as lemmas:
# simplemma turns "beter" and "beste" into "goed", and "beter worden" must not become "worden".
FILLERS = frozenset(
    {"ik", "ben", "is", "zijn", "kan", "kun", "kunnen", "goed", "goede", "heel", "erg", "zeer"}
    | {"echt", "wel", "het", "de", "een"}
)
# Ignored in free text: "om anderen te helpen" mentions "anderen helpen".
TEXT_SKIP = frozenset({"te"})
# In free text, a phrase shortly after one of these is denied rather than claimed.
NEGATIONS = frozenset({"niet", "geen", "nooit", "nauwelijks"})
NEGATION_WINDOW = 3

Key = tuple[str, ...]
_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)*")


@dataclass(frozen=True)
class LexiconEntry:
    """One synonym group: its canonical label, kind, and other ways to write it."""

    label: str
    kind: str
    variants: tuple[str, ...]
    not_in_text: tuple[str, ...] = ()


def _fold(text: str) -> str:
    """Lower case without accents ("Créatief" -> "creatief")."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(char for char in decomposed if not unicodedata.combining(char))


@lru_cache(maxsize=16384)
def _lemmas(token: str) -> Key:
    """Accent-free lemmas of one lower-case token.

    simplemma splits separable verbs ("samenwerken" -> "samen_werken"), so a token can
    yield several lemmas. A wrongly accented word ("créatieve") is unknown to simplemma,
    so it is looked up again without accents.
    """
    lemma = simplemma.lemmatize(token, lang="nl")
    folded = _fold(token)
    if lemma == token and folded != token:
        lemma = simplemma.lemmatize(folded, lang="nl")
    return tuple(_WORD.findall(_fold(lemma)))


@lru_cache(maxsize=16384)
def lemma_key(text: str, loose: bool = False) -> Key:
    """The lemma sequence of a label or sentence, without case, accents or punctuation.

    With `loose`, filler words are left out first (see FILLERS).
    """
    tokens = [token for token in _tokens(text) if not (loose and _fold(token) in FILLERS)]
    return tuple(lemma for token in tokens for lemma in _lemmas(token))


def _tokens(text: str) -> list[str]:
    """The words of a text, lower case, apostrophes made plain."""
    return _WORD.findall(unicodedata.normalize("NFC", text).lower().replace("\u2019", "'"))


def _text_words(text: str) -> Key:
    """The lemmas of free text, as `lemma_key` gives them, less TEXT_SKIP.

    Cached per whitespace-separated chunk ("keer.", "samenwerken"), not per text: stories
    are unique, so a cache per text would only churn, while their chunks recur. A word
    never holds whitespace, so the words of the chunks in turn are the text's words;
    a regular expression over every character cost twice as much as splitting."""
    words: list[str] = []
    known = _CHUNK_WORDS
    for chunk in unicodedata.normalize("NFC", text).lower().replace("\u2019", "'").split():
        found = known.get(chunk)
        words.extend(found if found is not None else _chunk_words(chunk))
    return tuple(words)


_CHUNK_WORDS: dict[str, Key] = {}
CHUNK_CACHE_SIZE = 200_000  # chunks; emptied when full
LONGEST_CACHED_CHUNK = 40  # characters: longer ones (a link, text without spaces) are rare


def _chunk_words(chunk: str) -> Key:
    found = tuple(lemma for token in _WORD.findall(chunk) for lemma in _text_lemmas(token))
    _remember(_CHUNK_WORDS, chunk, found, CHUNK_CACHE_SIZE)
    return found


def _remember(cache: dict[str, Any], word: str, value: Any, most: int) -> None:
    """Keep what was worked out for a word (a chunk between white space) in one of the
    per-word caches: not for a rare long one (a link, text without spaces), so that a
    cache stays a few tens of MB at most, and the cache emptied when it holds `most`."""
    if len(word) <= LONGEST_CACHED_CHUNK:
        if len(cache) >= most:
            cache.clear()
        cache[word] = value


@lru_cache(maxsize=100_000)
def _text_lemmas(token: str) -> Key:
    return tuple(lemma for lemma in _lemmas(token) if lemma not in TEXT_SKIP)


# Where simplemma may end a Dutch sentence: a terminator, closing quotes or brackets, white
# space (its generic rule; it has no Dutch terminators of its own).
_JUNCTION = re.compile(r"[.!?\u2026\u0589\u061f\u0964\u0965][\"'\u201d\u2019\u00bb)\]]*\s+")
# A word after which simplemma may end a sentence: the same, at the word's end.
_MAY_END = re.compile(r"[.!?\u2026\u0589\u061f\u0964\u0965][\"'\u201d\u2019\u00bb)\]]*\Z")
# What simplemma looks at in the word after a possible end: whether it is in lower case and
# whether it is one of its Dutch sentence starters ("Ik", "Maar"); a word of each kind.
LOWER, STARTER, OTHER = 0, 1, 2
_PROBES = ("xq", "Ik", "Xq")
VERDICT_CACHE_SIZE = 100_000  # words; emptied when full, like the chunk caches

_ENDINGS: dict[str, str] = {}  # word -> "." when a sentence may end after it, else "_"
_VERDICTS: dict[str, tuple[bool, ...]] = {}  # such a word -> whether one ends there, per case
_FOLLOWERS: dict[str, int] = {}  # word -> LOWER, STARTER or OTHER


def split_sentences(text: str) -> list[str]:
    """Sentences of a story or notes, exactly as simplemma splits each line on its own
    (notes are often lists). `_Codes.in_line` takes the same steps inline, for speed;
    the tests compare both with simplemma."""
    sentences = []
    for line in text.splitlines():
        words = line.split()
        if not words:
            continue
        if single_spaced(line, words):
            starts = sentence_starts(words, endings(words))
            sentences += [
                " ".join(words[a:b]) for a, b in zip(starts, [*starts[1:], None], strict=True)
            ]
        else:
            sentences += _simplemma_sentences(line)
    return sentences


def single_spaced(line: str, words: list[str]) -> bool:
    """Whether the line's words stand one plain space apart: then `sentence_starts` tells
    where its sentences begin, and a sentence is its words joined by a space."""
    return " ".join(words) == line.strip()


def endings(words: list[str]) -> str:
    """One character per word: "." where a sentence may end after it, else "_"."""
    try:
        return "".join(map(_ENDINGS.__getitem__, words))
    except KeyError:  # a word not met before (or the cache was emptied meanwhile)
        return "".join(_ENDINGS.get(word) or _ending(word) for word in words)


def _ending(word: str) -> str:
    found = "." if _MAY_END.search(word) else "_"
    _remember(_ENDINGS, word, found, VERDICT_CACHE_SIZE)
    return found


def sentence_starts(words: list[str], ends: str) -> list[int]:
    """Where simplemma begins a sentence (the first word's index, 0, first) in a line of
    `words` one space apart, `ends` being their `endings`.

    Its splitter decides at each possible end from three things only: the word before it
    (its abbreviations, initials, ordinals), whether the word before that one ends in a
    digit ("3 m."), and whether the next word is in lower case or one of its sentence starters.
    So its verdict is asked once per word, of simplemma itself, on a line of three words
    for each of those cases, and remembered: its splitter cost a quarter of finding the
    mentions in a story of five sentences. The tests compare this with simplemma."""
    starts = [0]
    last = len(words) - 1
    at = ends.find(".", 0, last)
    while at >= 0:
        verdicts = _VERDICTS.get(words[at]) or _verdicts(words[at])
        follower = _FOLLOWERS.get(words[at + 1])
        if follower is None:
            follower = _follower(words[at + 1])
        after_number = at > 0 and words[at - 1][-1].isdigit()
        if verdicts[follower + 3 * after_number]:
            starts.append(at + 1)
        at = ends.find(".", at + 1, last)
    return starts


def _verdicts(word: str) -> tuple[bool, ...]:
    """Whether simplemma ends a sentence after `word`: for each kind of next word, first
    after a word not ending in a digit, then after one that does."""
    found = tuple(
        len(simplemma.split_sentences(f"{before} {word} {probe}", lang="nl")) == 2
        for before in ("x", "0")
        for probe in _PROBES
    )
    _remember(_VERDICTS, word, found, VERDICT_CACHE_SIZE)
    return found


def _follower(word: str) -> int:
    """LOWER, STARTER or OTHER. A starter only counts after a word that ends a sentence
    only before one (an abbreviation, as "dr."), and only when it is not in lower case."""
    if word[:1].islower():
        kind = LOWER
    elif len(simplemma.split_sentences(f"dr. {word}", lang="nl")) == 2:
        kind = STARTER
    else:
        kind = OTHER
    _remember(_FOLLOWERS, word, kind, VERDICT_CACHE_SIZE)
    return kind


def _simplemma_sentences(line: str) -> list[str]:
    """simplemma's sentences of a line whose words are not one plain space apart (rare
    in what pupils and mentors type). A line where it could not end a sentence anywhere
    is one sentence, the line stripped, which it answers too, only slower."""
    if _JUNCTION.search(line) is None:
        return [line.strip()]
    return [s for s in simplemma.split_sentences(line, lang="nl") if s]


class Lexicon:
    """Synonym groups, looked up by normalised form. One form belongs to one group only."""

    def __init__(self, entries: Iterable[LexiconEntry]) -> None:
        self._entries: dict[str, LexiconEntry] = {}
        self._exact: dict[Key, LexiconEntry] = {}
        self._loose: dict[Key, LexiconEntry] = {}
        self._phrases: dict[Key, LexiconEntry] = {}
        for entry in entries:
            self._add(entry)
        self._codes = _Codes(self._phrases)

    @classmethod
    def load(cls, path: Path | None = None) -> Lexicon:
        """Read a lexicon file; by default the shipped Dutch one."""
        return cls(_read_entries(path or DEFAULT_LEXICON_PATH))

    def extended(self, path: Path) -> Lexicon:
        """This lexicon plus a school's own file; a known label gains the file's variants."""
        merged = dict(self._entries)
        for extra in _read_entries(path):
            merged[extra.label] = _merge(merged.get(extra.label), extra)
        return Lexicon(merged.values())

    @property
    def entries(self) -> tuple[LexiconEntry, ...]:
        return tuple(self._entries.values())

    def entry(self, label: str) -> LexiconEntry | None:
        return self._entries.get(label)

    def canonical(self, text: str) -> str | None:
        """The canonical label of the group `text` belongs to, if any."""
        entry = self._exact.get(lemma_key(text)) or self._loose.get(lemma_key(text, loose=True))
        return entry.label if entry else None

    def find_in_text(self, text: str) -> list[tuple[LexiconEntry, str]]:
        """Entries mentioned in free text, each with the sentence it was found in.

        Precision over recall: a form matches only as whole lemmas in order, the longest
        form wins, denied mentions ("niet goed samenwerken") and ambiguous forms are skipped.
        """
        found: list[tuple[LexiconEntry, str]] = []
        for line in text.splitlines():
            for pair in self._codes.in_line(line):
                if pair not in found:
                    found.append(pair)
        return found

    def _add(self, entry: LexiconEntry) -> None:
        if entry.label in self._entries:
            raise ValueError(f"lexicon group {entry.label!r} appears twice")
        self._entries[entry.label] = entry
        ambiguous = {_text_words(form) for form in entry.not_in_text}
        for form in (entry.label, *entry.variants):
            _claim(self._exact, lemma_key(form), entry)
            _claim(self._loose, lemma_key(form, loose=True), entry)
            if _text_words(form) not in ambiguous:
                _claim(self._phrases, _text_words(form), entry)


class _Codes:
    """Finds a lexicon's phrases in a line's lemmas, sentence by sentence, left to right,
    the longest at each start, a matched phrase's words not reused, none shortly after a
    negation.

    Each lemma that some phrase or NEGATIONS holds is written as one character of its
    own (any other lemma as a space), so a line becomes a short string, its sentences
    apart by SENTENCE_END, and every phrase a string of its characters: an Aho-Corasick
    automaton (ahocorasick-rs, leftmost longest) then finds the phrases of all sentences
    in one pass outside Python, where probing each word in Python took half of the time
    a story cost. A word, as written between white space, is turned into its characters
    once and remembered, as `_text_words` remembers its lemmas.

    An encoded line holds only these characters, spaces and SENTENCE_END, so any others
    would do; they are numbered from the Basic Multilingual Plane's private use area,
    whose first 8,192 (the shipped lexicon has ~580 words) make a string of two bytes a
    character, where the supplementary area's took four: the automaton searched it in
    ~1.3 µs a text against ~1.9.
    """

    FIRST = 0xE000  # the BMP's private use area; no surrogate, space or "|" comes after it
    MOST = 0xFFFE  # lemmas a lexicon may hold, as when the codes began at 0xF0000
    SENTENCE_END = "|"  # in no phrase, so no phrase is found across sentences
    _BLANK = " " + SENTENCE_END  # what a line with no word of any phrase is made of

    def __init__(self, phrases: dict[Key, LexiconEntry]) -> None:
        lemmas = sorted({lemma for phrase in phrases for lemma in phrase} | NEGATIONS)
        if len(lemmas) > self.MOST:
            raise ValueError(f"the lexicon holds {len(lemmas)} different words; at most 65,534")
        self._code = {lemma: chr(self.FIRST + n) for n, lemma in enumerate(lemmas)}
        self._negations = frozenset(self._code[lemma] for lemma in NEGATIONS)
        self._denial = re.compile(f"[{''.join(sorted(self._negations))}]")
        self._entries = list(phrases.values())
        patterns = [self._encode(phrase) for phrase in phrases]
        leftmost_longest = ahocorasick_rs.MatchKind.LeftmostLongest
        self._automaton = ahocorasick_rs.AhoCorasick(patterns, matchkind=leftmost_longest)
        self._words: dict[str, str] = {}

    def _encode(self, lemmas: Iterable[str]) -> str:
        return "".join(self._code.get(lemma, " ") for lemma in lemmas)

    def in_line(self, line: str) -> list[tuple[LexiconEntry, str]]:
        """The entries mentioned in one line, each with its sentence, in order. (The
        caches' lookups of the usual case are written out here, as in `_codes` and
        `endings`: this runs for every story and note of a rebuild, where the two calls
        cost 3 % of it.)"""
        words = line.split()
        if not words:
            return []
        if not single_spaced(line, words):  # simplemma splits it
            return [
                (entry, sentence)
                for sentence in _simplemma_sentences(line)
                for entry, _ in self._found("".join(self._codes(sentence.split())))
            ]
        try:
            codes = list(map(self._words.__getitem__, words))
            ends = "".join(map(_ENDINGS.__getitem__, words))
        except KeyError:  # a word not met before (or a cache was emptied meanwhile)
            codes, ends = self._codes(words), endings(words)
        starts = sentence_starts(words, ends) if "." in ends else [0]
        for start in reversed(starts[1:]):
            codes.insert(start, self.SENTENCE_END)
        text = "".join(codes)
        if len(starts) == 1:
            return [(entry, " ".join(words)) for entry, _ in self._found(text)]
        starts.append(len(words))
        found = []
        for entry, at in self._found(text):
            sentence = text.count(self.SENTENCE_END, 0, at)
            found.append((entry, " ".join(words[starts[sentence] : starts[sentence + 1]])))
        return found

    def _found(self, text: str) -> list[tuple[LexiconEntry, int]]:
        """The entries whose phrases the encoded `text` holds, each with where it starts,
        unless a negation stands shortly before it in its sentence."""
        if not text.strip(self._BLANK):  # no word of any phrase in it
            return []
        matches = self._automaton.find_matches_as_indexes(text)
        if self._denial.search(text) is None:  # most texts deny nothing
            return [(self._entries[phrase], start) for phrase, start, _ in matches]
        found = []
        for phrase, start, _ in matches:
            before = text[max(0, start - NEGATION_WINDOW) : start]
            if self.SENTENCE_END in before:
                before = before[before.rindex(self.SENTENCE_END) + 1 :]
            if self._negations.isdisjoint(before):
                found.append((self._entries[phrase], start))
        return found

    def _codes(self, words: list[str]) -> list[str]:
        """Each word's characters, as `_text_words` reads its lemmas."""
        try:
            return list(map(self._words.__getitem__, words))
        except KeyError:  # a word not met before (or the cache was emptied meanwhile)
            known = self._words
            return [code if (code := known.get(word)) is not None else self._word(word)
                    for word in words]  # fmt: skip

    def _word(self, word: str) -> str:
        plain = word
        if not plain.isascii():  # what NFC changes is never ASCII
            plain = unicodedata.normalize("NFC", plain).replace("\u2019", "'")
        found = self._encode(_chunk_words(plain.lower()))
        _remember(self._words, word, found, CHUNK_CACHE_SIZE)
        return found


def _claim(table: dict[Key, LexiconEntry], key: Key, entry: LexiconEntry) -> None:
    owner = table.setdefault(key, entry) if key else entry
    if owner.label != entry.label:
        raise ValueError(f"{' '.join(key)!r} is in both {owner.label!r} and {entry.label!r}")


def _merge(known: LexiconEntry | None, extra: LexiconEntry) -> LexiconEntry:
    if known is None:
        return extra
    if known.kind != extra.kind:
        raise ValueError(f"{extra.label!r} is a {known.kind}, not a {extra.kind}")
    variants = known.variants + tuple(v for v in extra.variants if v not in known.variants)
    return LexiconEntry(known.label, known.kind, variants, known.not_in_text + extra.not_in_text)


def _read_entries(path: Path) -> list[LexiconEntry]:
    with path.open("rb") as file:
        groups = tomllib.load(file).get("group", [])
    return [_entry_from(group, path) for group in groups]


def _entry_from(group: dict[str, Any], path: Path) -> LexiconEntry:
    label, kind = group.get("label"), group.get("kind")
    if not isinstance(label, str) or not label.strip() or kind not in KINDS:
        raise ValueError(f"{path}: a group needs a label and a kind in {sorted(KINDS)}: {group}")
    lists = [group.get(name, []) for name in ("variants", "not_in_text")]
    if not all(isinstance(v, list) and all(isinstance(s, str) for s in v) for v in lists):
        raise ValueError(f"{path}: variants and not_in_text of {label!r} must be lists of text")
    return LexiconEntry(" ".join(label.lower().split()), kind, tuple(lists[0]), tuple(lists[1]))


@lru_cache(maxsize=1)
def default_lexicon() -> Lexicon:
    """The shipped lexicon, read once per process."""
    return Lexicon.load()


def normalise(text: str, lexicon: Lexicon | None = None) -> str:
    """The key under which a label counts: its group's canonical label, else its lemmas.

    normalise("goed kunnen samenwerken") == "samenwerken"; an unknown label keeps its own
    lemmatised form, e.g. normalise("Ouderen") == "oudere".
    """
    label = (lexicon if lexicon is not None else default_lexicon()).canonical(text)
    return label if label is not None else " ".join(lemma_key(text))
