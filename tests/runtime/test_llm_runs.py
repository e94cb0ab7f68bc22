"""Runs planned by a real SDK against a local fake provider: costs, the LLM summarize tool, the budget stop."""

from __future__ import annotations

import json
from pathlib import Path

from agent_core import events as ev
from agent_core.orchestrator import RunRequest
from agent_core.workbench import Workbench
from tests.fake_llm import (
    ANTHROPIC_PATH,
    OPENAI_PATH,
    READ_SUMMARIZE_WRITE_PLAN,
    FakeLLMServer,
    anthropic_text_reply,
    anthropic_tool_reply,
    openai_reply,
)
from tests.runtime.conftest import make_settings

PLAN = READ_SUMMARIZE_WRITE_PLAN


def test_anthropic_run_costs_plan_and_summary_and_writes_the_llm_summary(
    fake_llm: FakeLLMServer, sqlite_url: str, workspace: Path
) -> None:
    fake_llm.script(
        ANTHROPIC_PATH,
        anthropic_tool_reply(PLAN, usage=(1000, 500)),
        anthropic_text_reply("The notes say: keep every decision as an event.", usage=(2000, 100)),
    )
    settings = make_settings(
        sqlite_url,
        workspace,
        AGENT_PLANNER="anthropic",
        ANTHROPIC_API_KEY="test-key-0123456789",
        ANTHROPIC_BASE_URL=fake_llm.anthropic_base_url,
        AGENT_MODEL="claude-sonnet-4-6",
    )
    bench = Workbench.open(settings)
    state = bench.run(RunRequest("Summarize notes.txt with the LLM"))
    assert state.status == "completed", state.failure_reason
    assert (workspace / "llm-summary.md").read_text() == "The notes say: keep every decision as an event."
    costs = [e.event for e in bench.run_events(state.run_id) if isinstance(e.event, ev.CostRecorded)]
    assert [(c.source, c.input_tokens, c.output_tokens) for c in costs] == [
        ("planner", 1000, 500),
        ("summarize", 2000, 100),
    ]
    # claude-sonnet-4-6 at $3 / $15 per million tokens
    assert costs[0].usd == 0.0105 and costs[1].total_usd == round(0.0105 + 0.0075, 6)
    assert state.cost_usd == costs[1].total_usd and state.input_tokens == 3000
    plan_request = fake_llm.requests_to(ANTHROPIC_PATH)[0].body
    assert plan_request["model"] == "claude-sonnet-4-6" and "notes.txt" in json.dumps(plan_request["messages"])
    assert "test-key-0123456789" not in json.dumps([e.event.to_payload() for e in bench.run_events(state.run_id)])
    bench.close()


def test_budget_stop_writes_budget_exceeded_then_run_failed(
    fake_llm: FakeLLMServer, sqlite_url: str, workspace: Path
) -> None:
    fake_llm.script(OPENAI_PATH, openai_reply(json.dumps(PLAN), model="gpt-4.1", usage=(200_000, 100_000)))
    settings = make_settings(
        sqlite_url,
        workspace,
        AGENT_PLANNER="openai",
        OPENAI_BASE_URL=fake_llm.openai_base_url,
        AGENT_MODEL="gpt-4.1",
    )
    bench = Workbench.open(settings)
    state = bench.run(RunRequest("Summarize notes.txt", budget_usd=0.50))
    types = [e.type for e in bench.run_events(state.run_id)]
    assert types[-2:] == ["BudgetExceeded", "RunFailed"] and "ToolExecuted" not in types
    assert state.status == "failed" and state.budget_exceeded
    assert (
        "budget exceeded: spent $1.2000 of $0.50" in state.failure_reason and "raise the budget" in state.failure_reason
    )
    assert not (workspace / "llm-summary.md").exists()
    bench.close()
