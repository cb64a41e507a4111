"""English left on a page meant to be Spanish: the words of our own sentences that Spanish never uses.

Publishers' data (names, services, addresses) is shown as published, so a test passes the page's
visible text with that data removed, or uses the words below, which no realistic data carries."""

from __future__ import annotations

import re

# Function words and our pages' own vocabulary; none is a Spanish word.
ENGLISH_WORDS = frozenset(
    [
        "the",
        "your",
        "you",
        "please",
        "this",
        "that",
        "we",
        "our",
        "is",
        "are",
        "was",
        "will",
        "not",
        "for",
        "from",
        "when",
        "before",
        "after",
        "here",
        "with",
        "open",
        "times",
        "time",
        "book",
        "booking",
        "booked",
        "search",
        "find",
        "try",
        "again",
        "back",
        "next",
        "previous",
        "cancel",
        "cancelled",
        "appointment",
        "appointments",
        "minutes",
        "miles",
        "near",
        "within",
        "available",
        "longer",
        "sorry",
    ]
)
_WORD = re.compile(r"[A-Za-z]+")
# Links and paths are not prose: a random token in one can spell a word ("...R15we6...").
_LINK = re.compile(r"\S*[/=]\S*")


def english_words(text: str) -> set[str]:
    """The English words of `text` (case-insensitive), links and paths left out."""
    return {word.lower() for word in _WORD.findall(_LINK.sub(" ", text))} & ENGLISH_WORDS
