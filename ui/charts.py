"""Vega-Lite specs: the run's step waterfall (rows from ``agent_core.step_waterfall``) and the overview's
bar charts; colours by outcome, the same as everywhere else (ui.format).

Specs are written here and drawn with ``st.vega_lite_chart`` rather than ``st.bar_chart``: Streamlit's
chart helpers build each chart with Altair, which validates it against Vega-Lite's JSON schema, about
40 ms of script per chart here (the Runs page's four charts were 190 of its 280 ms: bench/README).

Hover text is plain text: Vega's tooltips show values as text, never as markup, so summaries
quoting untrusted text cannot inject any.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from agent_core import Waterfall, WaterfallRow, WaterfallSpan
from agent_core import events as ev
from ui.format import OUTCOME_COLOURS, human_duration, outcome_of

LEGEND = {
    "ok": "ok / approved",
    "rejected": "rejected / denied",
    "failed": "failed",
    "waiting": "held for approval",
    "running": "running",
    "interrupted": "interrupted / cancelled",
    "info": "other",
    "unreadable": "unreadable event",
}
# A decision event is coloured like the decision it records; a few others have a colour of their own.
_EVENT_OUTCOME: dict[type[ev.DomainEvent], str] = {
    **{ev.EVENT_TYPES[name]: outcome_of(decides.word) for name, decides in ev.DECISIONS.items()},
    ev.PlanGenerated: "ok",
    ev.RunCompleted: "ok",
    ev.PlanRejected: "rejected",
    ev.RunFailed: "failed",
    ev.BudgetExceeded: "failed",
    ev.StepInterrupted: "interrupted",
    ev.RunCancelled: "interrupted",
}
MIN_SPAN_FRACTION = 0.004  # so an instant decision is still a visible tick


def event_outcome(recorded: ev.RecordedEvent) -> str:
    """The colour class of one event."""
    if recorded.problem:
        return "unreadable"
    if isinstance(recorded.event, ev.ObservationCaptured):
        return "ok" if recorded.event.success else "failed"
    return _EVENT_OUTCOME.get(type(recorded.event), "info")


# How each kind of span looks: decisions thin and pale, a person's wait pale with a dashed outline, tools solid.
_KIND_STYLE: dict[str, dict[str, Any]] = {
    "llm": {"opacity": 0.9, "outline": 0, "dash": [1, 0]},
    "decision": {"opacity": 0.45, "outline": 0, "dash": [1, 0]},
    "waiting": {"opacity": 0.3, "outline": 1.5, "dash": [5, 3]},
    "tool": {"opacity": 0.9, "outline": 0, "dash": [1, 0]},
    "answer": {"opacity": 0.9, "outline": 0, "dash": [1, 0]},
}
KIND_LEGEND = {
    "llm": "planner (LLM)",
    "decision": "policy decision",
    "waiting": "waiting for a person",
    "tool": "tool",
    "answer": "final answer",
}
ROW_PX = 30  # one lane's height
LABEL_GREY = "#8b8f99"  # span labels: readable on the light and the dark theme alike (the viewer picks)


def _span_record(label: str, row: WaterfallRow, span: WaterfallSpan, total: float) -> dict[str, Any]:
    """One bar: where it sits, how it looks, its label and what hovering it shows (plain text)."""
    style = _KIND_STYLE[span.kind]
    text = span.label if not span.open else f"{span.label} · waiting on {span.waits_on}"
    what, kind = f"{row.key} · {span.label}", KIND_LEGEND[span.kind]
    took = human_duration(span.duration_s) + (f" so far, waiting on {span.waits_on}" if span.open else "")
    detail = " · ".join(line[:200] for line in span.detail.splitlines())
    return {
        "row": label,
        "start": span.start_s,
        "end": span.start_s + max(span.duration_s, total * MIN_SPAN_FRACTION),
        "outcome": outcome_of(span.outcome),
        **style,
        "text": "" if span.kind == "decision" else text,
        "what": what,
        "kind_label": kind,
        "took": took,
        "detail": detail,
        "spoken": f"{what}, {kind}, {took}. {detail}",
    }


def waterfall_spec(chart: Waterfall, rows: Sequence[WaterfallRow], now_label: str = "") -> dict[str, Any]:
    """The step waterfall as a Vega-Lite spec: one lane per given row (top to bottom in order), spans
    coloured by outcome; drag or scroll on the chart to zoom into time, double-click to reset.

    Instant spans get a minimum width so a decision is still a visible tick; open spans end at the
    waterfall's ``end_s`` (now, on a live run) and are labelled with what they wait on. Vega-Lite
    (Streamlit's built-in charts) rather than plotly: loading plotly's 4.7 MB script was most of
    the time the Timeline took to show in a browser (2.2 s -> 1.6 s without it: bench/README).
    """
    total = max(chart.end_s, 1e-3)
    labels = [r.label for r in rows]
    records = [_span_record(r.label, r, span, total) for r in rows for span in r.spans]
    lane = {
        "field": "row",
        "type": "nominal",
        "sort": labels,
        "scale": {"domain": labels},  # rows without a span yet (pending steps) keep their lane
        "axis": {"title": None, "labelLimit": 320},
    }
    time = {
        "field": "start",
        "type": "quantitative",
        "title": "seconds since the run started",
        "scale": {"domain": [-0.01 * total, 1.25 * total], "zero": False, "nice": False},
    }
    colour = {
        "field": "outcome",
        "type": "nominal",
        "scale": {"domain": list(OUTCOME_COLOURS), "range": list(OUTCOME_COLOURS.values())},
        "legend": None,
    }
    bars: dict[str, Any] = {
        "mark": {"type": "bar", "cornerRadius": 2},
        "params": [{"name": "zoom", "select": {"type": "interval", "encodings": ["x"]}, "bind": "scales"}],
        "encoding": {
            "y": lane,
            "x": time,
            "x2": {"field": "end"},
            "color": colour,
            "stroke": colour,
            # Each bar carries its own look (see _KIND_STYLE); scale None takes the values as they are.
            "fillOpacity": {"field": "opacity", "type": "quantitative", "scale": None},
            "strokeWidth": {"field": "outline", "type": "quantitative", "scale": None},
            "strokeDash": {"field": "dash", "type": "nominal", "scale": None},
            "description": {"field": "spoken"},  # what a screen reader says for the bar
            "tooltip": [
                {"field": "what", "title": "span"},
                {"field": "kind_label", "title": "kind"},
                {"field": "took", "title": "duration"},
                {"field": "detail", "title": "detail"},
            ],
        },
    }
    labels_layer = {
        "mark": {"type": "text", "align": "left", "dx": 4, "fontSize": 11, "color": LABEL_GREY},
        "transform": [{"filter": "datum.text != ''"}],
        "encoding": {"y": lane, "x": {"field": "end", "type": "quantitative"}, "text": {"field": "text"}},
    }
    layers: list[dict[str, Any]] = [bars, labels_layer]
    if chart.live:
        now = {"data": {"values": [{"now": chart.end_s, "label": now_label}]}}
        layers.append(
            {
                **now,
                "mark": {"type": "rule", "strokeDash": [2, 2], "color": OUTCOME_COLOURS["running"]},
                "encoding": {"x": {"field": "now", "type": "quantitative"}},
            }
        )
        if now_label:
            layers.append(
                {
                    **now,
                    "mark": {
                        "type": "text",
                        "y": 0,
                        "baseline": "top",
                        "align": "left",
                        "dx": 3,
                        "color": OUTCOME_COLOURS["running"],
                    },
                    "encoding": {"x": {"field": "now", "type": "quantitative"}, "text": {"field": "label"}},
                }
            )
    return {
        # SVG, not canvas: the lane and span labels are text in the page (found, read aloud, copied).
        "usermeta": {"embedOptions": {"renderer": "svg"}},
        "data": {"values": records},
        "height": {"step": ROW_PX},
        "layer": layers,
    }


def bars_spec(
    frame: pd.DataFrame,
    colours: Sequence[str],
    *,
    value_title: str,
    stack: bool = True,
    horizontal: bool = False,
    height: int = 240,
) -> dict[str, Any]:
    """Bars from a wide frame: one bar group per index label (in the frame's order), one series per column
    (stacked, or side by side when ``stack`` is false) in ``colours``; hover shows the label, series and value."""
    category = str(frame.index.name or "category")
    labels = [str(label) for label in frame.index]
    series = [str(column) for column in frame.columns]
    records = [
        {category: label, "series": name, "value": float(value)}
        for label, row in zip(labels, frame.itertuples(index=False), strict=True)
        for name, value in zip(series, row, strict=True)
        if pd.notna(value)
    ]
    where = {"field": category, "type": "nominal", "sort": labels, "axis": {"title": None, "labelLimit": 240}}
    amount = {"field": "value", "type": "quantitative", "title": value_title, "stack": "zero" if stack else None}
    across, along = ("y", "x") if horizontal else ("x", "y")
    encoding: dict[str, Any] = {
        across: where,
        along: amount,
        "color": {
            "field": "series",
            "type": "nominal",
            "sort": series,
            "scale": {"domain": series, "range": list(colours)},
            "legend": {"title": None, "orient": "bottom"},
        },
        "tooltip": [
            {"field": category, "type": "nominal"},
            {"field": "series", "type": "nominal", "title": " "},
            {"field": "value", "type": "quantitative", "title": value_title, "format": ",.4~f"},
        ],
    }
    if not stack:
        encoding[f"{across}Offset"] = {"field": "series", "sort": series}
    return {"data": {"values": records}, "mark": {"type": "bar"}, "height": height, "encoding": encoding}
