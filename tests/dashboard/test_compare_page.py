"""The Compare page: any two runs from the address bar or picked here, verdict and figures, bad ids explained."""

from __future__ import annotations

from tests.dashboard.conftest import OpenPage, no_exceptions, texts
from ui.format import short_id


def test_two_runs_from_the_address_bar_get_a_verdict_figures_and_diffs(seeded, open_page: OpenPage) -> None:
    _, ids = seeded
    at = open_page("compare", a=ids.completed, b=ids.failed)
    no_exceptions(at)
    shown = texts(at)
    assert "REGRESSION" in shown
    assert (
        "the compared run failed where the baseline completed" in shown
    )  # the replay diff's rule, named for any two runs
    frame = at.dataframe[0].value
    assert list(frame["step"]) == ["planning", "step_1", "step_2", "step_3", "total"]
    total = frame.set_index("step").loc["total"]
    assert (total["original"], total["replay"]) == ("completed", "failed")
    step_3 = frame.set_index("step").loc["step_3"]
    assert (step_3["ms a"], step_3["ms b"], step_3["Δ ms"]) == (800, 300, -500)
    assert "Plan diff" in shown and "Final answers" in shown
    links = [(p.proto.label, p.proto.query_string) for p in at.main.get("page_link")]
    assert ("Swap a and b", f"a={ids.failed}&b={ids.completed}") in links


def test_a_replay_compared_with_its_original_reads_like_the_replay_page(seeded, open_page: OpenPage) -> None:
    _, ids = seeded
    at = open_page("compare", a=short_id(ids.completed), b=short_id(ids.replay))  # shortened ids work too
    no_exceptions(at)
    assert "UNCHANGED" in texts(at)
    assert at.metric[0].label == "Cost"


def test_without_ids_two_runs_are_picked_here_and_go_into_the_address(seeded, open_page: OpenPage) -> None:
    _, ids = seeded
    at = open_page("compare")
    no_exceptions(at)
    assert "Select two rows on the Runs page" in texts(at)
    at.selectbox(key="compare_a").set_value(ids.completed).run()
    at.selectbox(key="compare_b").set_value(ids.replay).run()
    no_exceptions(at)
    assert (at.query_params["a"], at.query_params["b"]) == (ids.completed, ids.replay)
    assert "UNCHANGED" in texts(at)


def test_unknown_or_hostile_ids_get_a_message(seeded, open_page: OpenPage) -> None:
    _, ids = seeded
    at = open_page("compare", a=ids.completed, b="f" * 32)
    no_exceptions(at)
    assert "RunNotFound" in texts(at) and "Pick a run on the Runs page" in texts(at)
    at = open_page("compare", a="<script>alert(1)</script>", b=ids.completed)
    no_exceptions(at)
    assert "Ignored a='<script>alert(1)</script>'" in texts(at)
