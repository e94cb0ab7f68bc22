"""The run's step waterfall (rows from ``agent_core.step_waterfall``), drawn with plotly; colours by
outcome, the same as everywhere else (ui.format).

Hover text is escaped: plotly renders a few HTML tags in it, and summaries quote untrusted text.
"""

from __future__ import annotations

import html
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import plotly.graph_objects as go

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


def _escape(text: str) -> str:
    return html.escape(text, quote=False)


# How each kind of span looks: decisions thin and pale, a person's wait hatched, tools solid.
_KIND_STYLE: dict[str, dict[str, Any]] = {
    "llm": {"width": 0.6, "opacity": 0.9, "pattern": ""},
    "decision": {"width": 0.3, "opacity": 0.45, "pattern": ""},
    "waiting": {"width": 0.6, "opacity": 0.8, "pattern": "/"},
    "tool": {"width": 0.6, "opacity": 0.9, "pattern": ""},
    "answer": {"width": 0.6, "opacity": 0.9, "pattern": ""},
}
KIND_LEGEND = {
    "llm": "planner (LLM)",
    "decision": "policy decision",
    "waiting": "waiting for a person",
    "tool": "tool",
    "answer": "final answer",
}


def _span_hover(row: WaterfallRow, span: WaterfallSpan) -> str:
    lines = [f"{row.key} · {span.label}", f"{KIND_LEGEND[span.kind]} · {human_duration(span.duration_s)}"]
    if span.open:
        lines.append(f"in progress: waiting on {span.waits_on}")
    lines.extend(span.detail.splitlines())
    return "<br>".join(_escape(line[:200]) for line in lines)


def waterfall_figure(chart: Waterfall, rows: Sequence[WaterfallRow], now_label: str = "") -> go.Figure:
    """The step waterfall: one bar row per given row (top to bottom in order), spans coloured by outcome.

    Instant spans get a minimum width so a decision is still a visible tick; open spans end at the
    waterfall's ``end_s`` (now, on a live run) and are labelled with what they wait on.
    """
    figure = go.Figure()
    if not rows:
        return figure
    total = max(chart.end_s, 1e-3)
    labels = [_escape(r.label) for r in rows]
    groups: dict[tuple[str, str], list[tuple[str, WaterfallRow, WaterfallSpan]]] = defaultdict(list)
    for label, row in zip(labels, rows, strict=True):
        for span in row.spans:
            groups[(span.kind, outcome_of(span.outcome))].append((label, row, span))
    # An invisible point per row keeps empty (pending) rows on the chart in plan order.
    figure.add_trace(
        go.Scatter(
            x=[0] * len(labels), y=labels, mode="markers", marker={"opacity": 0}, hoverinfo="skip", showlegend=False
        )
    )
    for (kind, outcome), members in groups.items():
        style = _KIND_STYLE[kind]
        figure.add_trace(
            go.Bar(
                orientation="h",
                y=[label for label, _, _ in members],
                base=[s.start_s for _, _, s in members],
                x=[max(s.duration_s, total * MIN_SPAN_FRACTION) for _, _, s in members],
                width=style["width"],
                marker={
                    "color": OUTCOME_COLOURS[outcome],
                    "opacity": style["opacity"],
                    "pattern": {"shape": style["pattern"]},
                    "line": {"width": 0},
                },
                text=[_escape(s.label if not s.open else f"{s.label} · waiting on {s.waits_on}") for _, _, s in members]
                if kind != "decision"
                else None,
                textposition="outside" if kind != "decision" else None,
                cliponaxis=False,
                hovertext=[_span_hover(row, s) for _, row, s in members],
                hoverinfo="text",
                name=f"{KIND_LEGEND[kind]}: {LEGEND[outcome]}",
                showlegend=False,
            )
        )
    if chart.live:
        figure.add_vline(x=chart.end_s, line={"color": OUTCOME_COLOURS["running"], "dash": "dot", "width": 1})
        if now_label:
            figure.add_annotation(
                x=chart.end_s, y=1.0, yref="paper", text=_escape(now_label), showarrow=False, yanchor="bottom"
            )
    figure.update_layout(
        barmode="overlay",
        height=110 + 30 * len(rows),
        margin={"l": 10, "r": 10, "t": 30, "b": 40},
        xaxis={"title": "seconds since the run started", "range": [-0.01 * total, 1.25 * total], "zeroline": False},
        yaxis={"categoryorder": "array", "categoryarray": list(reversed(labels)), "title": None, "automargin": True},
        hoverlabel={"align": "left"},
        uniformtext={"minsize": 9, "mode": "show"},
    )
    return figure
