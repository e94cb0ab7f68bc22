"""Launch: a form that starts a run in the background runner, then the run's live event feed.

The form is validated on the server (``RunRequest.validate``) before anything is written; a
bad field gets its message right under it. The feed is a fragment that re-runs alone every
half second while the run is live, reading only the new events (``ui.runview.follow``).
"""

from __future__ import annotations

from datetime import UTC, datetime

import streamlit as st

from agent_core import (
    BUDGET_RANGE,
    GOAL_MAX_CHARS,
    MAX_STEPS_RANGE,
    AgentError,
    RunRequest,
    RunRequestError,
    RunState,
    Workbench,
    planner_choices,
)
from ui import access, core, nav, tables
from ui.format import badge_colour, human_duration, md_escape, money, plural, short_id
from ui.runview import follow

EXAMPLES = {
    "Research agent frameworks": (
        "Research the latest developments in AI agent frameworks and summarize the key findings"
    ),
    "Summarize notes.txt": "Summarize notes.txt and save the summary to summary.md",
}
DEMO_GOAL = EXAMPLES["Research agent frameworks"]  # the goal a first visit finds filled in
GOAL_KEY = "launch_goal"
RUN_KEY = "launch_run_id"
VIEW_KEY = "launch_view"
LIVE_EVERY_S = 0.5
WAITING_EVERY_S = 2.0  # a held run moves only when someone approves it, elsewhere
FEED_COLUMNS = ["seq", "time", "actor", "event", "summary"]
FOLDED_OVER_CHARS = 400


def use_example(goal: str) -> None:
    """Button callback: runs before the form is drawn, so the text area shows the example."""
    st.session_state[GOAL_KEY] = goal


def form() -> RunRequest | None:
    """The launch form; returns a validated request on submit, else None (errors shown at their field).

    A first visit finds the demo goal filled in: one click on Launch shows what a run is.
    """
    st.session_state.setdefault(GOAL_KEY, DEMO_GOAL)
    with st.form("launch_form", border=True):
        # No max_chars/min/max on the widgets: Streamlit would silently cut or clamp the value, and a person
        # must be told instead. The limits are checked here on the server, by RunRequest.validate.
        goal = st.text_area(
            "Goal",
            key=GOAL_KEY,
            height=110,
            placeholder="What should the agent do? e.g. " + DEMO_GOAL,
        )
        slots = {"goal": st.empty()}
        st.caption(f"{len(goal or '')} / {GOAL_MAX_CHARS} characters", text_alignment="right")
        steps_col, budget_col, planner_col, model_col = st.columns(4)
        with steps_col:
            max_steps = st.slider("Max steps", *MAX_STEPS_RANGE, value=4, key="launch_max_steps")
            slots["max_steps"] = st.empty()
        with budget_col:
            budget = st.number_input(
                f"Budget USD ({BUDGET_RANGE[0]:.2f}–{BUDGET_RANGE[1]:.2f})",
                value=0.50,
                step=0.05,
                format="%.2f",
                key="launch_budget",
            )
            slots["budget_usd"] = st.empty()
        with planner_col:
            planner = st.selectbox(
                "Planner",
                planner_choices(),
                key="launch_planner",
                help="auto: Anthropic if its key is set, else OpenAI, else the offline planner",
            )
            slots["planner"] = st.empty()
        with model_col:
            model = st.text_input("Model", key="launch_model", max_chars=100, placeholder="the provider's default")
            slots["model"] = st.empty()
        submitted = st.form_submit_button("Launch run", type="primary", icon=":material/rocket_launch:")
    if not submitted:
        return None
    budget_usd = float(budget) if budget is not None else 0.0
    request = RunRequest(str(goal or ""), int(max_steps), budget_usd, str(planner), (model or "").strip() or None)
    try:
        return request.validate()
    except RunRequestError as error:
        slot = slots.get(error.field, slots["goal"])
        slot.error(md_escape(str(error)), icon=":material/error:")
        return None


def examples() -> None:
    with st.container(horizontal=True, vertical_alignment="center"):
        st.caption("Examples:", width="content")
        for label, goal in EXAMPLES.items():
            st.button(label, on_click=use_example, args=(goal,), key=f"example_{label}", type="tertiary")


def launch(request: RunRequest) -> None:
    """Start the run in the background and remember it; errors become messages, nothing half-started."""
    try:
        run_id = core.runner().submit(request)
    except AgentError as error:
        core.show_error(error)
        return
    st.session_state[RUN_KEY] = run_id
    st.session_state.pop(VIEW_KEY, None)


