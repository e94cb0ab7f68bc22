"""The offline summary quotes whole sentences only: no source labels, no headings, no words cut in half.

Search results arrive as ``Title (file): Heading — snippet`` with the snippet cut at 300 characters;
v1 quoted all of that ("... borrowing ideas from workflow e"). The properties hold for any text.
"""

from __future__ import annotations

import re

from hypothesis import example, given, settings
from hypothesis import strategies as st

from agent_core.tools.summarize import EXTRACTIVE_BACKEND, extractive_summary

SEARCH_OUTPUT = (
    "AI agent frameworks: the landscape (agent-frameworks.md): Developments worth watching — The latest "
    "developments across these frameworks point the same way. Durable execution comes first: frameworks persist "
    "every step, borrowing ideas from workflow e\n\n"
    "Event sourcing for agent runs (event-sourcing.md): Why it suits AI agents — Agents are non-deterministic. "
    "If every decision is an event, the run can be read li\n\n"
    "notes.txt (notes.txt): Reading list - Event sourcing and upcasting: how long-lived logs survive schema "
    "changes. - Human-in-the-loop approval patterns in agent frameworks."
)


def test_search_results_are_summarized_in_whole_sentences_without_labels_or_headings() -> None:
    summary = extractive_summary(SEARCH_OUTPUT, 250)
    assert summary == (
        "The latest developments across these frameworks point the same way. Agents are non-deterministic. "
        "Event sourcing and upcasting: how long-lived logs survive schema changes. "
        "Human-in-the-loop approval patterns in agent frameworks."
    )
    for cut in ("workflow e", "read li", "(agent-frameworks.md)", "Developments worth watching —", "Reading list"):
        assert cut not in summary
    assert EXTRACTIVE_BACKEND == "extractive-v2"  # what results record: v1 runs keep "extractive"


def test_text_without_a_whole_sentence_gives_its_first_words_marked_as_cut() -> None:
    assert extractive_summary("Title (a.md): Heading — one two three four five six", 3) == "one two three…"


def _words(text: str) -> str:
    return " ".join(text.split())


@settings(max_examples=300, deadline=None)
@given(
    text=st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=600),
    max_words=st.integers(10, 60),
)
@example(text=SEARCH_OUTPUT, max_words=10)
@example(text="a. b. c.\n\n# H\n- x y z w.\n", max_words=10)
def test_any_text_gives_a_bounded_deterministic_extract_of_its_own_sentences(text: str, max_words: int) -> None:
    summary = extractive_summary(text, max_words)
    assert summary == extractive_summary(text, max_words)
    if summary.endswith("…"):  # no whole sentence: the first words, cut
        assert len(summary.split()) <= max_words
        return
    assert len(summary.split()) <= max_words
    flat = _words(text)
    for sentence in re.split(r"(?<=[.!?…])[\"'”’)\]]*\s+", summary):
        if sentence:
            assert _words(sentence).rstrip("\"'”’)]") in flat or _words(sentence) in flat
