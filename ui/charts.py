"""The run timeline: one lane per actor, each tool step a span (ToolExecuted -> its outcome),
every other event a marker; colours by outcome, the same as everywhere else (ui.format).

Hover text is escaped: plotly renders a few HTML tags in it, and summaries quote untrusted text.
"""

from __future__ import annotations

import html
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import get_args

import plotly.graph_objects as go

from agent_core import events as ev
from ui.format import OUTCOME_COLOURS, outcome_of
from ui.tables import summarize

ACTORS: tuple[str, ...] = get_args(ev.Actor)
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
MIN_SPAN_FRACTION = 0.006  # so an instant tool call is still a visible bar


def event_outcome(recorded: ev.RecordedEvent) -> str:
    """The colour class of one event."""
    if recorded.problem:
        return "unreadable"
    if isinstance(recorded.event, ev.ObservationCaptured):
        return "ok" if recorded.event.success else "failed"
    return _EVENT_OUTCOME.get(type(recorded.event), "info")


@dataclass(frozen=True, slots=True)
class Span:
    """A tool step from its intent to its outcome, in seconds since the run started."""

    step_id: str
    tool: str
    start_s: float
    end_s: float
    outcome: str
    hover: str


def tool_spans(events: Sequence[ev.RecordedEvent], live: bool) -> list[Span]:
    """Pair each ToolExecuted with the ObservationCaptured (or StepInterrupted) of its step."""
    if not events:
        return []
    t0, last = events[0].at, events[-1].at
    open_steps: dict[str, tuple[float, ev.ToolExecuted]] = {}
    spans: list[Span] = []
    for recorded in events:
        e, t = recorded.event, (recorded.at - t0).total_seconds()
        if isinstance(e, ev.ToolExecuted):
            open_steps[e.step_id] = (t, e)
        elif isinstance(e, ev.ObservationCaptured | ev.StepInterrupted) and e.step_id in open_steps:
            start, intent = open_steps.pop(e.step_id)
            outcome = event_outcome(recorded)
            spans.append(Span(e.step_id, intent.tool, start, t, outcome, summarize(recorded)))
    end = (last - t0).total_seconds()
    for step_id, (start, intent) in open_steps.items():
        outcome = "running" if live else "interrupted"
        spans.append(Span(step_id, intent.tool, start, end, outcome, f"{step_id} {intent.tool} {outcome}"))
    return spans


def _escape(text: str) -> str:
    return html.escape(text, quote=False)


def _marker_hover(recorded: ev.RecordedEvent, t0: datetime) -> str:
    return f"#{recorded.seq} {recorded.type} (+{(recorded.at - t0).total_seconds():.2f} s): {summarize(recorded)}"


def timeline_figure(events: Sequence[ev.RecordedEvent], live: bool = False) -> go.Figure:
    """The Gantt-style chart of one run; empty figure for no events."""
    figure = go.Figure()
    if not events:
        return figure
    t0 = events[0].at
    total = max((events[-1].at - t0).total_seconds(), 1e-3)
    lanes = list(ACTORS) + sorted({e.actor for e in events} - set(ACTORS))

    # An invisible point per lane keeps every actor's lane on the chart, even before it acts.
    figure.add_trace(
        go.Scatter(
            x=[0] * len(lanes), y=lanes, mode="markers", marker={"opacity": 0}, hoverinfo="skip", showlegend=False
        )
    )
    bars: dict[str, list[Span]] = defaultdict(list)
    for span in tool_spans(events, live):
        bars[span.outcome].append(span)
    for outcome, spans in bars.items():
        figure.add_trace(
            go.Bar(
                orientation="h",
                y=["tool_executor"] * len(spans),
                base=[s.start_s for s in spans],
                x=[max(s.end_s - s.start_s, total * MIN_SPAN_FRACTION) for s in spans],
                width=0.5,
                marker={"color": OUTCOME_COLOURS[outcome], "opacity": 0.55},
                hovertext=[_escape(f"{s.step_id} {s.tool}: {s.end_s - s.start_s:.2f} s — {s.hover}") for s in spans],
                hoverinfo="text",
                name=LEGEND[outcome],
                legendgroup=outcome,
                showlegend=False,
            )
        )

    points: dict[str, list[ev.RecordedEvent]] = defaultdict(list)
    for recorded in events:
        points[event_outcome(recorded)].append(recorded)
    for outcome in LEGEND:
        group = points.get(outcome)
        if not group:
            continue
        figure.add_trace(
            go.Scatter(
                x=[(e.at - t0).total_seconds() for e in group],
                y=[e.actor for e in group],
                mode="markers",
                marker={
                    "color": OUTCOME_COLOURS[outcome],
                    "size": 11,
                    "symbol": "x" if outcome == "unreadable" else "circle",
                    "line": {"width": 1, "color": "white"},
                },
                hovertext=[_escape(_marker_hover(e, t0)) for e in group],
                hoverinfo="text",
                name=LEGEND[outcome],
                legendgroup=outcome,
            )
        )

    figure.update_layout(
        barmode="overlay",
        height=90 + 44 * len(lanes),
        margin={"l": 10, "r": 10, "t": 30, "b": 40},
        legend={"orientation": "h", "y": 1.02, "yanchor": "bottom", "x": 0},
        xaxis={"title": "seconds since the run started", "range": [-0.02 * total, 1.03 * total], "zeroline": False},
        yaxis={"categoryorder": "array", "categoryarray": list(reversed(lanes)), "title": None},
        hoverlabel={"align": "left"},
    )
    return figure
