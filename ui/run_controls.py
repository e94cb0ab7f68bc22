"""Run controls for one run: Cancel, Resume, Re-run and Replay, and what a person decided on it.

One function, ``render_run_controls``, so that any page about a run (the Timeline today) offers
the same buttons under the same rules: Cancel while the run can still move (running or waiting
for a person), Resume only when nobody drives it, Re-run and Replay always (never for imported
runs, which are history). The buttons act through callbacks, so a click is answered even when
the run changed meanwhile (a ``RunStateError``, shown as a message).
"""

from __future__ import annotations

from datetime import UTC, datetime

import streamlit as st

from agent_core import AgentError, RunState, Workbench
from ui import access, core, nav
from ui.format import human_duration, md_escape, short_id

STALLED_AFTER_S = 30.0
"""A running run with no event for this long, driven by no worker of this dashboard, is offered a resume."""
FLASH_KEY = "run_controls_flash"
STARTED_KEY = "run_controls_started"  # the run a Re-run click started: the page moves to it once


def is_stalled(state: RunState, now: datetime | None = None) -> bool:
    """True for a running run nobody here drives that has been quiet for ``STALLED_AFTER_S``."""
    if state.status != "running" or state.updated_at is None or core.runner().active(state.run_id):
        return False
    return ((now or datetime.now(UTC)) - state.updated_at).total_seconds() >= STALLED_AFTER_S


def _cancel(run_id: str) -> None:
    try:
        by = access.approver()
        core.workbench().cancel(run_id, by=by, reason=f"cancelled from the dashboard by {by}")
    except AgentError as error:
        st.session_state[FLASH_KEY] = error
        return
    st.session_state[FLASH_KEY] = f"Cancelled run {short_id(run_id)}."


def _resume(run_id: str) -> None:
    try:
        core.runner().continue_run(run_id)
    except AgentError as error:
        st.session_state[FLASH_KEY] = error
        return
    st.session_state[FLASH_KEY] = f"Resuming run {short_id(run_id)} in the background."


def _rerun(run_id: str) -> None:
    try:
        new_id = core.runner().submit_rerun(run_id)
    except AgentError as error:
        st.session_state[FLASH_KEY] = error
        return
    st.session_state[FLASH_KEY] = f"Started run {short_id(new_id)}: same goal, planner and policy."
    st.session_state[STARTED_KEY] = new_id
    st.query_params["run_id"] = new_id  # the page follows the new run (see render_run_controls)


def denied_steps(state: RunState) -> None:
    """A step a person denied says so, with who and why: the run went on (or ended) without it."""
    for step in state.steps:
        if step.decision == "denied":
            st.warning(
                f"{md_escape(step.step_id)} ({md_escape(step.tool)}) was denied by {md_escape(step.decided_by)}",
                icon=":material/block:",
            )
            if step.comment:
                st.text(step.comment)


def render_run_controls(workbench: Workbench, state: RunState, imported: bool = False) -> None:
    """The run's controls (Cancel / Resume / Re-run / Replay) and the person's decisions on it.

    Nothing that acts is offered for an imported run: it is history here.
    """
    started = st.session_state.pop(STARTED_KEY, None)
    if started is not None and started != state.run_id:
        st.rerun()  # a Re-run click (in a fragment) put the new run in the address bar: redraw the page for it
    core.show_answer(st.session_state.pop(FLASH_KEY, None))
    denied_steps(state)
    if imported:
        return
    stalled = is_stalled(state)
    if stalled and state.updated_at is not None:
        quiet = human_duration((datetime.now(UTC) - state.updated_at).total_seconds())
        st.warning(
            f"No new event for {quiet} and this dashboard is not driving the run. If the process that ran it "
            "died, resume it: a step cut off mid-tool is recorded as interrupted and retried safely.",
            icon=":material/pause_circle:",
        )
    with st.container(horizontal=True, key="run_controls"):
        if not state.is_terminal:
            st.button(
                "Cancel run",
                key="run_cancel",
                icon=":material/cancel:",
                on_click=_cancel,
                args=(state.run_id,),
                help="End the run now: a held step is no longer offered for approval.",
            )
        if stalled:
            st.button(
                "Resume run", key="resume_run", icon=":material/play_arrow:", on_click=_resume, args=(state.run_id,)
            )
        if state.goal:
            st.button(
                "Re-run",
                key="run_rerun",
                icon=":material/replay:",
                on_click=_rerun,
                args=(state.run_id,),
                help="A new run with the same goal, limits, planner and policy file.",
            )
        nav.link_to_run("replay", state.run_id, "Replay", ":material/compare:")
