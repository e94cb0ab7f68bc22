"""The Policy page: the approval queue (approve, deny, a second decision), the decisions across runs
with their filters and chart, the rules in force, and the empty and error states."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from agent_core.config import Settings
from agent_core.policy import Policy
from agent_core.projections import RunState
from agent_core.workbench import Workbench
from tests.dashboard.conftest import ROOT, OpenPage, no_exceptions, texts
from tests.dashboard.seed import held_run
from ui import core

DEFAULT_POLICY = ROOT / "policies" / "default.yaml"


@pytest.fixture(autouse=True)
def _own_workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Approved runs continue (and write files) in a temporary workspace, never the repository's."""
    monkeypatch.setenv("AGENT_WORKSPACE", str(tmp_path / "workspace"))
    monkeypatch.delenv("AGENT_POLICY", raising=False)


def read_state(run_id: str) -> RunState:
    workbench = Workbench(Settings())
    try:
        return workbench.run_state(run_id)
    finally:
        workbench.close()


def decide(at: AppTest, button: str, comment: str = "") -> AppTest:
    next(t for t in at.text_input if t.label == "Comment").set_value(comment)  # the first card's comment box
    next(b for b in at.button if b.label == button).click().run()
    return at


def test_the_queue_shows_the_held_step_with_its_input_rule_and_buttons(seeded, open_page: OpenPage) -> None:
    _, ids = seeded
    at = open_page("policy")
    no_exceptions(at)
    assert [t.label for t in at.tabs] == ["Approval queue", "Decisions", "Rules", "What if"]
    assert [s.value for s in at.subheader] == ["Approval queue (1)"]  # only the open tab runs
    shown = texts(at)
    assert "Overwrite report.md with fresh findings" in [t.value for t in at.text]
    assert "use write_file for part 3 of the goal" in shown
    assert "report.md exists and would be overwritten" in shown
    assert "Held by rule confirm\\_overwrite" in shown
    assert "# Report" in [c.value for c in at.code]  # the exact content to be written
    assert [b.label for b in at.button] == ["Approve 1", "Deny 1", "Approve", "Deny"]
    assert [t.label for t in at.text_input] == ["Run id starts with", "One comment for this held step", "Comment"]
    links = [(p.proto.label, p.proto.query_string) for p in at.main.get("page_link")]
    assert ("Open timeline", f"run_id={ids.waiting}") in links


def test_approving_continues_the_run_in_the_background_until_it_finishes(empty_store, open_page: OpenPage) -> None:
    run_id = held_run()
    at = decide(open_page("policy"), "Approve", "fine, overwrite it")
    no_exceptions(at)
    assert [s.value for s in at.success] == [f"Approved step\\_3 of run {run_id[:8]}; the run continues."]
    assert at.subheader[0].value == "Approval queue"
    assert "Nothing waits for approval" in texts(at)

    core.runner().wait(run_id, timeout=30)
    state = read_state(run_id)
    assert state.status == "completed"
    step = state.step("step_3")
    assert step is not None
    assert (step.decision, step.comment, step.outcome) == ("granted", "fine, overwrite it", "succeeded")

    at.run()  # the "decided here" section's next tick
    assert "approved step_3" in [t.value for t in at.text]
    assert any("green-badge[completed]" in m.value for m in at.markdown)
    latest = open_page("policy", section="Decisions").dataframe[0].value.iloc[0]  # the history's newest
    assert latest[["step", "outcome", "rule", "reason", "by"]].tolist() == [
        "step_3",
        "● granted",
        "no_overwrite",
        "fine, overwrite it",
        "human",
    ]


def test_a_run_whose_policy_changed_since_it_started_fails_with_its_reason(seeded, open_page: OpenPage) -> None:
    """The seeded held run names a policy sha that is not the file's: approving it ends it with the reason."""
    _, ids = seeded
    at = decide(open_page("policy"), "Approve")
    core.runner().wait(ids.waiting, timeout=30)
    state = read_state(ids.waiting)
    assert state.status == "failed" and "changed since the run started" in state.failure_reason
    at.run()
    no_exceptions(at)
    assert any("red-badge[failed]" in m.value for m in at.markdown)


def test_denying_skips_the_step_and_the_run_still_ends(empty_store, open_page: OpenPage) -> None:
    run_id = held_run()
    at = decide(open_page("policy"), "Deny", "keep the old summary")
    no_exceptions(at)
    assert [s.value for s in at.success] == [f"Denied step\\_3 of run {run_id[:8]}; the run continues."]
    core.runner().wait(run_id, timeout=30)
    state = read_state(run_id)
    assert state.is_terminal
    step = state.step("step_3")
    assert step is not None and (step.decision, step.outcome, step.comment) == (
        "denied",
        "denied",
        "keep the old summary",
    )


