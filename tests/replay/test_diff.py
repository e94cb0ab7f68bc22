"""diff: alignment by step id then tool and input, and the verdict rules."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from agent_core import events as ev
from agent_core.plan import Plan, PlanStep
from agent_core.replay.diff import diff_runs
from agent_core.workbench import Workbench
from tests.replay.conftest import STRICT_POLICY, run_goal


def recorded(run_id: str, *events: ev.DomainEvent) -> list[ev.RecordedEvent]:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    return [ev.RecordedEvent(i, run_id, i, e.type, e.VERSION, e.actor, at, "", e) for i, e in enumerate(events, 1)]


def step(step_id: str, tool: str, **data: str) -> PlanStep:
    return PlanStep(id=step_id, objective="o", tool=tool, input=data, success_criteria="c")


START = ev.RunStarted(
    goal="g",
    max_steps=4,
    budget_usd=0.5,
    planner=ev.PlannerInfo(provider="offline", model="m", prompt_sha="x"),
    policy_sha="p",
)


def run(run_id: str, steps: list[PlanStep], ok: list[bool], usd: float, *, rejected: str | None = None) -> list:
    events: list[ev.DomainEvent] = [START, ev.PlanGenerated(plan=Plan(steps=steps), raw_text="{}")]
    events.append(ev.CostRecorded(source="planner", usd=usd, total_usd=usd, input_tokens=100))
    for s, success in zip(steps, ok, strict=True):
        if s.id == rejected:
            events.append(ev.ToolRejected(step_id=s.id, tool=s.tool, rule="known_tools", reason="not allowed"))
            continue
        events.append(ev.ToolApproved(step_id=s.id, tool=s.tool, rule="allowed", reason=""))
        events.append(ev.ToolExecuted(step_id=s.id, tool=s.tool, input=s.input))
        events.append(ev.ObservationCaptured(step_id=s.id, tool=s.tool, result={"success": success, "output": "x"}))
    events.append(ev.RunCompleted())
    return recorded(run_id, *events)


READ, SEARCH = step("step_1", "read_file", path="a.md"), step("step_2", "web_search", query="q")


def test_identical_runs_are_unchanged() -> None:
    result = diff_runs(run("a", [READ, SEARCH], [True, True], 0.01), run("b", [READ, SEARCH], [True, True], 0.01))
    assert result.verdict == "unchanged" and not any(r.changed for r in result.rows) and result.plan_diff == ""


def test_steps_align_by_tool_and_input_when_ids_move() -> None:
    moved = [step("step_1", "web_search", query="q"), step("step_2", "read_file", path="a.md")]
    result = diff_runs(run("a", [READ, SEARCH], [True, True], 0.0), run("b", moved, [True, True], 0.0))
    assert [(r.original.step_id, r.replay.step_id) for r in result.rows] == [("step_1", "step_2"), ("step_2", "step_1")]  # type: ignore[union-attr]
    assert all(r.plan_change == "changed: id" for r in result.rows)


def test_cost_rise_beyond_the_share_is_a_regression_and_a_fall_an_improvement() -> None:
    base = run("a", [READ], [True], 0.010)
    assert diff_runs(base, run("b", [READ], [True], 0.011)).verdict == "unchanged"  # +10% < 20%
    risen = diff_runs(base, run("b", [READ], [True], 0.013))
    assert risen.verdict == "regression" and "cost rose by $0.0030 (+30%)" in risen.reasons[0]
    assert diff_runs(base, run("b", [READ], [True], 0.013), cost_share=0.5).verdict == "unchanged"
    assert diff_runs(base, run("b", [READ], [True], 0.005)).verdict == "improvement"


def test_newly_rejected_and_fewer_successes_regress_the_mirror_improves() -> None:
    good = run("a", [READ, SEARCH], [True, True], 0.0)
    bad = run("b", [READ, SEARCH], [True, True], 0.0, rejected="step_2")
    worse = diff_runs(good, bad)
    assert worse.verdict == "regression"
    assert "fewer steps succeeded (2 -> 1)" in worse.reasons
    assert any("step_2 (web_search) is newly rejected by policy rule 'known_tools'" in r for r in worse.reasons)
    assert diff_runs(bad, good).verdict == "improvement"


def test_a_failed_replay_of_a_completed_run_regresses_and_long_outputs_get_a_text_diff() -> None:
    original = run("a", [READ], [True], 0.0)
    failed = [*original[:-1], *recorded("b", ev.RunFailed(reason="budget exceeded"))]
    result = diff_runs(original, failed)
    assert result.verdict == "regression" and "the replay failed where the original completed" in result.reasons[0]

    long_a = "\n".join(f"line {i}" for i in range(30))

    def observed(run_id: str, output: str) -> list[ev.RecordedEvent]:
        seen = ev.ObservationCaptured(step_id="step_1", tool="read_file", result={"success": True, "output": output})
        return [*original[:-2], *recorded(run_id, seen)]

    events_a, events_b = observed("a", long_a), observed("b", long_a.replace("line 7", "LINE 7"))
    row = diff_runs(events_a, events_b).rows[0]
    assert row.observation_change.startswith("output changed") and "-line 7\n+LINE 7" in row.output_diff


def test_counterfactual_policy_lists_only_the_decisions_that_change(bench: Workbench, tmp_path: Path) -> None:
    writer, reader = run_goal(bench), run_goal(bench, "Summarize notes.txt")

    report = bench.policy_counterfactual(STRICT_POLICY, last_n=10)

    assert report.runs == 2 and report.decisions == 5
    [change] = report.changes
    assert (change.run_id, change.step_id, change.recorded, change.would, change.would_rule) == (
        writer,
        "step_3",
        "approve",
        "hold",
        "writes_need_approval",
    )
    assert reader not in {c.run_id for c in report.changes}
    assert bench.count_runs() == 2  # nothing ran
