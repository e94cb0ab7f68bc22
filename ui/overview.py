"""Overview charts: runs per day by status, cost per day, p50/p95 duration, decisions by rule.

The figures come from ``Workbench.overview`` (the runs and decisions indexes, aggregated by the
database); this module shapes them into tables and draws them in the shared outcome colours.

Bar charts are Vega-Lite specs (``ui.charts.bars_spec``), not plotly: the Runs and Policy pages
are where a person clicks all day, and plotly's script (4.7 MB) held the browser's main thread for
about half a second on every load of a page that drew one (bench/README). The Timeline's waterfall
is HTML (``ui.charts.waterfall_html``); plotly draws only the Replay page's arms chart.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

import pandas as pd
import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from agent_core import DECISION_OUTCOMES, RunOverview, Workbench
from ui import charts
from ui.format import OUTCOME_COLOURS, colour, human_duration, money, outcome_of, status_label

STATUS_ORDER = ("completed", "failed", "cancelled", "waiting_approval", "running")
CHART_HEIGHT = 240


def _days(days: list[date]) -> pd.Index:
    """Day labels; the charts keep the frame's (chronological) order."""
    return pd.Index([d.strftime("%b %d") for d in days], name="day")


def runs_per_day(overview: RunOverview) -> tuple[pd.DataFrame, list[str]]:
    """Runs started per day (rows), one column per status as it stands now (STATUS_ORDER), and
    the columns' colours."""
    statuses = [s for s in STATUS_ORDER if any(s in d.by_status for d in overview.days)]
    statuses += sorted({s for d in overview.days for s in d.by_status} - set(statuses))
    frame = pd.DataFrame(
        {status_label(s): [d.by_status.get(s, 0) for d in overview.days] for s in statuses},
        index=_days([d.day for d in overview.days]),
    )
    return frame, [colour(s) for s in statuses]


def cost_per_day(overview: RunOverview) -> pd.DataFrame:
    """What the runs started each day cost, in USD."""
    return pd.DataFrame(
        {"cost (USD)": [d.cost_usd for d in overview.days]},
        index=_days([d.day for d in overview.days]),
    )


def duration_per_day(overview: RunOverview) -> pd.DataFrame:
    """The median and 95th percentile duration (seconds) of the runs that ended, per start day."""
    days = [d for d in overview.days if d.p50_s is not None]
    return pd.DataFrame(
        {"p50 (s)": [d.p50_s for d in days], "p95 (s)": [d.p95_s for d in days]},
        index=_days([d.day for d in days]),
    )


def decisions_by_rule(counts: Mapping[tuple[str, str], int]) -> tuple[pd.DataFrame, list[str]]:
    """Decisions per rule (rows, most decisions first), one column per outcome (DECISION_OUTCOMES order), and
    the columns' colours."""
    total = {rule: sum(n for (r, _), n in counts.items() if r == rule) for rule, _ in counts}
    rules = sorted(total, key=lambda r: (-total[r], r))
    outcomes = [name for name in DECISION_OUTCOMES if any(outcome == name for _, outcome in counts)]
    frame = pd.DataFrame(
        {name: [counts.get((rule, name), 0) for rule in rules] for name in outcomes},
        index=pd.Index(rules, name="rule"),
    )
    return frame, [OUTCOME_COLOURS[outcome_of(name)] for name in outcomes]


def draw_bars(where: DeltaGenerator, title: str, frame: pd.DataFrame, colours: list[str], **spec: Any) -> None:
    """A captioned bar chart (``ui.charts.bars_spec``) as wide as its column."""
    where.caption(title)
    where.vega_lite_chart(charts.bars_spec(frame, colours, **spec), width="stretch")


def draw_decisions_by_rule(where: DeltaGenerator, counts: Mapping[tuple[str, str], int], title: str) -> None:
    """Horizontal bars per rule (most decisions first), stacked by outcome in the shared outcome colours."""
    frame, colours = decisions_by_rule(counts)
    height = max(CHART_HEIGHT, 60 + 28 * len(frame))
    draw_bars(where, title, frame, colours, value_title="decisions", horizontal=True, height=height)


OVERVIEW_KEY = "runs_overview"


def render_overview(workbench: Workbench, days: int = 30) -> None:
    """The overview block of the Runs page: four charts over the last ``days`` days, in an expander that
    is drawn only once opened (it stays open for the session). Closed, it costs a new tab nothing: drawn
    every time, its charts took ~0.15 s of the browser's main thread on each load of Runs (bench/README)."""
    box = st.expander(
        f"Overview of the last {days} days", key=OVERVIEW_KEY, on_change="rerun", icon=":material/bar_chart:"
    )
    with box:
        if not box.open:
            return
        overview = workbench.overview(days)
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
        runs, colours = runs_per_day(overview)
        draw_bars(left, "Runs per day by status", runs, colours, value_title="runs", height=CHART_HEIGHT)
        cost = [OUTCOME_COLOURS["running"]]
        draw_bars(right, "Cost per day (USD)", cost_per_day(overview), cost, value_title="USD", height=CHART_HEIGHT)
        durations = duration_per_day(overview)
        draw_bars(
            left,
            "Duration of ended runs (s)",
            durations,
            [OUTCOME_COLOURS["ok"], OUTCOME_COLOURS["rejected"]],
            value_title="seconds",
            stack=False,  # side by side
            height=CHART_HEIGHT,
        )
        if overview.decisions_by_rule:
            draw_decisions_by_rule(right, overview.decisions_by_rule, "Decisions by rule")
        else:
            right.caption("No policy decision in this window.")
