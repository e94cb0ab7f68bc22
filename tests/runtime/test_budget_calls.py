"""The budget holds before every paid call, and every paid call is recorded. Both engines.

The paid calls go through the real SDKs to the local fake provider (``tests/fake_llm.py``): plan
repair attempts and LLM summaries check the remaining budget first, and a call in flight when
the run is cancelled still has its tokens and price recorded when it answers.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from agent_core import events as ev
from agent_core.errors import ConcurrencyError
from agent_core.orchestrator import RunRequest
from agent_core.workbench import Workbench
from tests.fake_llm import (
    ANTHROPIC_PATH,
    OPENAI_PATH,
    FakeLLMServer,
    Scripted,
    anthropic_text_reply,
    anthropic_tool_reply,
    openai_reply,
)
from tests.runtime.conftest import DEFAULT_POLICY, make_settings
from tests.runtime.test_llm_runs import PLAN


def anthropic_bench(fake_llm: FakeLLMServer, database_url: str, workspace: Path, model: str, **extra: str) -> Workbench:
    settings = make_settings(
        database_url,
        workspace,
        AGENT_PLANNER="anthropic",
        ANTHROPIC_API_KEY="test-key-0123456789",
        ANTHROPIC_BASE_URL=fake_llm.anthropic_base_url,
        AGENT_MODEL=model,
        **extra,
    )
    return Workbench.open(settings)


def types(bench: Workbench, run_id: str) -> list[str]:
    return [e.type for e in bench.run_events(run_id)]


# --- the budget before every paid call ------------------------------------------------------------


def test_plan_repair_attempts_stop_when_the_budget_is_spent(
    fake_llm: FakeLLMServer, database_url: str, workspace: Path
) -> None:
    # gpt-4.1 at $2/$8 per million tokens: one invalid answer costs $0.014, more than the whole $0.01 budget.
    fake_llm.default(OPENAI_PATH, openai_reply("not a plan", model="gpt-4.1", usage=(3000, 1000)))
    bench = Workbench.open(
        make_settings(
            database_url,
            workspace,
            AGENT_PLANNER="openai",
            OPENAI_BASE_URL=fake_llm.openai_base_url,
            AGENT_MODEL="gpt-4.1",
        )
    )
    state = bench.run(RunRequest("Summarize notes.txt", budget_usd=0.01))
    assert types(bench, state.run_id) == [
        "RunStarted",
        "PlanRequested",
        "PlanRejected",
        "CostRecorded",
        "BudgetExceeded",
        "RunFailed",
    ]
    assert len(fake_llm.requests_to(OPENAI_PATH)) == 1  # no second paid attempt
    assert state.status == "failed" and state.budget_exceeded and state.cost_usd == 0.014
    assert state.failure_reason.startswith("budget exceeded: spent $0.0140 of $0.01 before plan attempt 2")
    bench.close()


def test_an_llm_summary_is_not_made_when_nothing_of_the_budget_is_left(
    fake_llm: FakeLLMServer, database_url: str, workspace: Path, tmp_path: Path
) -> None:
    # The policy's own budget rule would reject the step; the orchestrator holds the budget without it too.
    rule = "  - name: budget\n    kind: budget\n    description: No tool runs once the run has spent its USD budget.\n"
    text = DEFAULT_POLICY.read_text(encoding="utf-8")
    assert rule in text
    no_budget_rule = tmp_path / "no-budget-rule.yaml"
    no_budget_rule.write_text(text.replace(rule, ""), encoding="utf-8")
    # claude-haiku-4-5 at $1 per million input tokens: the plan spends exactly the $0.01 budget.
    fake_llm.script(ANTHROPIC_PATH, anthropic_tool_reply(PLAN, model="claude-haiku-4-5", usage=(10_000, 0)))
    bench = anthropic_bench(fake_llm, database_url, workspace, "claude-haiku-4-5", AGENT_POLICY=str(no_budget_rule))
    state = bench.run(RunRequest("Summarize notes.txt", budget_usd=0.01))
    assert state.status == "failed" and state.budget_exceeded
    assert len(fake_llm.requests_to(ANTHROPIC_PATH)) == 1  # the plan only: the summary was never asked for
    assert state.step("step_1").outcome == "succeeded"  # free steps still ran
    assert state.step("step_2").outcome == "pending"  # never decided on, never run
    assert types(bench, state.run_id)[-2:] == ["BudgetExceeded", "RunFailed"]
    assert "spent $0.0100 of $0.01 before step_2, whose summarize calls the LLM" in state.failure_reason
    bench.close()


def test_an_offline_run_with_a_spent_budget_still_summarizes_for_free(bench: Workbench) -> None:
    state = bench.run(RunRequest("Summarize notes.txt", budget_usd=0.01))
    assert state.status == "completed" and state.step("step_2").result["backend"] == "extractive-v2"  # type: ignore[union-attr]


# --- a call in flight when the run is cancelled ---------------------------------------------------


def advance_in_background(bench: Workbench, run_id: str) -> tuple[threading.Thread, dict[str, Any]]:
    outcome: dict[str, Any] = {}

    def advance() -> None:
        try:
            outcome["state"] = bench.orchestrator.advance(run_id)
        except ConcurrencyError as error:
            outcome["error"] = error

    thread = threading.Thread(target=advance)
    thread.start()
    return thread, outcome


def wait_for(condition: Callable[[], bool], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_a_summary_in_flight_when_the_run_is_cancelled_still_has_its_cost_recorded(
    fake_llm: FakeLLMServer, database_url: str, workspace: Path
) -> None:
    fake_llm.script(
        ANTHROPIC_PATH,
        anthropic_tool_reply(PLAN, usage=(1000, 500)),
        Scripted(anthropic_text_reply("A summary.", usage=(2000, 100)), delay_s=1.0),
    )
    bench = anthropic_bench(fake_llm, database_url, workspace, "claude-sonnet-4-6")
    run_id = bench.start_run(RunRequest("Summarize notes.txt"))
    thread, outcome = advance_in_background(bench, run_id)
    wait_for(lambda: len(fake_llm.requests_to(ANTHROPIC_PATH)) == 2)  # the summary is in flight
    bench.cancel(run_id, by="alice")
    thread.join(timeout=60)

    assert isinstance(outcome.get("error"), ConcurrencyError)  # the advancing process stopped at its next append
    events = bench.run_events(run_id)
    assert [e.type for e in events][-3:] == ["ToolExecuted", "RunCancelled", "CostRecorded"]
    late = events[-1].event
    assert isinstance(late, ev.CostRecorded) and late.source == "summarize"
    assert (late.input_tokens, late.output_tokens, late.usd) == (2000, 100, 0.0075)
    state = bench.run_state(run_id)
    assert state.status == "cancelled" and state.cost_usd == round(0.0105 + 0.0075, 6) == late.total_usd
    assert state.input_tokens == 3000 and bench.list_runs()[0].cost_usd == state.cost_usd  # the index agrees
    verified = bench.verify(run_id)
    assert verified.identical, verified.why
    assert any("after the run ended" in note for note in verified.notes)
    bench.close()


def test_a_plan_in_flight_when_the_run_is_cancelled_still_has_its_cost_recorded(
    fake_llm: FakeLLMServer, database_url: str, workspace: Path
) -> None:
    fake_llm.script(OPENAI_PATH, Scripted(openai_reply(json.dumps(PLAN), usage=(5000, 500)), delay_s=1.0))
    bench = Workbench.open(
        make_settings(database_url, workspace, AGENT_PLANNER="openai", OPENAI_BASE_URL=fake_llm.openai_base_url)
    )
    run_id = bench.start_run(RunRequest("Summarize notes.txt"))
    thread, outcome = advance_in_background(bench, run_id)
    wait_for(lambda: len(fake_llm.requests_to(OPENAI_PATH)) == 1)
    bench.cancel(run_id)
    thread.join(timeout=60)

    assert isinstance(outcome.get("error"), ConcurrencyError)
    assert types(bench, run_id) == ["RunStarted", "PlanRequested", "RunCancelled", "CostRecorded"]
    state = bench.run_state(run_id)
    assert state.status == "cancelled" and (state.input_tokens, state.output_tokens) == (5000, 500)
    assert state.cost_usd == round((5000 * 0.4 + 500 * 1.6) / 1e6, 6)  # gpt-4.1-mini
    assert bench.verify(run_id).identical
    bench.close()