def poll_every(state: RunState) -> float | None:
    if state.is_terminal:
        return None
    return WAITING_EVERY_S if state.status == "waiting_approval" else LIVE_EVERY_S


def elapsed(state: RunState) -> str:
    if state.started_at is not None and not state.is_terminal:
        return human_duration((datetime.now(UTC) - state.started_at).total_seconds())
    return human_duration(state.duration_s)


def status_line(state: RunState) -> None:
    with st.container(horizontal=True, vertical_alignment="center"):
        st.markdown(f"**Run** `{short_id(state.run_id)}`", width="content", help=state.run_id)
        st.badge(state.status.replace("_", " "), color=badge_colour(state.status), width="content")
        st.text(elapsed(state), width="content")
        st.text(f"{money(state.cost_usd)} / ${state.budget_usd:.2f}", width="content")
        nav.link_to_run("timeline", state.run_id, "Open timeline", ":material/timeline:")
        nav.link_to_run("replay", state.run_id, "Replay", ":material/compare:")


def queued(state: RunState) -> None:
    """A run waiting for a free worker of the background runner says so (it has no new events meanwhile)."""
    ahead = core.runner().waiting_ahead(state.run_id)
    if ahead is not None and not state.is_terminal:
        st.info(
            f"Queued: every worker is busy ({plural(ahead, 'run')} ahead of this one). It starts when one "
            "finishes; AGENT_MAX_ACTIVE_RUNS sets how many run at once.",
            icon=":material/hourglass_top:",
        )


def outcome(state: RunState) -> None:
    """What a person needs to act on: a held step, or why the run stopped."""
    held = state.pending_approval
    if held is not None:
        st.warning("Waiting for a person to approve a held step:", icon=":material/front_hand:")
        st.text(f"{held.step_id} {held.tool} — rule {held.rule}: {held.reason}")
        nav.link_to_run("policy", state.run_id, "Open the approval queue", ":material/policy:")
    if state.status in ("failed", "cancelled") and state.failure_reason:
        st.error(f"Run {state.status}. Reason:", icon=":material/error:")
        st.code(state.failure_reason, language=None, wrap_lines=True)


def final_response(state: RunState) -> None:
    """The run's answer, folded when long so the feed stays in view."""
    if state.final_summary:
        with st.expander("Final response", expanded=len(state.final_summary) <= FOLDED_OVER_CHARS):
            st.code(state.final_summary, language=None, wrap_lines=True)


def ended(state: RunState) -> None:
    """The feed's last word: the run is over, how, and in how long; no more events will come."""
    how = {"completed": "completed", "failed": "failed", "cancelled": "was cancelled"}.get(state.status, state.status)
    st.caption(
        f"Run {short_id(state.run_id)} {how} after {human_duration(state.duration_s)}: the feed is complete. "
        "Open the timeline for every step, or replay it."
    )


def feed(workbench: Workbench, run_id: str, polling: float | None) -> None:
    """The run so far; re-run alone while live, and once more (whole page) when the pace changes."""
    access.recheck()
    with core.errors_as_messages():
        view = follow(workbench, run_id, key=VIEW_KEY)
        state = view.state
        if poll_every(state) != polling:
            st.rerun()  # the run ended or started waiting: redraw with the new polling pace
        status_line(state)
        queued(state)
        outcome(state)
        last = view.events[-1]
        st.text(f"{plural(len(view.events), 'event')} so far · latest: #{last.seq} {last.type}")
        st.dataframe(
            tables.events_frame(view.events)[FEED_COLUMNS],
            hide_index=True,
            column_config={"summary": st.column_config.TextColumn("summary", width="large")},
            key="launch_feed",
        )
        final_response(state)
        if polling is not None:
            st.caption(f"Live: new events appear as they happen · updated {datetime.now(UTC):%H:%M:%S} UTC")
        elif state.is_terminal:
            ended(state)


def main() -> None:
    access.gate()  # first: sign-in or refusal before anything is drawn
    st.title("Launch a run")
    with core.errors_as_messages():
        workbench = core.workbench()
    examples()
    request = form()
    if request is not None:
        launch(request)
    run_id = st.session_state.get(RUN_KEY)
    if not run_id:
        st.caption("The run's events appear here as they happen. Past runs are on the Runs page.")
        return
    st.divider()
    with core.errors_as_messages():
        polling = poll_every(follow(workbench, run_id, key=VIEW_KEY).state)
    st.fragment(run_every=polling)(feed)(workbench, run_id, polling)


main()
