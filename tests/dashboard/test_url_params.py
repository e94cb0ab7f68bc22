"""The address-bar parsers (ui.params): any text in, a view and plain messages out, never an exception."""

from __future__ import annotations

from datetime import date

from hypothesis import example, given, settings
from hypothesis import strategies as st

from ui import params

ANY_TEXT = st.text(st.characters(codec=None), max_size=300)  # surrogates, controls, RTL marks, …
KEYS = st.sampled_from(["status", "q", "from", "to", "show", "sort", "page", "run_id", "event", "a", "b", "x"])


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(KEYS, ANY_TEXT, max_size=8))
@example({"page": "9" * 5000, "status": "," * 1000})
@example({"from": "2026-02-30", "to": "0001-01-01", "q": "\u202e\x00"})
def test_any_query_gives_a_valid_view_and_one_line_messages(query: dict[str, str]) -> None:
    for view in (params.runs_view(query), params.timeline_view(query), params.compare_view(query)):
        for problem in view.problems:
            assert "\n" not in problem and len(problem) < 400
            assert all(c.isprintable() for c in problem)
    runs = params.runs_view(query)
    assert set(runs.statuses) <= set(params.RUN_STATUSES) and runs.lineage in params.LINEAGES
    assert runs.sort in params.SORTS and 1 <= runs.page <= params.MAX_PAGE
    assert len(runs.text) <= params.TEXT_MAX_CHARS
    assert not (runs.first_day and runs.last_day and runs.last_day < runs.first_day)
    # what a view writes back reads as the same view: a copied link reopens it
    assert params.runs_view(runs.params()) == runs and not params.runs_view(runs.params()).problems
    timeline = params.timeline_view(query)
    assert params.timeline_view(timeline.params()) == timeline
    compare = params.compare_view(query)
    assert params.compare_view(compare.params()) == compare


@given(
    st.lists(st.sampled_from(params.RUN_STATUSES), unique=True),
    st.text(st.characters(categories=["L", "N", "Zs", "P"]), max_size=params.TEXT_MAX_CHARS).map(str.strip),
    st.none() | st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 1, 1)),
    st.sampled_from(params.LINEAGES),
    st.sampled_from(params.SORTS),
    st.integers(1, params.MAX_PAGE),
)
def test_every_valid_view_round_trips_through_the_address(statuses, text, day, lineage, sort, page) -> None:  # type: ignore[no-untyped-def]
    view = params.RunsView(tuple(statuses), text, day, day, lineage, sort, page)
    assert params.runs_view(view.params()) == view


def test_run_ids_allow_hex_prefixes_and_bench_names_only() -> None:
    assert params.run_id("3f2a91c0")[0] == "3f2a91c0"
    assert params.run_id("long-000")[0] == "long-000"
    assert params.run_id("../etc/passwd") == (
        "",
        ["Ignored run_id='../etc/passwd': a run id is letters, digits and _ . : - (at most 100)."],
    )
