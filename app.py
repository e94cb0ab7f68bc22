"""Dashboard entry: page config, the access gate, navigation over the screens in ui.nav, and the shared sidebar.

Run with ``streamlit run app.py``. Every page works on its own too (see shared/TESTING.md): it gets
the Workbench through ``ui.core`` and passes ``ui.access.gate()`` itself, so this file only frames them.
"""

from __future__ import annotations

import streamlit as st

from agent_core import AgentError
from ui import access, core, nav, ops
from ui.format import plural

OFFLINE_HINT = (
    "Plans come from the offline planner. Set ANTHROPIC_API_KEY or OPENAI_API_KEY "
    "(or OPENAI_BASE_URL for a local server) in .env to plan with an LLM."
)


def sidebar() -> None:
    """Where the data lives, who plans, and what waits for a human."""
    with st.sidebar:
        st.caption("Event store")
        try:
            settings = core.settings()
            st.text(core.store_label(settings))
            workbench = core.workbench()
        except AgentError:
            st.text("unavailable: see the message on the page")
            return
        st.caption("Planner")
        st.text(workbench.planner_label())
        if settings.resolved_planner() == "offline":
            st.caption(OFFLINE_HINT)
        try:
            pending = workbench.count_pending_approvals()
        except AgentError:
            return
        policy = nav.registered("policy")
        if pending and policy is not None:
            st.page_link(policy.file, label=plural(pending, "pending approval"), icon=":material/front_hand:")
        else:
            st.caption("Pending approvals")
            st.text(str(pending))
        ops.sidebar(settings)


st.set_page_config(page_title="Agent workbench", page_icon=":material/account_tree:", layout="wide")
# Until the session is admitted the menu is hidden and no page runs: the gate shows the sign-in form or why not.
page = st.navigation(nav.navigation_pages(), position="sidebar" if access.current() else "hidden")
login = access.gate()
sidebar()
with st.sidebar:
    access.sidebar(login)
page.run()
