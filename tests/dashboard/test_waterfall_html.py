"""The Timeline's waterfall is HTML built from recorded text (step ids, tools, rules, reasons, results):
fuzzed so that no text, however hostile, becomes markup, and every lane and hover text reads as written."""

from __future__ import annotations

from typing import get_args

from hypothesis import given, settings
from hypothesis import strategies as st

from agent_core import Waterfall, WaterfallRow, WaterfallSpan
from agent_core.waterfall import SpanKind
from tests.dashboard.waterfall_html import parse_waterfall
from ui import charts

TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40) | st.sampled_from(
    ["<script>alert(1)</script>", '"><img src=x onerror=alert(1)>', "</div></div><b>bold</b>", "&amp; &lt;", "'"]
)
OUTCOMES = st.sampled_from(["succeeded", "failed", "rejected", "held", "approved", "denied", "running", "odd"]) | TEXT


@st.composite
def spans(draw: st.DrawFn) -> WaterfallSpan:
    start = draw(st.floats(min_value=0, max_value=1e4, allow_nan=False))
    length = draw(st.floats(min_value=0, max_value=1e4, allow_nan=False))
    return WaterfallSpan(
        kind=draw(st.sampled_from(get_args(SpanKind))),
        start_s=start,
        end_s=start + length,
        outcome=draw(OUTCOMES),
        label=draw(TEXT),
        detail=draw(TEXT),
        open=draw(st.booleans()),
    )


@st.composite
def waterfalls(draw: st.DrawFn) -> Waterfall:
    row = st.builds(WaterfallRow, key=TEXT, tool=TEXT, outcome=OUTCOMES, spans=st.lists(spans(), max_size=4).map(tuple))
    rows = draw(st.lists(row, min_size=1, max_size=6))
    end = max((s.end_s for r in rows for s in r.spans), default=0.0)
    return Waterfall(rows=tuple(rows), end_s=end, live=draw(st.booleans()), current="")


@settings(max_examples=200, deadline=None)
@given(waterfalls(), TEXT)
def test_recorded_text_never_becomes_markup_and_reads_as_written(chart: Waterfall, now_label: str) -> None:
    drawn = parse_waterfall(charts.waterfall_html(chart, chart.rows, now_label=now_label))
    assert drawn.tags <= {"style", "div", "span"}  # only the elements the waterfall itself draws
    assert drawn.lanes == [r.label for r in chart.rows if r.label]  # each lane as written
    spans = [s for r in chart.rows for s in r.spans]
    assert len(drawn.titles) == len(spans)
    for title, (row, span) in zip(drawn.titles, [(r, s) for r in chart.rows for s in r.spans], strict=True):
        assert title.startswith(f"span: {row.key} · {span.label}\nkind: ")  # hover text is the text, unescaped once
    assert all(w > 0 for w in drawn.widths)
    if chart.live and now_label:
        assert now_label in drawn.text
