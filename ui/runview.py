"""One run as a page shows it: its events and folded state, kept in session state and extended
with new events only, so a live timeline costs one small read per tick.
"""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from agent_core import RecordedEvent, RunNotFound, RunState, Workbench, fold


@dataclass(frozen=True, slots=True)
class RunView:
    run_id: str
    events: tuple[RecordedEvent, ...]
    state: RunState


def follow(workbench: Workbench, run_id: str, key: str = "run_view") -> RunView:
    """The run so far; the first call reads it whole, later calls only what was appended since.

    Raises ``RunNotFound`` for an id with no events.
    """
    view: RunView | None = st.session_state.get(key)
    if view is None or view.run_id != run_id:
        events = workbench.run_events(run_id)
        if not events:
            raise RunNotFound(run_id)
        view = RunView(run_id, tuple(events), fold(events))
    else:
        new = workbench.run_events(run_id, after_seq=view.state.last_seq)
        if new:
            view = RunView(run_id, view.events + tuple(new), fold(new, initial=view.state))
    st.session_state[key] = view
    return view
