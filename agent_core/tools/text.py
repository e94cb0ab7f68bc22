"""Words for ranking: the tokenizer search and the extractive summary share."""

from __future__ import annotations

import re

_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "but",
        "by",
        "for",
        "if",
        "in",
        "into",
        "is",
        "it",
        "no",
        "not",
        "of",
        "on",
        "or",
        "such",
        "that",
        "the",
        "their",
        "then",
        "there",
        "these",
        "they",
        "this",
        "to",
        "was",
        "will",
        "with",
    ]
)  # the usual English list (as in bm25s); kept here so summaries don't import numpy
STOPWORDS = _STOPWORDS
"""Words too common to rank by: summaries and the search query leave them out."""


def _stem(word: str) -> str:
    """A deliberately tiny plural stemmer: 'replays' finds 'replay' without a stemming dependency."""
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def tokens(text: str) -> list[str]:
    """Lower-case content words, stop words dropped, plurals folded: the terms BM25 and the summary score."""
    return [_stem(w) for w in _WORD.findall(text.lower()) if w not in _STOPWORDS]
