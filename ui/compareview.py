"""How a comparison of any two runs looks: figures (cost, tokens, latency) per aligned step and in
total, beside the replay diff's verdict, plan diff and step details (ui.diffview draws those)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from agent_core import RunComparison, StepFigures
from ui import diffview
from ui.format import human_duration, money, short_id

NAMES = ("baseline", "compared run")
# The deltas next to the two sides (what a reviewer scans first), the absolute figures after the change.
COLUMNS = [
    "step",
    "original",
    "replay",
    "Δ cost",
    "Δ tokens",
    "Δ ms",
    "change",
    "cost a",
    "cost b",
    "tokens a",
    "tokens b",
    "ms a",
    "ms b",
]


def _figures(a: StepFigures | None, b: StepFigures | None) -> dict[str, object]:
    def delta(x: float | None, y: float | None) -> float | None:
        return None if x is None or y is None else y - x

    cost = (a.cost_usd if a else None, b.cost_usd if b else None)
    tokens = (a.tokens if a else None, b.tokens if b else None)
    latency = (round(a.latency_ms) if a else None, round(b.latency_ms) if b else None)
    return {
        "cost a": cost[0],
        "cost b": cost[1],
        "Δ cost": delta(*cost),
        "tokens a": tokens[0],
        "tokens b": tokens[1],
        "Δ tokens": delta(*tokens),
        "ms a": latency[0],
        "ms b": latency[1],
        "Δ ms": delta(*latency),
    }


def figures_frame(comparison: RunComparison) -> pd.DataFrame:
    """Planning, one row per aligned step, then the totals: each side's cell, what changed, and the figures.

    The sides are named ``original``/``replay`` as in the replay diff (so its highlighting applies);
    the table's headers call them a and b.
    """
    diff = comparison.diff
    plan_a, plan_b = comparison.planning
    rows: list[dict[str, object]] = [
        {"step": "planning", "original": "", "replay": "", "change": "", **_figures(plan_a, plan_b)}
    ]
    for row in diff.rows:
        a, b = comparison.row_figures(row)
        change = diffview.change_text(row)
        rows.append(
            {
                "step": row.key,
                "original": diffview.step_cell(row.original),
                "replay": diffview.step_cell(row.replay),
                "change": change,
            }
            | _figures(a, b)
        )
    total_a, total_b = comparison.totals
    outcome = f"{diff.original_status} -> {diff.replay_status}" if diff.original_status != diff.replay_status else ""
    rows.append(
        {"step": "total", "original": diff.original_status, "replay": diff.replay_status, "change": outcome}
        | _figures(total_a, total_b)
    )
    return pd.DataFrame(rows, columns=COLUMNS)


def _delta(change: float, text: str) -> str | None:
    """A metric's delta, or None when nothing changed (no arrow for a zero)."""
    return text if abs(change) > 1e-9 else None


def headline_figures(comparison: RunComparison) -> None:
    """Total cost, tokens, latency and duration of the compared run, with the change from the baseline."""
    (a, b), (da, db) = comparison.totals, comparison.duration_s
    cost, tokens, latency, duration = st.columns(4)
    usd = b.cost_usd - a.cost_usd
    cost.metric("Cost", money(b.cost_usd), delta=_delta(usd, f"{usd:+.4f} USD"), delta_color="inverse", border=True)
    more = b.tokens - a.tokens
    tokens.metric("Tokens", f"{b.tokens:,}", delta=_delta(more, f"{more:+,d}"), delta_color="inverse", border=True)
    slower = (b.latency_ms - a.latency_ms) / 1000
    latency.metric(
        "LLM + tool time",
        human_duration(b.latency_ms / 1000),
        delta=_delta(slower, f"{slower:+.2f} s"),
        delta_color="inverse",
        border=True,
    )
    longer = (db or 0) - (da or 0)
    wall = _delta(longer, f"{longer:+.2f} s") if da is not None and db is not None else None
    duration.metric("Duration", human_duration(db), delta=wall, delta_color="inverse", border=True)


def comparison_view(comparison: RunComparison) -> None:
    """Everything about two runs, in the order a reviewer reads it: verdict, figures, steps, plan, answers."""
    diff = comparison.diff
    st.subheader("Verdict")
    diffview.verdict_banner(diff, second=NAMES[1])
    headline_figures(comparison)
    st.dataframe(
        diffview.highlighted(figures_frame(comparison)),
        hide_index=True,
        key="compare_table",
        column_config={
            "step": st.column_config.TextColumn("step", width="small"),
            "original": st.column_config.TextColumn(f"a {short_id(diff.original_id)}", width="medium"),
            "replay": st.column_config.TextColumn(f"b {short_id(diff.replay_id)}", width="medium"),
            "cost a": st.column_config.NumberColumn(format="$%.4f"),
            "cost b": st.column_config.NumberColumn(format="$%.4f"),
            "Δ cost": st.column_config.NumberColumn(format="$%+.4f"),
        },
    )
    diffview.plan_diff(diff)
    st.caption("Final answers")
    if comparison.answer_diff:
        st.code(comparison.answer_diff, language="diff")
    elif comparison.answers[0]:
        st.text("The two final answers are the same.")
    else:
        st.text("Neither run has a final answer.")
    diffview.step_details(diff, names=NAMES)
    if diff.notes:
        st.caption("Notes")
        st.text("\n".join(f"• {note}" for note in diff.notes))
