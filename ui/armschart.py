"""The arms of a comparison on one chart: each arm's cost against its latency, coloured by verdict.

plotly, for its hover and zoom on a handful of points; it is drawn only on the Replay page after
an arms comparison, so no page a person opens all day loads plotly's 4.7 MB script. Hover text
is escaped: plotly renders a few HTML tags in it, and an arm's name is typed by a person.
"""

from __future__ import annotations

import html

import plotly.graph_objects as go

from agent_core import ArmResult, ArmsReport
from ui.diffview import VERDICT_OUTCOME
from ui.format import OUTCOME_COLOURS


def _hover(result: ArmResult) -> str:
    """An arm's figures, one per line, escaped."""
    d = result.diff
    lines = [
        result.arm,
        f"verdict: {d.verdict}",
        f"cost: ${d.cost_usd[1]:.4f} (original ${d.cost_usd[0]:.4f})",
        f"latency: {result.latency_ms:,.0f} ms · tokens: {d.tokens[1]:,}",
        f"steps ok: {d.steps_ok[1]} (original {d.steps_ok[0]})",
    ]
    if result.score is not None:
        lines.append(f"score: {result.score:g} ({result.judged_by})")
    return "<br>".join(html.escape(line, quote=False) for line in lines)


def arms_figure(report: ArmsReport) -> go.Figure:
    """One point per arm: latency across, cost up; the cheapest and fastest arm sits bottom left."""
    results = report.results
    figure = go.Figure()
    for verdict in sorted({r.diff.verdict for r in results}):
        members = [r for r in results if r.diff.verdict == verdict]
        figure.add_trace(
            go.Scatter(
                x=[r.latency_ms for r in members],
                y=[r.diff.cost_usd[1] for r in members],
                mode="markers+text",
                text=[html.escape(r.arm, quote=False) for r in members],
                textposition="top center",
                hovertext=[_hover(r) for r in members],
                hoverinfo="text",
                marker={"size": 12, "color": OUTCOME_COLOURS[VERDICT_OUTCOME.get(verdict, "info")]},
                name=verdict,
            )
        )
    figure.update_layout(
        height=320,
        margin={"l": 10, "r": 10, "t": 30, "b": 40},
        xaxis={"title": "latency (ms)", "rangemode": "tozero"},
        yaxis={"title": "cost (USD)", "rangemode": "tozero", "tickformat": "$.4f"},
        legend={"title": "verdict", "orientation": "h", "y": 1.12},
        hoverlabel={"align": "left"},
    )
    return figure
