"""compare_runs: the replay diff's verdict for any two runs, plus per-step cost, tokens and latency."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from agent_core import events as ev
from agent_core.plan import Plan, PlanStep
from agent_core.replay import StepFigures, compare_runs, diff_runs

PLANNER = ev.PlannerInfo(provider="openai", model="m", prompt_sha="p" * 64)
PLAN = Plan(
    steps=[PlanStep(id="step_1", objective="o", tool="summarize", input={"text": "t"}, success_criteria="c")],
    stop_conditions=[],
)


def recorded(events: list[ev.DomainEvent], run_id: str) -> list[ev.RecordedEvent]:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    return [
        ev.RecordedEvent(i, run_id, i, e.type, e.VERSION, e.actor, at + timedelta(seconds=i), "", e)
        for i, e in enumerate(events, 1)
    ]


def run(run_id: str, tool_usd: float, answer: str, ok: bool = True) -> list[ev.RecordedEvent]:
    return recorded(
        [
            ev.RunStarted(goal="g", max_steps=3, budget_usd=1.0, planner=PLANNER, policy_sha="s"),
            ev.PlanGenerated(
                plan=PLAN, raw_text="{}", latency_ms=250, usage=ev.Usage(input_tokens=10, output_tokens=5)
            ),
            ev.CostRecorded(source="planner", model="m", input_tokens=10, output_tokens=5, usd=0.01, total_usd=0.01),
            ev.ToolApproved(step_id="step_1", tool="summarize", rule="allowed", reason="ok"),
            ev.ToolExecuted(step_id="step_1", tool="summarize", input={"text": "t"}),
            ev.CostRecorded(
                source="summarize",
                model="m",
                input_tokens=100,
                output_tokens=20,
                usd=tool_usd,
                total_usd=0.01 + tool_usd,
            ),
            ev.ObservationCaptured(
                step_id="step_1", tool="summarize", result={"success": ok, "output": answer}, duration_ms=400
            ),
            ev.ResponseFinalized(summary=answer, step_count=1),
            ev.RunCompleted() if ok else ev.RunFailed(reason="step_1 failed"),
        ],
        run_id,
    )


def test_figures_per_step_charge_a_tools_llm_call_to_its_step() -> None:
    comparison = compare_runs(run("a", 0.02, "one\ntwo"), run("b", 0.05, "one\nthree"))
    row = comparison.diff.rows[0]
    assert comparison.row_figures(row) == (StepFigures(0.02, 120, 400), StepFigures(0.05, 120, 400))
    assert comparison.planning == (StepFigures(0.01, 15, 250), StepFigures(0.01, 15, 250))
    assert round(comparison.totals[1].cost_usd - comparison.totals[0].cost_usd, 6) == 0.03
    assert "-two" in comparison.answer_diff and "+three" in comparison.answer_diff


def test_the_verdict_is_the_replay_rules_verdict_only_the_names_differ() -> None:
    a, b = run("a", 0.02, "x"), run("b", 0.02, "x", ok=False)
    compared, replayed = compare_runs(a, b).diff, diff_runs(a, b)
    assert compared.verdict == replayed.verdict == "regression"
    assert [r.replace("compared run", "replay").replace("baseline", "original") for r in compared.reasons] == list(
        replayed.reasons
    )
