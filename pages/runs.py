"""Runs: every run newest first, filtered by status, goal text, start date and lineage; a chosen
run opens in the Timeline page. Served from the runs index alone, so it stays fast on big stores.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import streamlit as st

from agent_core import COMPLETED, TERMINAL_STATUSES, RunSummary, Workbench
from ui import access, core, nav, overview, tables
from ui.format import md_escape, money, short_id, status_label

PAGE_SIZE = 50
STATUSES = ("running", "waiting_approval", "completed", "failed", "cancelled")
LINEAGE = {"all": {}, "originals": {"originals_only": True}, "replays": {"replays_only": True}}
FIRST_RUN_HINT = (
    "No runs in this store yet. Launch one from the Launch page, or from a terminal:\n\n"
    '    python -m agent_core run "Research agent frameworks and write a short report"\n\n'
    "It appears here as soon as its first event is written."
)


def _date_bounds(chosen: Any) -> dict[str, datetime]:
    """A date range (UTC days, end day included) as the store's started_after/started_before."""
    days = [d for d in (chosen if isinstance(chosen, list | tuple) else [chosen]) if isinstance(d, date)]
    if not days:
        return {}
    first, last = days[0], days[-1]
    return {
        "started_after": datetime.combine(first, time.min, UTC),
        "started_before": datetime.combine(last + timedelta(days=1), time.min, UTC),
    }


def read_filters() -> dict[str, Any]:
    """The filter row; returns keyword filters for ``Workbench.list_runs``/``count_runs``."""
    status_col, text_col, date_col, lineage_col = st.columns([3, 3, 2, 3], vertical_alignment="bottom")
    statuses = status_col.multiselect(
        "Status", STATUSES, format_func=status_label, key="runs_status", placeholder="any status"
    )
    text = text_col.text_input("Goal contains", key="runs_text", max_chars=200, placeholder="e.g. report")
    chosen = date_col.date_input("Started between (UTC)", value=[], key="runs_dates")
    lineage = lineage_col.segmented_control("Show", list(LINEAGE), default="all", key="runs_lineage") or "all"
    filters: dict[str, Any] = {**LINEAGE[lineage], **_date_bounds(chosen)}
    if statuses:
        filters["status"] = list(statuses)
    if text.strip():
        filters["text_in_title"] = text.strip()
    return filters


def completion_rate(workbench: Workbench, filters: dict[str, Any]) -> str:
    """Completed runs among the finished ones in view."""
    wanted = set(filters.get("status") or STATUSES)
    finished = sorted(wanted & TERMINAL_STATUSES)
    done = workbench.count_runs(**{**filters, "status": finished}) if finished else 0
    if not done:
        return "—"
    ok = workbench.count_runs(**{**filters, "status": [COMPLETED]}) if COMPLETED in wanted else 0
    return f"{ok / done:.0%}"


def metrics(workbench: Workbench, filters: dict[str, Any], in_view: int, shown: list[RunSummary]) -> None:
    runs, rate, cost, pending = st.columns(4)
    runs.metric("Runs in view", f"{in_view:,}", border=True)
    rate.metric("Completion rate", completion_rate(workbench, filters), border=True, help="completed / finished")
    cost.metric("Cost on this page", money(sum(s.cost_usd for s in shown)), border=True)
    pending.metric("Pending approvals", workbench.count_pending_approvals(), border=True)


def chosen_run(shown: list[RunSummary]) -> None:
    """The table itself; a selected row offers its timeline (and its replay, once that page exists)."""
    frame = tables.runs_frame(shown, datetime.now(UTC))
    selection = st.dataframe(
        tables.coloured(frame, "status", [s.status for s in shown]),
        key="runs_table",
        on_select="rerun",
        selection_mode="single-row",
        hide_index=True,
        column_config={
            "cost": st.column_config.NumberColumn("cost", format="$%.4f"),
            "goal": st.column_config.TextColumn("goal", width="large"),
        },
    )
    rows = selection.selection.rows if selection else []
    if not rows or rows[0] >= len(shown):
        st.caption("Select a row to open its timeline.")
        return
    run = shown[rows[0]]
    with st.container(border=True):
        st.caption(f"Run {md_escape(short_id(run.run_id))} · {status_label(run.status)}")
        st.text(run.goal)
        if run.status in ("failed", "cancelled") and run.reason:
            st.text(f"Why it {run.status.replace('cancelled', 'was cancelled')}: {run.reason}")
        open_col, replay_col, _ = st.columns([1, 1, 4])
        with open_col:
            nav.link_to_run("timeline", run.run_id, "Open timeline", ":material/timeline:")
        with replay_col:
            nav.link_to_run("replay", run.run_id, "Replay", ":material/compare:")


def main() -> None:
    access.gate()  # first: sign-in or refusal before anything is drawn
    st.title("Runs")
    with core.errors_as_messages():
        workbench = core.workbench()
        if workbench.count_runs() == 0:
            st.info(FIRST_RUN_HINT, icon=":material/rocket_launch:")
            st.stop()
        filters = read_filters()
        in_view = workbench.count_runs(**filters)
        pages = max(1, math.ceil(in_view / PAGE_SIZE))
        if st.session_state.get("runs_page", 1) > pages:
            st.session_state["runs_page"] = 1
        page = st.session_state.get("runs_page", 1)
        shown = workbench.list_runs(**filters, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
        metrics(workbench, filters, in_view, shown)
        overview.render_overview(workbench)
        if not shown:
            st.info("No run matches these filters. Clear a filter to see more.", icon=":material/filter_alt_off:")
            st.stop()
        chosen_run(shown)
        first = (page - 1) * PAGE_SIZE + 1
        info_col, pager_col = st.columns([2, 3], vertical_alignment="center")
        info_col.caption(f"Runs {first:,}–{first + len(shown) - 1:,} of {in_view:,}, newest first")
        with pager_col:
            st.pagination(pages, key="runs_page")


main()
