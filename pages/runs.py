"""Runs: every run newest (or oldest) first, filtered by status, goal text, start date and lineage;
a chosen run opens in the Timeline page, two chosen runs in Compare. Filters, sort and page live in
the address bar (ui.params), so a copied link reopens the same view. Served from the runs index
alone, so it stays fast on big stores.
"""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import streamlit as st

from agent_core import COMPLETED, TERMINAL_STATUSES, RunSummary, Workbench
from ui import access, core, nav, overview, params, tables
from ui.format import md_escape, money, short_id, status_label

PAGE_SIZE = 50
STATUSES = params.RUN_STATUSES
LINEAGE = {"all": {}, "originals": {"originals_only": True}, "replays": {"replays_only": True}}
SORT_LABELS = {"newest": "newest first", "oldest": "oldest first"}
# The widgets' session keys, and the view (from the URL) they were last set from.
KEYS = ("runs_status", "runs_text", "runs_dates", "runs_lineage", "runs_sort", "runs_page")
SYNCED = "runs_synced_view"
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


def from_url() -> params.RunsView:
    """The view the address bar asks for; when it is not the one on screen (a link was opened), widgets follow it."""
    view = params.runs_view(st.query_params.to_dict())
    if st.session_state.get(SYNCED) != view:
        dates = [d for d in (view.first_day, view.last_day) if d]
        values = (list(view.statuses), view.text, dates, view.lineage, view.sort, view.page)
        st.session_state.update(dict(zip(KEYS, values, strict=True)))
        st.session_state[SYNCED] = view
    for problem in view.problems:
        st.warning(problem, icon=":material/link_off:")
    return view


def read_view() -> params.RunsView:
    """The filter row as a view (the page number comes from the pager, further down)."""
    status_col, text_col, date_col, lineage_col, sort_col = st.columns([3, 3, 2, 3, 2], vertical_alignment="bottom")
    statuses = status_col.multiselect(
        "Status", STATUSES, format_func=status_label, key="runs_status", placeholder="any status"
    )
    text = text_col.text_input(
        "Goal contains", key="runs_text", max_chars=params.TEXT_MAX_CHARS, placeholder="e.g. report"
    )
    chosen = date_col.date_input("Started between (UTC)", key="runs_dates")
    lineage = lineage_col.segmented_control("Show", list(LINEAGE), key="runs_lineage") or "all"
    sort = sort_col.selectbox("Order", list(SORT_LABELS), format_func=SORT_LABELS.__getitem__, key="runs_sort")
    days = [d for d in (chosen if isinstance(chosen, list | tuple) else [chosen]) if isinstance(d, date)]
    return params.RunsView(
        statuses=tuple(statuses),
        text=text.strip(),
        first_day=days[0] if days else None,
        last_day=days[-1] if days else None,
        lineage=lineage,
        sort=sort or "newest",
        page=st.session_state.get("runs_page", 1),
    )


def to_url(view: params.RunsView) -> None:
    """Write the view into the address bar (only when it changed, so no extra rerun)."""
    if params.runs_view(st.query_params.to_dict()) != view:
        st.query_params.from_dict(view.params())
    st.session_state[SYNCED] = view


def filters_of(view: params.RunsView) -> dict[str, Any]:
    """Keyword filters for ``Workbench.list_runs``/``count_runs``."""
    filters: dict[str, Any] = {
        **LINEAGE[view.lineage],
        **_date_bounds([d for d in (view.first_day, view.last_day) if d]),
    }
    if view.statuses:
        filters["status"] = list(view.statuses)
    if view.text:
        filters["text_in_title"] = view.text
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
    """The table itself; a selected row offers its timeline and replay, two selected rows a comparison."""
    frame = tables.runs_frame(shown, datetime.now(UTC))
    selection = st.dataframe(
        tables.coloured(frame, "status", [s.status for s in shown]),
        key="runs_table",
        on_select="rerun",
        selection_mode="multi-row",
        hide_index=True,
        column_config={
            "cost": st.column_config.NumberColumn("cost", format="$%.4f"),
            "goal": st.column_config.TextColumn("goal", width="large"),
        },
    )
    rows = [r for r in (selection.selection.rows if selection else []) if r < len(shown)]
    if not rows:
        st.caption("Select a row to open its timeline, or two rows to compare them.")
        return
    if len(rows) >= 2:
        compare_two(shown[rows[0]], shown[rows[1]], extra=len(rows) - 2)
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


def compare_two(first: RunSummary, second: RunSummary, extra: int) -> None:
    """Two selected runs: the older one is the baseline (a), the newer one is compared with it (b)."""
    a, b = sorted((first, second), key=lambda r: (r.started_at is not None, r.started_at))
    with st.container(border=True):
        st.caption(f"Compare {md_escape(short_id(a.run_id))} (baseline, older) with {md_escape(short_id(b.run_id))}")
        if extra:
            st.caption(f"Only the first two selected rows are compared ({extra} more selected).")
        spec = nav.registered("compare")
        if spec is not None:
            st.page_link(
                spec.file, label="Compare", icon=":material/difference:", query_params={"a": a.run_id, "b": b.run_id}
            )


def main() -> None:
    access.gate()  # first: sign-in or refusal before anything is drawn
    st.title("Runs")
    with core.errors_as_messages():
        workbench = core.workbench()
        if workbench.count_runs() == 0:
            st.info(FIRST_RUN_HINT, icon=":material/rocket_launch:")
            st.stop()
        before = from_url()
        view = read_view()
        if replace(view, page=1) != replace(before, page=1):  # another filter or order: back to its first page
            st.session_state["runs_page"] = 1
            view = replace(view, page=1)
        filters = filters_of(view)
        in_view = workbench.count_runs(**filters)
        pages = max(1, math.ceil(in_view / PAGE_SIZE))
        if view.page > pages:
            st.session_state["runs_page"] = 1
            view = replace(view, page=1)
        to_url(view)
        shown = workbench.list_runs(
            **filters, limit=PAGE_SIZE, offset=(view.page - 1) * PAGE_SIZE, oldest_first=view.sort == "oldest"
        )
        metrics(workbench, filters, in_view, shown)
        overview.render_overview(workbench)
        if shown:
            chosen_run(shown)
            first = (view.page - 1) * PAGE_SIZE + 1
            info_col, pager_col = st.columns([2, 3], vertical_alignment="center")
            info_col.caption(f"Runs {first:,}–{first + len(shown) - 1:,} of {in_view:,}, {SORT_LABELS[view.sort]}")
            with pager_col:
                st.pagination(pages, key="runs_page")
        else:
            st.info("No run matches these filters. Clear a filter to see more.", icon=":material/filter_alt_off:")


main()
