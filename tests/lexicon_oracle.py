"""The lexicon's matching in free text as it was written before the Aho-Corasick automaton
(`projections.labels._Codes`), kept as the oracle its property tests compare the new
matching with: sentence by sentence as simplemma splits them, word by word in Python,
probing every word that starts a phrase."""

from collections.abc import Iterator

import simplemma

from projections.labels import (
    NEGATION_WINDOW,
    NEGATIONS,
    Key,
    Lexicon,
    LexiconEntry,
    _text_words,
)


def find_in_text(lexicon: Lexicon, text: str) -> list[tuple[LexiconEntry, str]]:
    phrases: dict[Key, LexiconEntry] = lexicon._phrases
    lengths: dict[str, set[int]] = {}
    for phrase in phrases:
        lengths.setdefault(phrase[0], set()).add(len(phrase))
    starts = {word: sorted(found, reverse=True) for word, found in lengths.items()}
    found: list[tuple[LexiconEntry, str]] = []
    for sentence in _sentences(text):
        for entry in _mentions(phrases, starts, _text_words(sentence)):
            if (entry, sentence) not in found:
                found.append((entry, sentence))
    return found


def _sentences(text: str) -> list[str]:
    """simplemma's own sentences of each line, as `projections.labels.split_sentences`
    must give them (its tests check that), so the oracle does not depend on it."""
    lines = text.splitlines()
    return [s for line in lines for s in simplemma.split_sentences(line, lang="nl") if s]


def _mentions(
    phrases: dict[Key, LexiconEntry], starts: dict[str, list[int]], words: Key
) -> Iterator[LexiconEntry]:
    after = 0
    for start in [n for n, word in enumerate(words) if word in starts]:
        if start < after:
            continue
        match = _phrase_at(phrases, starts, words, start)
        if match is None:
            continue
        entry, length = match
        if not NEGATIONS.intersection(words[max(0, start - NEGATION_WINDOW) : start]):
            yield entry
        after = start + length


def _phrase_at(
    phrases: dict[Key, LexiconEntry], starts: dict[str, list[int]], words: Key, start: int
) -> tuple[LexiconEntry, int] | None:
    room = len(words) - start
    for length in starts.get(words[start], ()):
        if length <= room:
            entry = phrases.get(words[start : start + length])
            if entry is not None:
                return entry, length
    return None
