"""Timeline: one run (``?run_id=&event=SEQ``) — its header, the step waterfall, the event list beside
the selected event's payload, and tabs with the plan, the observations and an export. A run still
in progress refreshes itself every second, reading only the new events: the step in progress grows
up to now and says what it waits on. Long runs are paged (waterfall rows and events alike).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import streamlit as st

from agent_core import RunState, Workbench, step_waterfall
from ui import access, charts, core, nav, params, run_controls, tables
from ui.format import (
    badge_colour,
    exact_time,
    human_duration,
    md_escape,
    money,
    plural,
    relative_time,
    short_id,
    status_label,
)
from ui.runview import RunView, follow

LIVE_EVERY_S = 1.0
PICKER_SIZE = 50
TAB_KEY = "tab"
ROWS_PER_PAGE = 40  # waterfall rows drawn at once: a 250-step run stays readable
EVENTS_PER_PAGE = 100
OBSERVATIONS_PER_PAGE = 20


def pick_run(workbench: Workbench, view: params.TimelineView) -> str:
    """The run named in the address bar, or one chosen here (which then goes into the address bar)."""
    if view.run_id:
        return workbench.resolve_run_id(view.run_id)
    recent = workbench.list_runs(limit=PICKER_SIZE)
    if not recent:
        st.info("No runs in this store yet. Launch one, then come back to watch its timeline.")
        st.stop()
    labels = {r.run_id: f"{short_id(r.run_id)} · {status_label(r.status)} · {r.goal[:80]}" for r in recent}
    chosen = st.selectbox(
        "Run", list(labels), format_func=labels.__getitem__, index=None, placeholder="Choose one of the latest runs"
    )
    if chosen is None:
        st.caption("Or open one from the Runs page, which can search every run.")
        st.stop()
    st.query_params["run_id"] = chosen
    return chosen


def header(workbench: Workbench, state: RunState, imported: bool = False, now: datetime | None = None) -> None:
    """Everything above the waterfall: id, status, goal, figures, lineage and notices.

    One function on purpose: run controls (cancel, resume, re-run, replay) join it as one call.
    On a live run (``now`` given) the duration counts up to now.
    """
    with st.container(horizontal=True, vertical_alignment="center"):
        st.subheader(f"Run {md_escape(short_id(state.run_id))}", width="content")
        st.badge(state.status.replace("_", " "), color=badge_colour(state.status))
    # Plain text, never st.code on every Timeline: a page's first code block costs a new tab ~0.17 s of
    # the browser's main thread (Streamlit's syntax highlighter; bench/README). Never Markdown either.
    st.text(state.run_id)
    st.caption("Goal")
    st.text(state.goal)

    duration, steps, tokens, cost = st.columns(4)
    counting = now is not None and not state.is_terminal and state.started_at is not None
    elapsed = (now - state.started_at).total_seconds() if counting and now and state.started_at else state.duration_s
    duration.metric("Duration", human_duration(elapsed), border=True, help="still counting" if counting else None)
    steps.metric(
        "Steps ok / rejected / failed",
        f"{state.count('succeeded')} / {state.count('rejected') + state.count('denied')} / {state.count('failed')}",
        help=f"{plural(len(state.steps), 'step')} planned, at most {state.max_steps}",
        border=True,
    )
    tokens.metric("Tokens in / out", f"{state.input_tokens:,} / {state.output_tokens:,}", border=True)
    cost.metric(
        f"Cost of ${state.budget_usd:.2f} budget",
        money(state.cost_usd),
        delta="budget exceeded" if state.budget_exceeded else None,
        delta_color="inverse",
        border=True,
    )

    planner = state.planner
    about = [
        f"started {relative_time(state.started_at)} ({exact_time(state.started_at)})",
        f"planner {planner.provider}/{planner.model or 'default'} (prompt {planner.prompt_sha[:10]})"
        if planner
        else "planner unknown",
        f"policy {state.policy_path or '?'} (sha {state.policy_sha[:10]})",
        plural(state.event_count, "event"),
    ]
    st.text(" · ".join(about))
    lineage(workbench, state)
    notices(state, imported)


def lineage(workbench: Workbench, state: RunState) -> None:
    """Where the run comes from (replay of, fork of) and its whole lineage tree, each run with its verdict."""
    if state.replay_of:
        with st.container(horizontal=True, vertical_alignment="center"):
            st.text(f"{state.replay_mode or 'replay'} replay of {short_id(state.replay_of)}")
            nav.link_to_run("timeline", state.replay_of, "Open the original", ":material/north_west:")
    fork = state.forked_from
    if fork is not None:
        with st.container(horizontal=True, vertical_alignment="center"):
            how = "replanned" if fork.replan else "edited input" if fork.step_id in fork.inputs else "same input"
            st.text(
                f"fork of {short_id(fork.run_id)} at {fork.step_id} ({how}; {plural(fork.inherited, 'event')} "
                "inherited)"
            )
            nav.link_to_run("timeline", fork.run_id, "Open the parent", ":material/north_west:")
    tree = workbench.lineage(state.run_id)
    nodes = tree.walk()
    if len(nodes) < 2:
        return
    with st.expander(f"Lineage ({plural(len(nodes), 'run')}: original, replays and forks)"):
        for depth, node in nodes:
            run = node.run
            with st.container(horizontal=True, vertical_alignment="center"):
                verdict = f" · verdict {run.verdict}" if run.verdict else ""
                at = f" at {run.fork_step}" if run.fork_step else ""
                here = " · this run" if run.run_id == state.run_id else ""
                st.text(
                    f"{'    ' * depth}{'└ ' if depth else ''}{short_id(run.run_id)} · {node.kind}{at} · "
                    f"{status_label(run.status)}{verdict}{here}"
                )
                if run.run_id != state.run_id:
                    nav.link_to_run("timeline", run.run_id, "Open", ":material/open_in_new:")


def notices(state: RunState, imported: bool = False) -> None:
    """Why the run stopped, what it waits for, and events this code could not read."""
    if imported:
        st.info(
            "Imported run: history, not authority. It can be read, verified and replayed, never resumed, "
            "approved or cancelled here; a what-if replay (Replay page) runs it again under the local policy.",
            icon=":material/history:",
        )
    if state.status in ("failed", "cancelled") and state.failure_reason:
        st.error(f"Run {state.status}. Reason:", icon=":material/error:")
        st.code(state.failure_reason, language=None, wrap_lines=True)
    held = state.pending_approval
    if held is not None and not imported:
        st.warning("Waiting for a human to approve a held step:", icon=":material/front_hand:")
        st.text(f"{held.step_id} {held.tool} — rule {held.rule}: {held.reason}")
        nav.link_to_run("policy", state.run_id, "Open the approval queue", ":material/policy:")
        st.code(f"python -m agent_core approve {state.run_id} {held.step_id}  # or --deny", language="bash")
    if state.problems:
        st.warning(
            f"{plural(len(state.problems), 'event')} could not be read by this version; "
            "they are kept in the log and shown as unreadable below.",
            icon=":material/warning:",
        )
        st.code("\n".join(state.problems), language=None, wrap_lines=True)
    if state.final_summary:
        st.caption("Final response")
        st.text(state.final_summary)


def events_and_payload(view: RunView, chosen_seq: int | None) -> None:
    """The event list (paged) beside the selected event's payload; the selection goes into the address bar."""
    pages = max(1, -(-len(view.events) // EVENTS_PER_PAGE))
    if chosen_seq is not None and "timeline_events_page" not in st.session_state:
        st.session_state["timeline_events_page"] = min(pages, 1 + (chosen_seq - 1) // EVENTS_PER_PAGE)
    page = min(st.session_state.get("timeline_events_page", 1), pages)
    shown = view.events[(page - 1) * EVENTS_PER_PAGE : page * EVENTS_PER_PAGE]
    table_col, payload_col = st.columns([3, 2])
    with table_col:
        selection = st.dataframe(
            tables.events_frame(shown, start=view.events[0].at),
            key=f"timeline_events_{page}",
            on_select="rerun",
            selection_mode="single-row",
            hide_index=True,
            height=min(38 + 35 * len(shown), 560),
            column_config={"summary": st.column_config.TextColumn("summary", width="large")},
        )
        if pages > 1:
            with st.container(horizontal=True, vertical_alignment="center"):
                first = (page - 1) * EVENTS_PER_PAGE + 1
                st.caption(f"Events {first:,}–{first + len(shown) - 1:,} of {len(view.events):,}")
                st.pagination(pages, key="timeline_events_page")
    rows = selection.selection.rows if selection else []
    if rows and rows[0] < len(shown) and shown[rows[0]].seq != chosen_seq:
        chosen_seq = shown[rows[0]].seq
        st.query_params["event"] = str(chosen_seq)
    with payload_col:
        chosen = next((e for e in view.events if e.seq == chosen_seq), None)
        if chosen is None:
            if chosen_seq is not None:
                st.caption(f"This run has no event #{chosen_seq} (it has {len(view.events)}).")
            st.caption("Select an event to see its payload.")
            return
        st.text(f"#{chosen.seq} {chosen.type} by {chosen.actor} at {exact_time(chosen.at)}")
        st.json(tables.payload_of(chosen))


def waterfall_chart(view: RunView, live: bool) -> None:
    """The step waterfall; a long run a page of rows at a time (the page with the step in progress first)."""
    now = datetime.now(UTC) if live else None
    chart = step_waterfall(view.events, now=now)
    pages = max(1, -(-len(chart.rows) // ROWS_PER_PAGE))
    page = 1
    if pages > 1:
        current = next((i for i, r in enumerate(chart.rows) if r.key == chart.current), 0)
        if "timeline_rows_page" not in st.session_state or live:
            st.session_state["timeline_rows_page"] = 1 + current // ROWS_PER_PAGE
        page = min(st.session_state["timeline_rows_page"], pages)
    if chart.live and chart.current:
        row = next(r for r in chart.rows if r.key == chart.current)
        span = next(s for s in reversed(row.spans) if s.open)
        doing = f"{row.key} ({span.label})"  # step ids and rules come from the plan: text, not Markdown
        waited = human_duration(span.duration_s)
        st.info(
            f"In progress: {md_escape(doing)} — waiting on {chart.waiting_on} for {waited}",
            icon=":material/hourglass_top:",
        )
    st.html(charts.waterfall_html(chart, chart.page(page, ROWS_PER_PAGE), now_label="now" if live else ""))
    if pages > 1:
        with st.container(horizontal=True, vertical_alignment="center"):
            first = (page - 1) * ROWS_PER_PAGE + 1
            st.caption(f"Rows {first}–{first + len(chart.page(page, ROWS_PER_PAGE)) - 1} of {len(chart.rows)}")
            st.pagination(pages, key="timeline_rows_page", disabled=live)


def plan_tab(workbench: Workbench, state: RunState) -> None:
    for error in state.plan_errors:
        st.warning("A plan was rejected:", icon=":material/block:")
        st.code(error, language=None, wrap_lines=True)
    if state.plan is None:
        st.info("No plan yet." if not state.is_terminal else "This run never got a valid plan.")
        return
    frame = tables.plan_frame(state)
    # Per-cell colours cost the browser time on long plans; there the ● outcome label alone says it.
    shown = tables.coloured(frame, "outcome", [s.outcome for s in state.steps]) if len(frame) <= 60 else frame
    st.dataframe(shown, hide_index=True)
    if state.plan.stop_conditions:
        st.caption("Stop conditions")
        st.text("\n".join(f"• {c}" for c in state.plan.stop_conditions))
    fork_controls(workbench, state)


def fork_controls(workbench: Workbench, state: RunState) -> None:
    """'Fork from here' on each step: a new run inherits the steps before it and runs the rest live."""
    if state.plan is None or (not state.is_terminal and state.pending_approval is None):
        return
    st.caption(
        "Fork from a step: a new run inherits the plan and every step before it (decisions and observations), "
        "then runs that step live — with its input as edited here, or with a new plan for the rest."
    )
    steps = {step.id: step for step in state.plan.steps}
    chosen = st.selectbox(
        "Fork from step",
        list(steps),
        index=None,
        format_func=lambda i: f"{i} · {steps[i].tool}",
        key=f"fork_{state.run_id}_step",
        placeholder="Choose a step",
    )
    if chosen is None:
        return
    step = steps[chosen]
    key = f"fork_{state.run_id}_{step.id}"
    edited = st.text_area(
        "Input (JSON)", json.dumps(step.input, indent=2, ensure_ascii=False), key=f"{key}_input", height=120
    )
    replan = st.checkbox("Ask the planner for a new plan for the rest instead", key=f"{key}_replan")
    if st.button("Fork from here", key=f"{key}_go", icon=":material/call_split:"):
        start_fork(workbench, state.run_id, step.id, step.input, edited, replan)


def start_fork(
    workbench: Workbench, run_id: str, step_id: str, planned: dict[str, object], edited: str, replan: bool
) -> None:
    try:
        value = json.loads(edited)
    except json.JSONDecodeError as error:
        st.error(f"The input is not JSON ({error.msg} at line {error.lineno}); fix it and fork again.")
        return
    if not isinstance(value, dict):
        st.error("The input must be a JSON object: the step's tool input.")
        return
    with st.spinner(f"Forking at {step_id}…"):
        result = workbench.fork(run_id, step_id, input=None if replan or value == planned else value, replan=replan)
    st.success(result.line(), icon=":material/call_split:")
    nav.link_to_run("timeline", result.fork_id, "Open the fork", ":material/open_in_new:")


def observations_tab(state: RunState) -> None:
    observed = [s for s in state.steps if s.result is not None]
    if not observed:
        st.info("No tool has returned a result yet.")
        return
    pages = max(1, -(-len(observed) // OBSERVATIONS_PER_PAGE))
    page = min(st.session_state.get("timeline_observations_page", 1), pages)
    for step in observed[(page - 1) * OBSERVATIONS_PER_PAGE : page * OBSERVATIONS_PER_PAGE]:
        st.text(f"{step.step_id} · {step.tool} · {step.outcome} · {human_duration(step.duration_ms / 1000)}")
        st.json(step.result, expanded=len(observed) <= 3)
    if pages > 1:
        st.pagination(pages, key="timeline_observations_page")


def export_tab(workbench: Workbench, view: RunView) -> None:
    st.download_button(
        "Download the run as JSON lines",
        data=lambda: workbench.export(view.run_id),  # built on click, not on every render
        file_name=f"run-{short_id(view.run_id, 12)}.jsonl",
        mime="application/x-ndjson",
        on_click="ignore",
        icon=":material/download:",
    )
    st.caption(
        "One event per line, with its envelope (seq, type, actor, time, hash) and payload as stored; "
        "`python -m agent_core import FILE` reads it back into another store."
    )


def body(workbench: Workbench, run_id: str, was_live: bool, chosen_seq: int | None) -> None:
    """Everything about the run; re-run alone every second while the run is live."""
    access.recheck()
    with core.errors_as_messages():
        view = follow(workbench, run_id)
        if was_live and view.state.is_terminal:
            st.rerun()  # the run ended: redraw once without polling
        imported = workbench.is_imported(run_id)
        header(workbench, view.state, imported, now=datetime.now(UTC) if was_live else None)
        run_controls.render_run_controls(workbench, view.state, imported)
        if was_live:
            st.caption(f"Live: refreshing every {LIVE_EVERY_S:g} s · updated {datetime.now(UTC):%H:%M:%S} UTC")
        waterfall_chart(view, was_live)
        # Only the open tab runs: a long run's plan, observations and export are not drawn unseen, and a new
        # tab draws one data grid below the waterfall, not two (the plan's cost ~0.14 s in the browser).
        events, plan, observations, export = st.tabs(  # the open tab is in the URL: /timeline?run_id=..&tab=Plan
            ["Events", "Plan", "Observations", "Export"], key=TAB_KEY, on_change="rerun", bind="query-params"
        )
        for tab, draw in (
            (events, lambda: events_and_payload(view, chosen_seq)),
            (plan, lambda: plan_tab(workbench, view.state)),
            (observations, lambda: observations_tab(view.state)),
            (export, lambda: export_tab(workbench, view)),
        ):
            if tab.open:
                with tab:
                    draw()


def main() -> None:
    access.gate()  # first: sign-in or refusal before anything is drawn
    url = params.timeline_view(st.query_params.to_dict())
    for problem in url.problems:
        st.warning(problem, icon=":material/link_off:")
    with core.errors_as_messages():
        workbench = core.workbench()
        run_id = pick_run(workbench, url)
        live = not follow(workbench, run_id).state.is_terminal and not workbench.is_imported(run_id)
    st.fragment(run_every=LIVE_EVERY_S if live else None)(body)(workbench, run_id, live, url.event)


main()
