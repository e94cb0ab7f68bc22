"""Compare: any two runs side by side (``?a=&b=``, a the baseline): the verdict by the replay diff's
rules, cost, tokens and latency per step and in total, the plan diff and the final answers' diff.
Reached from Runs (select two rows) or by a link; the two ids stay in the address bar.
"""

from __future__ import annotations

import streamlit as st

from agent_core import Workbench
from ui import access, compareview, core, nav, params
from ui.format import short_id, status_label

PICKER_SIZE = 50
HOW_TO_PICK = "Select two rows on the Runs page and press Compare, or choose two of the latest runs here."


def pick(workbench: Workbench, url: params.CompareView) -> tuple[str, str]:
    """The two runs from the address bar; else two chosen here (which then go into the address bar)."""
    if url.a and url.b:
        return url.a, url.b
    recent = workbench.list_runs(limit=PICKER_SIZE)
    if len(recent) < 2:
        st.info("Comparing needs two runs in this store. Launch another, then come back.", icon=":material/difference:")
        st.stop()
    labels = {r.run_id: f"{short_id(r.run_id)} · {status_label(r.status)} · {r.goal[:80]}" for r in recent}
    left, right = st.columns(2)
    a = left.selectbox("Baseline (a)", list(labels), format_func=labels.__getitem__, index=None, key="compare_a")
    b = right.selectbox("Compared run (b)", list(labels), format_func=labels.__getitem__, index=None, key="compare_b")
    a, b = a or url.a or None, b or url.b or None
    if a is None or b is None:
        st.caption(HOW_TO_PICK)
        st.stop()
    st.query_params.from_dict(params.CompareView(a, b).params())
    return a, b


def main() -> None:
    access.gate()  # first: sign-in or refusal before anything is drawn
    st.title("Compare")
    url = params.compare_view(st.query_params.to_dict())
    for problem in url.problems:
        st.warning(problem, icon=":material/link_off:")
    with core.errors_as_messages():
        workbench = core.workbench()
        a, b = pick(workbench, url)
        with st.spinner("Comparing the two runs…"):
            comparison = workbench.compare(a, b)
        diff = comparison.diff
        with st.container(horizontal=True, vertical_alignment="center"):
            st.text(f"a {short_id(diff.original_id)} (baseline) · b {short_id(diff.replay_id)}")
            nav.link_to_run("timeline", diff.original_id, "Timeline of a", ":material/timeline:")
            nav.link_to_run("timeline", diff.replay_id, "Timeline of b", ":material/timeline:")
            spec = nav.registered("compare")
            if spec is not None:
                swapped = {"a": diff.replay_id, "b": diff.original_id}
                st.page_link(spec.file, label="Swap a and b", icon=":material/swap_horiz:", query_params=swapped)
        if diff.original_id == diff.replay_id:
            st.info("a and b are the same run: nothing differs.", icon=":material/info:")
        compareview.comparison_view(comparison)


main()
