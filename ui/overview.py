"""Overview charts: runs per day by status, cost per day, p50/p95 duration, decisions by rule.

The figures come from ``Workbench.overview`` (the runs and decisions indexes, aggregated by the
database); this module only draws them, in the shared outcome colours.
"""

from __future__ import annotations

from datetime import date

import plotly.graph_objects as go
import streamlit as st

from agent_core import DECISION_OUTCOMES, RunOverview, Workbench
from ui.format import OUTCOME_COLOURS, colour, human_duration, money, outcome_of, status_label

STATUS_ORDER = ("completed", "failed", "cancelled", "waiting_approval", "running")
_LAYOUT = {
    "margin": {"l": 10, "r": 10, "t": 36, "b": 10},
    "legend": {"orientation": "h", "y": -0.2},
    "height": 260,
    "xaxis": {"type": "category"},  # one bar per day that had runs, labelled by date (no clock times)
    "yaxis": {"rangemode": "tozero"},
}


def _label(day: date) -> str:
    return day.strftime("%b %d")


def runs_per_day_figure(overview: RunOverview) -> go.Figure:
    """Stacked bars: runs started per day, by how they stand now."""
    figure = go.Figure()
    days = [_label(d.day) for d in overview.days]
    statuses = [s for s in STATUS_ORDER if any(s in d.by_status for d in overview.days)]
    statuses += sorted({s for d in overview.days for s in d.by_status} - set(statuses))
    for status in statuses:
        figure.add_bar(
            x=days,
            y=[d.by_status.get(status, 0) for d in overview.days],
            name=status_label(status),
            marker_color=colour(status),
            hovertemplate="%{x}: %{y} " + status_label(status) + "<extra></extra>",
        )
    figure.update_layout(barmode="stack", title={"text": "Runs per day by status", "font": {"size": 14}}, **_LAYOUT)
    return figure


def cost_per_day_figure(overview: RunOverview) -> go.Figure:
    """Bars: what the runs started each day cost (USD)."""
    figure = go.Figure()
    figure.add_bar(
        x=[_label(d.day) for d in overview.days],
        y=[d.cost_usd for d in overview.days],
        marker_color=OUTCOME_COLOURS["running"],
        hovertemplate="%{x}: $%{y:.4f}<extra></extra>",
        name="cost",
    )
    figure.update_layout(title={"text": "Cost per day (USD)", "font": {"size": 14}}, showlegend=False, **_LAYOUT)
    figure.update_yaxes(tickprefix="$", rangemode="tozero")
    return figure


def duration_figure(overview: RunOverview) -> go.Figure:
    """Lines: the median and 95th percentile duration of the runs that ended, per start day."""
    figure = go.Figure()
    days = [d for d in overview.days if d.p50_s is not None]
    for name, values, dash in (
        ("p50", [d.p50_s for d in days], "solid"),
        ("p95", [d.p95_s for d in days], "dot"),
    ):
        figure.add_scatter(
            x=[_label(d.day) for d in days],
            y=values,
            name=name,
            mode="lines+markers",
            line={"dash": dash, "color": OUTCOME_COLOURS["ok"]},
            hovertemplate="%{x} " + name + ": %{y:.2f} s<extra></extra>",
        )
    figure.update_layout(title={"text": "Duration of ended runs (s)", "font": {"size": 14}}, **_LAYOUT)
    return figure


def decisions_by_rule_figure(counts: dict[tuple[str, str], int], title: str = "Decisions by rule") -> go.Figure:
    """Horizontal bars per rule, stacked by outcome in the shared outcome colours."""
    total = {rule: sum(n for (r, _), n in counts.items() if r == rule) for rule, _ in counts}
    rules = sorted(total, key=lambda r: (-total[r], r))
    figure = go.Figure()
    for name in DECISION_OUTCOMES:
        if any(outcome == name for _, outcome in counts):
            figure.add_bar(
                y=rules,
                x=[counts.get((rule, name), 0) for rule in rules],
                name=name,
                orientation="h",
                marker_color=OUTCOME_COLOURS[outcome_of(name)],
                hovertemplate="%{y}: %{x} " + name + "<extra></extra>",
            )
    figure.update_layout(
        barmode="stack",
        height=max(220, 60 + 28 * len(rules)),
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        title={"text": title, "font": {"size": 14}},
        yaxis={"autorange": "reversed"},
        legend={"orientation": "h", "y": -0.15},
    )
    return figure


def render_overview(workbench: Workbench, days: int = 30) -> None:
    """The overview block of the Runs page: four charts over the last ``days`` days."""
    overview = workbench.overview(days)
    with st.expander(f"Overview of the last {days} days", expanded=True):
        if not overview.days:
            st.caption(f"No run started in the last {days} days.")
            return
        p50 = human_duration(overview.p50_s) if overview.p50_s is not None else "—"
        p95 = human_duration(overview.p95_s) if overview.p95_s is not None else "—"
        st.caption(
            f"{overview.runs:,} runs started · {money(overview.cost_usd)} · duration p50 {p50}, p95 {p95} "
            "(from the runs and decisions indexes)"
        )
        left, right = st.columns(2)
        config = {"displaylogo": False}
        left.plotly_chart(runs_per_day_figure(overview), config=config, key="overview_runs")
        right.plotly_chart(cost_per_day_figure(overview), config=config, key="overview_cost")
        left.plotly_chart(duration_figure(overview), config=config, key="overview_duration")
        if overview.decisions_by_rule:
            right.plotly_chart(
                decisions_by_rule_figure(overview.decisions_by_rule), config=config, key="overview_rules"
            )
        else:
            right.caption("No policy decision in this window.")
