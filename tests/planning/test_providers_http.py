"""The real SDKs against a loopback server playing the Anthropic and OpenAI APIs.

Each test asserts on what the server received (model, system prompt, schema or tool) and on
the events ``request_plan`` emitted.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from agent_core.events import (
    REJECTED_EXCERPT_CHARS,
    CostRecorded,
    DomainEvent,
    PlanGenerated,
    PlanRejected,
    PlanRequested,
    answer_sha256,
)
from agent_core.planning import PLAN_JSON_SCHEMA, SYSTEM_PROMPT, PlanLimits, PlanOutcome, request_plan
from agent_core.pricing import default_prices
from agent_core.providers import AnthropicPlanner, OpenAIPlanner, Planner
from tests.fake_llm import (
    ANTHROPIC_PATH,
    FAST_RETRY,
    OPENAI_PATH,
    FakeLLMServer,
    Scripted,
    anthropic_error,
    anthropic_text_reply,
    anthropic_tool_reply,
    free_port,
    openai_error,
    openai_reply,
)

GOAL = "Research event sourcing and summarize it"
LIMITS = PlanLimits(max_steps=3)
PLAN: dict[str, Any] = {
    "steps": [
        {
            "id": "step_1",
            "objective": "Search",
            "tool": "web_search",
            "input": {"query": "event sourcing"},
            "success_criteria": "found",
        },
        {
            "id": "step_2",
            "objective": "Summarize",
            "tool": "summarize",
            "input": {"from_steps": ["step_1"]},
            "success_criteria": "short",
        },
    ],
    "stop_conditions": ["nothing found"],
}
PLAN_TEXT = json.dumps(PLAN)


def run(planner: Planner) -> tuple[PlanOutcome, list[DomainEvent]]:
    events: list[DomainEvent] = []
    outcome = request_plan(
        planner,
        GOAL,
        LIMITS,
        workspace_files=["notes.txt"],
        emit=lambda *batch: events.extend(batch),
        prices=default_prices(),
    )
    return outcome, events


def types(events: list[DomainEvent]) -> list[str]:
    return [e.type for e in events]


def anthropic(server: FakeLLMServer, **options: Any) -> AnthropicPlanner:
    settings = {"timeout_s": 5.0, "max_retries": 2, **options}
    return AnthropicPlanner("claude-sonnet-4-6", "sk-ant-test-key-123456", server.anthropic_base_url, **settings)


def openai(server: FakeLLMServer, key: str | None = "sk-test-openai-key-1234567", **options: Any) -> OpenAIPlanner:
    settings = {"timeout_s": 5.0, "max_retries": 2, **options}
    return OpenAIPlanner("gpt-4.1-mini", key, server.openai_base_url, **settings)


# --- Anthropic -------------------------------------------------------------------------------


def test_anthropic_valid_plan_through_forced_tool_use(fake_llm: FakeLLMServer) -> None:
    fake_llm.script(ANTHROPIC_PATH, anthropic_tool_reply(PLAN, usage=(1000, 200)))
    outcome, events = run(anthropic(fake_llm))

    assert outcome.plan is not None and outcome.plan.tools() == ["web_search", "summarize"]
    assert types(events) == ["PlanRequested", "PlanGenerated", "CostRecorded"]
    body = fake_llm.requests_to(ANTHROPIC_PATH)[0].body
    assert body["model"] == "claude-sonnet-4-6"
    assert body["system"] == SYSTEM_PROMPT
    assert body["tools"][0]["name"] == "submit_plan" and body["tools"][0]["input_schema"] == PLAN_JSON_SCHEMA
    assert body["tool_choice"] == {"type": "tool", "name": "submit_plan"}
    assert GOAL in body["messages"][0]["content"]
    generated = events[1]
    assert isinstance(generated, PlanGenerated)
    assert json.loads(generated.raw_text) == PLAN
    assert (generated.usage.input_tokens, generated.usage.output_tokens) == (1000, 200)
    cost = events[2]
    assert isinstance(cost, CostRecorded) and cost.priced
    assert cost.usd == pytest.approx((1000 * 3 + 200 * 15) / 1e6)
    assert cost.total_usd == cost.usd == outcome.spent_usd


def test_anthropic_text_answer_in_a_fence_is_accepted(fake_llm: FakeLLMServer) -> None:
    fake_llm.script(ANTHROPIC_PATH, anthropic_text_reply(f"```json\n{PLAN_TEXT}\n```"))
    outcome, events = run(anthropic(fake_llm))
    assert outcome.plan is not None
    assert isinstance(events[1], PlanGenerated) and events[1].raw_text.startswith("```json")


def test_anthropic_repair_succeeds_on_the_second_attempt(fake_llm: FakeLLMServer) -> None:
    broken = {**PLAN, "steps": [{**PLAN["steps"][0], "tool": "browse"}]}
    fake_llm.script(ANTHROPIC_PATH, anthropic_tool_reply(broken), anthropic_tool_reply(PLAN))
    outcome, events = run(anthropic(fake_llm))

    assert outcome.plan is not None and outcome.attempts == 2
    assert types(events) == [
        "PlanRequested",
        "PlanRejected",
        "CostRecorded",
        "PlanRequested",
        "PlanGenerated",
        "CostRecorded",
    ]
    rejected = events[1]
    assert isinstance(rejected, PlanRejected) and rejected.retryable and "unknown tool 'browse'" in rejected.error
    second = fake_llm.requests_to(ANTHROPIC_PATH)[1].body["messages"][0]["content"]
    assert "Your previous answer was rejected" in second and "unknown tool 'browse'" in second
    assert isinstance(events[3], PlanRequested) and events[3].attempt == 2 and events[3].user_message == second
    costs = [e for e in events if isinstance(e, CostRecorded)]
    assert costs[1].total_usd == pytest.approx(costs[0].usd + costs[1].usd)


def test_anthropic_three_bad_answers_fail_the_run_with_the_last_error(fake_llm: FakeLLMServer) -> None:
    fake_llm.default(ANTHROPIC_PATH, anthropic_text_reply("I would search the web first."))
    outcome, events = run(anthropic(fake_llm))

    assert outcome.plan is None and outcome.attempts == 3
    assert types(events) == ["PlanRequested", "PlanRejected", "CostRecorded"] * 3
    rejections = [e for e in events if isinstance(e, PlanRejected)]
    assert [r.retryable for r in rejections] == [True, True, False]
    assert "no valid plan after 3 attempts" in outcome.reason and "not JSON" in outcome.reason
    assert len(fake_llm.requests_to(ANTHROPIC_PATH)) == 3


def test_anthropic_429_is_retried_then_succeeds(fake_llm: FakeLLMServer) -> None:
    fake_llm.script(
        ANTHROPIC_PATH,
        anthropic_error(429, "rate_limit_error", "slow down", FAST_RETRY),
        anthropic_tool_reply(PLAN),
    )
    outcome, events = run(anthropic(fake_llm))
    assert outcome.plan is not None
    assert types(events) == ["PlanRequested", "PlanGenerated", "CostRecorded"]
    assert len(fake_llm.requests_to(ANTHROPIC_PATH)) == 2


def test_anthropic_429_beyond_the_retry_bound_fails_with_advice(fake_llm: FakeLLMServer) -> None:
    fake_llm.default(ANTHROPIC_PATH, anthropic_error(429, "rate_limit_error", "slow down", FAST_RETRY))
    outcome, events = run(anthropic(fake_llm, max_retries=2))
    assert len(fake_llm.requests_to(ANTHROPIC_PATH)) == 3
    assert types(events) == ["PlanRequested", "PlanRejected"]
    assert "rate limiting (429)" in outcome.reason and "after 2 retries" in outcome.reason


def test_anthropic_bad_key_is_a_clear_non_retryable_rejection(fake_llm: FakeLLMServer) -> None:
    fake_llm.script(ANTHROPIC_PATH, anthropic_error(401, "authentication_error", "invalid x-api-key"))
    outcome, events = run(anthropic(fake_llm))
    rejected = events[-1]
    assert isinstance(rejected, PlanRejected) and not rejected.retryable
    assert "rejected the API key (401 Unauthorized); check ANTHROPIC_API_KEY" in outcome.reason
    assert "sk-ant-test-key-123456" not in json.dumps([e.to_payload() for e in events])
    assert len(fake_llm.requests_to(ANTHROPIC_PATH)) == 1


def test_anthropic_500_after_retries(fake_llm: FakeLLMServer) -> None:
    fake_llm.default(ANTHROPIC_PATH, anthropic_error(500, "api_error", "internal", FAST_RETRY))
    outcome, events = run(anthropic(fake_llm, max_retries=1))
    assert len(fake_llm.requests_to(ANTHROPIC_PATH)) == 2
    assert types(events) == ["PlanRequested", "PlanRejected"]
    assert "server error (500)" in outcome.reason and "try again later" in outcome.reason


def test_anthropic_answer_slower_than_the_timeout(fake_llm: FakeLLMServer) -> None:
    fake_llm.script(ANTHROPIC_PATH, Scripted(anthropic_tool_reply(PLAN), delay_s=5))
    outcome, events = run(anthropic(fake_llm, timeout_s=0.2, max_retries=0))
    assert types(events) == ["PlanRequested", "PlanRejected"]
    assert "did not answer within 0.2 s" in outcome.reason and "AGENT_LLM_TIMEOUT" in outcome.reason


def test_anthropic_refused_connection() -> None:
    port = free_port()
    planner = AnthropicPlanner("claude-sonnet-4-6", "k", f"http://127.0.0.1:{port}", timeout_s=2, max_retries=0)
    outcome, events = run(planner)
    assert types(events) == ["PlanRequested", "PlanRejected"]
    assert f"cannot connect to Anthropic at http://127.0.0.1:{port}" in outcome.reason
    assert "ANTHROPIC_BASE_URL" in outcome.reason


def test_anthropic_truncated_answer_is_a_clear_rejection(fake_llm: FakeLLMServer) -> None:
    fake_llm.script(ANTHROPIC_PATH, anthropic_text_reply('{"steps": [{"id": "st', stop_reason="max_tokens"))
    fake_llm.script(ANTHROPIC_PATH, anthropic_tool_reply(PLAN))
    outcome, events = run(anthropic(fake_llm))
    rejected = events[1]
    assert isinstance(rejected, PlanRejected)
    assert rejected.error.startswith("the answer was cut off at the model's token limit")
    assert outcome.plan is not None


def test_anthropic_empty_answer(fake_llm: FakeLLMServer) -> None:
    fake_llm.default(ANTHROPIC_PATH, anthropic_text_reply(""))
    outcome, events = run(anthropic(fake_llm))
    assert sum(isinstance(e, PlanRejected) for e in events) == 3
    assert outcome.plan is None and "the answer was empty" in outcome.reason


# --- OpenAI and compatible servers -----------------------------------------------------------


def test_openai_valid_plan_with_json_schema_output(fake_llm: FakeLLMServer) -> None:
    fake_llm.script(OPENAI_PATH, openai_reply(PLAN_TEXT, usage=(2000, 500)))
    outcome, events = run(openai(fake_llm))

    assert outcome.plan is not None
    request = fake_llm.requests_to(OPENAI_PATH)[0]
    body = request.body
    assert body["model"] == "gpt-4.1-mini"
    assert body["messages"][0] == {"role": "system", "content": SYSTEM_PROMPT}
    assert body["response_format"]["type"] == "json_schema"
    assert body["response_format"]["json_schema"]["schema"] == PLAN_JSON_SCHEMA
    assert request.headers["authorization"] == "Bearer sk-test-openai-key-1234567"
    cost = events[-1]
    assert isinstance(cost, CostRecorded) and cost.usd == pytest.approx((2000 * 0.4 + 500 * 1.6) / 1e6)


def test_openai_server_refusing_the_schema_falls_back_to_json_mode(fake_llm: FakeLLMServer) -> None:
    fake_llm.script(
        OPENAI_PATH, openai_error(400, "response_format json_schema is not supported"), openai_reply(PLAN_TEXT)
    )
    fake_llm.script(OPENAI_PATH, openai_reply(PLAN_TEXT))
    planner = openai(fake_llm)
    outcome, _ = run(planner)
    assert outcome.plan is not None
    formats = [r.body["response_format"] for r in fake_llm.requests_to(OPENAI_PATH)]
    assert formats[0]["type"] == "json_schema" and formats[1] == {"type": "json_object"}
    run(planner)  # the planner remembers: no schema offered again
    assert fake_llm.requests_to(OPENAI_PATH)[2].body["response_format"] == {"type": "json_object"}


def test_openai_compatible_server_without_a_key(fake_llm: FakeLLMServer) -> None:
    fake_llm.script(OPENAI_PATH, openai_reply(PLAN_TEXT, model="llama3.1:8b", usage=None))
    outcome, events = run(openai(fake_llm, key=None))
    assert outcome.plan is not None
    cost = events[-1]
    assert isinstance(cost, CostRecorded) and (cost.model, cost.usd, cost.priced) == ("llama3.1:8b", 0.0, True)
    assert "max_tokens" in fake_llm.requests_to(OPENAI_PATH)[0].body


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("not json at all", "not JSON"),
        (PLAN_TEXT + PLAN_TEXT, "more than one JSON value"),
        (json.dumps({"steps": [{"id": "step_1", "tool": "web_search"}]}), "field 'objective': missing"),
        (json.dumps({**PLAN, "steps": PLAN["steps"] * 2}), "4 steps but at most 3"),
        (json.dumps({"steps": [{**PLAN["steps"][0], "tool": "shell"}]}), "unknown tool 'shell'"),
        (json.dumps({**PLAN, "padding": "x" * 150_000}), "more than the 100,000"),
        ("", "the answer was empty"),
    ],
    ids=["not-json", "two-objects", "schema", "too-many-steps", "unknown-tool", "huge", "empty"],
)
def test_openai_bad_answers_are_rejected_three_times(fake_llm: FakeLLMServer, answer: str, expected: str) -> None:
    fake_llm.default(OPENAI_PATH, openai_reply(answer))
    outcome, events = run(openai(fake_llm))
    assert outcome.plan is None and expected in outcome.reason
    rejections = [e for e in events if isinstance(e, PlanRejected)]
    assert len(rejections) == 3 and all(expected in r.error for r in rejections)
    first = rejections[0]  # kept as length, sha256 and excerpt: a 150,000-character answer is not stored whole
    assert (first.raw_chars, first.raw_sha256) == (len(answer), answer_sha256(answer))
    assert first.raw_excerpt == answer[:REJECTED_EXCERPT_CHARS] and len(first.raw_excerpt) <= 2000


def test_openai_429_then_success_and_500(fake_llm: FakeLLMServer) -> None:
    fake_llm.script(OPENAI_PATH, openai_error(429, "rate limited", FAST_RETRY), openai_reply(PLAN_TEXT))
    outcome, _ = run(openai(fake_llm))
    assert outcome.plan is not None and len(fake_llm.requests_to(OPENAI_PATH)) == 2

    fake_llm.default(OPENAI_PATH, openai_error(503, "overloaded", FAST_RETRY))
    outcome, events = run(openai(fake_llm, max_retries=1))
    assert types(events) == ["PlanRequested", "PlanRejected"] and "server error (503)" in outcome.reason


def test_openai_timeout_refused_connection_and_length(fake_llm: FakeLLMServer) -> None:
    fake_llm.script(OPENAI_PATH, Scripted(openai_reply(PLAN_TEXT), delay_s=5))
    outcome, _ = run(openai(fake_llm, timeout_s=0.2, max_retries=0))
    assert "did not answer within 0.2 s" in outcome.reason

    refused = OpenAIPlanner("m", None, f"http://127.0.0.1:{free_port()}/v1", timeout_s=2, max_retries=0)
    outcome, _ = run(refused)
    assert "cannot connect to OpenAI-compatible server" in outcome.reason and "OPENAI_BASE_URL" in outcome.reason

    fake_llm.default(OPENAI_PATH, openai_reply('{"steps": [', finish_reason="length"))
    outcome, _ = run(openai(fake_llm))
    assert "cut off at the model's token limit" in outcome.reason


def test_openai_bad_key_and_unknown_model(fake_llm: FakeLLMServer) -> None:
    fake_llm.script(OPENAI_PATH, openai_error(401, "Incorrect API key provided"))
    outcome, _ = run(openai(fake_llm))
    assert "check OPENAI_API_KEY" in outcome.reason
    fake_llm.script(OPENAI_PATH, openai_error(404, "model not found"))
    outcome, _ = run(openai(fake_llm))
    assert "does not know model 'gpt-4.1-mini'" in outcome.reason and "AGENT_MODEL" in outcome.reason


def test_summarize_calls_both_providers_as_plain_completions(fake_llm: FakeLLMServer) -> None:
    fake_llm.script(ANTHROPIC_PATH, anthropic_text_reply("A short summary."))
    fake_llm.script(OPENAI_PATH, openai_reply("Another summary."))
    claude = anthropic(fake_llm).summarize("long text", "Summarize in 50 words.")
    gpt = openai(fake_llm).summarize("long text", "Summarize in 50 words.")
    assert (claude.text, gpt.text) == ("A short summary.", "Another summary.")
    assert "tools" not in fake_llm.requests_to(ANTHROPIC_PATH)[0].body
    assert "response_format" not in fake_llm.requests_to(OPENAI_PATH)[0].body