def test_a_second_decision_on_the_same_step_is_a_message(seeded, open_page: OpenPage) -> None:
    _, ids = seeded
    at = open_page("policy")
    workbench = Workbench(Settings())
    try:
        workbench.approve(ids.waiting, "step_3", by="someone else")  # meanwhile, in another tab
    finally:
        workbench.close()
    at = decide(at, "Deny")
    no_exceptions(at)
    shown = texts(at)
    assert "RunStateError" in shown
    assert "was already granted by someone else" in shown
    assert read_state(ids.waiting).step("step_3").decision == "granted"  # type: ignore[union-attr]


def test_decisions_across_runs_are_listed_charted_and_filterable(seeded, open_page: OpenPage) -> None:
    at = open_page("policy", section="Decisions")
    assert not at.get("subheader")  # the queue's tab is closed: it did not run
    table = at.dataframe[0].value
    assert list(table.columns) == ["when", "run", "step", "tool", "outcome", "rule", "reason", "by", "at"]
    assert set(table["outcome"]) == {"● approved", "● rejected", "● held"}
    assert len(at.get("vega_lite_chart")) == 1
    assert [w.label for w in at.multiselect] == ["Rule", "Tool", "Outcome"]

    at.multiselect(key="policy_outcome").select("rejected").run()
    table = at.dataframe[0].value
    assert table[["step", "tool", "rule", "reason"]].values.tolist() == [
        ["step_2", "summarize", "no_untrusted_input", "input from <b>the web</b>"]
    ]
    at.multiselect(key="policy_outcome").unselect("rejected").run()
    at.multiselect(key="policy_tool").select("write_file").run()
    assert set(at.dataframe[0].value["tool"]) == {"write_file"}
    at.text_input(key="policy_run").set_value("nomatch").run()
    assert "No decision matches these filters" in texts(at)


def test_the_rules_in_force_come_from_the_policy_file(seeded, open_page: OpenPage) -> None:
    at = open_page("policy", section="Rules")
    policy = Policy.load(DEFAULT_POLICY)
    rules = at.dataframe[0].value
    assert list(rules.columns) == ["rule", "applies to", "effect", "description"]
    assert list(rules["rule"]) == [r.name for r in policy.rules]
    assert rules.set_index("rule").loc["no_overwrite", "effect"] == "hold"
    codes = [c.value for c in at.code]
    assert policy.text.strip() in codes  # st.code drops the trailing newline
    assert f"sha256 {policy.sha}" in codes


def test_what_if_another_policy_lists_the_decisions_it_would_change(empty_store, open_page: OpenPage) -> None:
    held_run()  # two runs: the first wrote summary.md (approved), the second was held by no_overwrite
    at = open_page("policy", section="What if")
    assert "nothing runs, nothing is written" in texts(at)
    strict = str(ROOT / "policies" / "strict.yaml")
    at.selectbox(key="policy_whatif_file").select(strict)
    next(b for b in at.button if b.label == "Compare decisions").click().run()
    no_exceptions(at)
    assert "6 decisions in 2 runs re-checked under" in texts(at)
    changes = at.dataframe[-1].value  # the last table on the page
    assert sorted(changes[["step", "recorded", "would be"]].values.tolist()) == [
        ["step_3", "approve (allowed)", "hold (writes_need_approval)"],
        ["step_3", "hold (no_overwrite)", "hold (writes_need_approval)"],
    ]


def test_an_empty_store_says_what_comes_here(empty_store, open_page: OpenPage) -> None:
    at = open_page("policy")
    no_exceptions(at)
    assert "Nothing waits for approval" in texts(at)
    assert not at.button  # no Approve / Deny
    at = open_page("policy", section="Decisions")
    assert "No decisions recorded yet" in texts(at)
    at = open_page("policy", section="Rules")
    assert len(at.dataframe) == 1  # the rules are shown all the same


def test_a_broken_policy_file_is_a_message_and_the_queue_still_works(
    seeded, open_page: OpenPage, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("rules: [{name: x, kind: nonsense, description: d}]\n")
    monkeypatch.setenv("AGENT_POLICY", str(broken))
    at = open_page("policy")
    no_exceptions(at)
    assert at.subheader[0].value == "Approval queue (1)"
    at = open_page("policy", section="Rules")
    no_exceptions(at)
    shown = texts(at)
    assert "PolicyError" in shown
    assert "unknown kind 'nonsense'" in shown


def test_an_unreachable_store_is_a_message(unreachable_store, open_page: OpenPage) -> None:
    at = open_page("policy")
    no_exceptions(at)
    assert "StoreError" in texts(at)
    assert "DATABASE_URL" in texts(at)
