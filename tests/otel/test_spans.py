"""A run's events -> one GenAI-convention trace: names, parent-child, attributes, times, content, lineage."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind, StatusCode

from agent_core import events as ev
from agent_core.cli import main
from agent_core.orchestrator import RunRequest
from agent_core.otel import (
    COST_ATTRIBUTE,
    SEMCONV_SCHEMA_URL,
    TOTAL_COST_ATTRIBUTE,
    otlp_json,
    root_span_id,
    run_spans,
    trace_id_for,
)
from agent_core.plan import Plan, PlanStep
from agent_core.redaction import Redactor, mark
from agent_core.replay import Overrides
from agent_core.workbench import Workbench
from tests.fake_llm import ANTHROPIC_PATH, FakeLLMServer, anthropic_error, anthropic_text_reply, anthropic_tool_reply
from tests.otel.conftest import LLM_GOAL, LLM_PLAN, LLM_SUMMARY, SAVE_GOAL, STRICT_POLICY, llm_workbench, run_llm_goal

CONTENT_KEYS = {
    "gen_ai.input.messages",
    "gen_ai.output.messages",
    "gen_ai.system_instructions",
    "gen_ai.tool.call.arguments",
    "gen_ai.tool.call.result",
    "gen_ai.guardrail.result.reason",
    "agent_workbench.approval.comment",
    "agent_workbench.replay.reasons",
}


def ns(at: datetime) -> int:
    return (at - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1) * 1000


def attrs(span: ReadableSpan) -> dict[str, Any]:
    return dict(span.attributes or {})


def first(spans: list[ReadableSpan], name: str, **match: Any) -> ReadableSpan:
    for span in spans:
        a = attrs(span)
        if span.name == name and all(a.get(k) == v for k, v in match.items()):
            return span
    raise AssertionError(f"no span {name!r} with {match}: {[s.name for s in spans]}")


def event(events: list[ev.RecordedEvent], type_: str, step_id: str | None = None) -> ev.RecordedEvent:
    return next(
        e for e in events if e.type == type_ and (step_id is None or getattr(e.event, "step_id", None) == step_id)
    )


def everything(spans: list[ReadableSpan]) -> str:
    """Every attribute, event and status text of the spans, for 'is X anywhere' checks."""
    parts = []
    for s in spans:
        parts.append(json.dumps(attrs(s), default=str))
        parts.extend(json.dumps(dict(e.attributes or {}), default=str) for e in s.events)
        parts.append(s.status.description or "")
    return "\n".join(parts)


def test_an_llm_run_is_one_trace_of_genai_spans_with_tokens_cost_and_event_times(
    fake_llm: FakeLLMServer, sqlite_url: str, workspace: Path
) -> None:
    bench = llm_workbench(fake_llm, sqlite_url, workspace)
    run_id = run_llm_goal(bench)
    events = bench.run_events(run_id)
    spans = run_spans(events)

    assert [s.name for s in spans] == [
        "invoke_agent agent-workbench",
        "chat claude-sonnet-4-6",
        "apply_guardrail",
        "execute_tool read_file",
        "apply_guardrail",
        "execute_tool summarize",
        "chat claude-sonnet-4-6",
        "apply_guardrail",
        "execute_tool write_file",
    ]
    root, plan_chat, summarize, summary_chat = spans[0], spans[1], spans[5], spans[6]
    assert {s.context.trace_id for s in spans} == {trace_id_for(run_id)}
    assert root.parent is None and root.context.span_id == root_span_id(run_id)
    assert summary_chat.parent.span_id == summarize.context.span_id
    assert all(s.parent.span_id == root.context.span_id for s in spans[1:] if s is not summary_chat)
    assert len({s.context.span_id for s in spans}) == len(spans)
    assert all(s.resource.schema_url == SEMCONV_SCHEMA_URL == s.instrumentation_scope.schema_url for s in spans)

    state = bench.run_state(run_id)
    assert attrs(root) | {"gen_ai.conversation.id": run_id} == attrs(root)
    assert {
        k: attrs(root)[k]
        for k in (
            "gen_ai.operation.name",
            "gen_ai.agent.name",
            "gen_ai.provider.name",
            "gen_ai.request.model",
            "agent_workbench.run.status",
        )
    } == {
        "gen_ai.operation.name": "invoke_agent",
        "gen_ai.agent.name": "agent-workbench",
        "gen_ai.provider.name": "anthropic",
        "gen_ai.request.model": "claude-sonnet-4-6",
        "agent_workbench.run.status": "completed",
    }
    assert attrs(root)["gen_ai.usage.input_tokens"] == 3000 and attrs(root)["gen_ai.usage.output_tokens"] == 600
    assert attrs(root)[TOTAL_COST_ATTRIBUTE] == state.cost_usd == round(0.0105 + 0.0075, 6)

    assert plan_chat.kind is SpanKind.CLIENT and summary_chat.kind is SpanKind.CLIENT
    for chat, tokens, usd in ((plan_chat, (1000, 500), 0.0105), (summary_chat, (2000, 100), 0.0075)):
        a = attrs(chat)
        assert (a["gen_ai.usage.input_tokens"], a["gen_ai.usage.output_tokens"]) == tokens
        assert a[COST_ATTRIBUTE] == usd and a["gen_ai.response.finish_reasons"] == ("stop",)
        assert a["gen_ai.operation.name"] == "chat" and a["gen_ai.provider.name"] == "anthropic"
        assert a["gen_ai.request.model"] == "claude-sonnet-4-6" == a["gen_ai.response.model"]

    guards = [s for s in spans if s.name == "apply_guardrail"]
    assert [(attrs(g)["agent_workbench.step.id"], attrs(g)["gen_ai.guardrail.result.value"]) for g in guards] == [
        ("step_1", "approved"),
        ("step_2", "approved"),
        ("step_3", "approved"),
    ]
    assert all(attrs(g)["gen_ai.guardrail.policy.id"] == "default" for g in guards)
    assert all(attrs(g)["agent_workbench.guardrail.rule"] == "allowed" for g in guards)
    tools = [s for s in spans if s.name.startswith("execute_tool")]
    assert [
        (attrs(t)["gen_ai.tool.name"], attrs(t)["gen_ai.tool.call.id"], attrs(t)["agent_workbench.tool.outcome"])
        for t in tools
    ] == [("read_file", "step_1", "success"), ("summarize", "step_2", "success"), ("write_file", "step_3", "success")]

    # every time is an event's time
    assert (root.start_time, root.end_time) == (ns(events[0].at), ns(event(events, "RunCompleted").at))
    assert (plan_chat.start_time, plan_chat.end_time) == (
        ns(event(events, "PlanRequested").at),
        ns(event(events, "PlanGenerated").at),
    )
    for tool, step in zip(tools, ("step_1", "step_2", "step_3"), strict=True):
        assert tool.start_time == ns(event(events, "ToolExecuted", step).at)
        assert tool.end_time == ns(event(events, "ObservationCaptured", step).at)
    assert (summary_chat.start_time, summary_chat.end_time) == (summarize.start_time, summarize.end_time)
    assert guards[0].end_time == ns(event(events, "ToolApproved", "step_1").at)
    assert all(s.status.status_code is StatusCode.UNSET for s in spans)
    bench.close()


def test_a_failed_tool_is_an_error_span_and_a_rejected_step_runs_no_tool(offline_bench: Workbench) -> None:
    state = offline_bench.run(RunRequest("Summarize missing.txt"))
    spans = run_spans(offline_bench.run_events(state.run_id))

    read = first(spans, "execute_tool read_file")
    assert read.status.status_code is StatusCode.ERROR and attrs(read)["error.type"] == "tool_error"
    assert attrs(read)["agent_workbench.tool.outcome"] == "failure"
    assert read.status.description == "the tool failed"  # the error text names the file: content
    rejected = first(spans, "apply_guardrail", **{"agent_workbench.step.id": "step_2"})
    assert attrs(rejected)["gen_ai.guardrail.result.value"] == "rejected"
    assert attrs(rejected)["agent_workbench.guardrail.rule"] == "required_fields"
    assert not [s for s in spans if s.name == "execute_tool summarize"]
    assert "missing.txt" not in everything(spans)
    assert "missing.txt" in everything(run_spans(offline_bench.run_events(state.run_id), include_content=True))


def test_a_hold_is_a_guardrail_span_and_a_wait_for_a_person_until_the_decision(offline_bench: Workbench) -> None:
    offline_bench.run(RunRequest(SAVE_GOAL))
    held = offline_bench.run(RunRequest(SAVE_GOAL))  # summary.md exists now: overwriting it needs a person
    assert held.status == "waiting_approval"

    waiting = run_spans(offline_bench.run_events(held.run_id))
    wait = first(waiting, "await_approval write_file")
    assert attrs(wait)["agent_workbench.approval.outcome"] == "pending"
    assert attrs(waiting[0])["agent_workbench.run.status"] == "waiting_approval"
    assert waiting[0].end_time == wait.end_time == ns(offline_bench.run_events(held.run_id)[-1].at)

    offline_bench.approve(held.run_id, "step_3", by="ana", comment="fine, overwrite it")
    assert offline_bench.advance(held.run_id).status == "completed"
    events = offline_bench.run_events(held.run_id)
    spans = run_spans(events)
    guard = first(spans, "apply_guardrail", **{"agent_workbench.step.id": "step_3"})
    assert attrs(guard)["gen_ai.guardrail.result.value"] == "held"
    assert attrs(guard)["agent_workbench.guardrail.rule"] == "no_overwrite"
    wait = first(spans, "await_approval write_file")
    assert (wait.start_time, wait.end_time) == (
        ns(event(events, "ApprovalRequested").at),
        ns(event(events, "ApprovalGranted").at),
    )
    assert attrs(wait)["agent_workbench.approval.outcome"] == "granted"
    assert attrs(wait)["agent_workbench.approval.by"] == "ana"
    assert "agent_workbench.approval.comment" not in attrs(wait)
    assert (
        first(run_spans(events, include_content=True), "await_approval write_file").attributes[
            "agent_workbench.approval.comment"
        ]
        == "fine, overwrite it"
    )
    assert first(spans, "execute_tool write_file").start_time > wait.end_time


def test_rejected_and_truncated_answers_are_error_chat_spans_with_their_finish_reason(
    fake_llm: FakeLLMServer, sqlite_url: str, workspace: Path
) -> None:
    bench = llm_workbench(fake_llm, sqlite_url, workspace)
    fake_llm._queues.clear()  # this test scripts its own answers
    fake_llm.script(
        ANTHROPIC_PATH,
        anthropic_text_reply("I would rather chat about the weather.", usage=(300, 20)),
        anthropic_tool_reply(LLM_PLAN, usage=(400, 4096), stop_reason="max_tokens"),
        anthropic_tool_reply(LLM_PLAN, usage=(500, 200)),
        anthropic_text_reply(LLM_SUMMARY, usage=(10, 10)),
    )
    run_id = run_llm_goal(bench)
    chats = [
        s
        for s in run_spans(bench.run_events(run_id))
        if s.name.startswith("chat") and s.parent and attrs(s).get("agent_workbench.plan.attempt")
    ]
    assert [attrs(c)["agent_workbench.plan.attempt"] for c in chats] == [1, 2, 3]
    assert [attrs(c)["agent_workbench.plan.outcome"] for c in chats] == ["rejected", "rejected", "generated"]
    assert [attrs(c)["gen_ai.response.finish_reasons"] for c in chats] == [("stop",), ("max_tokens",), ("stop",)]
    assert [attrs(c)["gen_ai.usage.output_tokens"] for c in chats] == [20, 4096, 200]
    assert [c.status.status_code for c in chats] == [StatusCode.ERROR, StatusCode.ERROR, StatusCode.UNSET]
    assert attrs(chats[0])["error.type"] == "plan_rejected" and chats[0].status.description == (
        "the answer was not a valid plan"
    )
    assert all(COST_ATTRIBUTE in attrs(c) for c in chats)
    bench.close()


def test_a_provider_failure_fails_its_chat_span_and_the_root(
    fake_llm: FakeLLMServer, sqlite_url: str, workspace: Path
) -> None:
    bench = llm_workbench(fake_llm, sqlite_url, workspace)
    fake_llm._queues.clear()
    fake_llm.script(ANTHROPIC_PATH, anthropic_error(400, "invalid_request_error", "model knows no such thing"))
    state = bench.run(RunRequest(LLM_GOAL))
    assert state.status == "failed"
    spans = run_spans(bench.run_events(state.run_id))
    root, chat = spans[0], spans[1]
    assert attrs(chat)["error.type"] == "provider_error" and "gen_ai.usage.input_tokens" not in attrs(chat)
    assert root.status.status_code is StatusCode.ERROR and attrs(root)["error.type"] == "run_failed"
    assert root.status.description == "the run failed"
    detailed = run_spans(bench.run_events(state.run_id), include_content=True)[0]
    assert "model knows no such thing" in (detailed.status.description or "")
    bench.close()


def test_content_is_left_out_by_default_and_redacted_when_included(
    fake_llm: FakeLLMServer, sqlite_url: str, workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "zebra-7734-opaque-customer-value"  # unknown as a secret when the run was stored
    bench = llm_workbench(fake_llm, sqlite_url, workspace)
    state = bench.run(RunRequest(f"{LLM_GOAL} for customer {secret}"))
    events = bench.run_events(state.run_id)
    assert secret in json.dumps(events[0].event.to_payload())

    plain = run_spans(events)
    text = everything(plain)
    assert not {k for s in plain for k in attrs(s)} & CONTENT_KEYS
    for content in (secret, "customer", LLM_SUMMARY, "Project notes", "You are the planner"):
        assert content not in text

    detailed = run_spans(events, include_content=True, redactor=Redactor(secrets=(secret,)))
    text = everything(detailed)
    assert secret not in text and mark("secret") in text
    assert {
        "gen_ai.input.messages",
        "gen_ai.system_instructions",
        "gen_ai.output.messages",
        "gen_ai.tool.call.arguments",
        "gen_ai.tool.call.result",
    } <= {k for s in detailed for k in attrs(s)}
    messages = json.loads(attrs(detailed[0])["gen_ai.input.messages"])
    assert messages == [
        {"role": "user", "parts": [{"type": "text", "content": f"{LLM_GOAL} for customer {mark('secret')}"}]}
    ]
    assert (
        LLM_SUMMARY
        in attrs(first(detailed, "chat claude-sonnet-4-6", **{"gen_ai.usage.input_tokens": 2000}))[
            "gen_ai.output.messages"
        ]
    )

    # the CLI's redactor knows the secrets of its environment
    monkeypatch.setenv("CUSTOMER_API_KEY", secret)
    out = io.StringIO()
    assert (
        main(["export", state.run_id, "--format", "otlp-json", "--include-content", "--db", sqlite_url], out=out) == 0
    )
    assert secret not in out.getvalue() and mark("env:CUSTOMER_API_KEY") in out.getvalue()
    assert "customer" in out.getvalue()
    bench.close()


def test_a_replay_links_to_the_root_span_of_its_original(offline_bench: Workbench) -> None:
    original = offline_bench.run(RunRequest(SAVE_GOAL)).run_id
    replay = offline_bench.whatif(original, Overrides(policy_path=STRICT_POLICY, tools="recorded")).replay_id
    original_root = run_spans(offline_bench.run_events(original))[0]
    root = run_spans(offline_bench.run_events(replay))[0]

    assert root.context.trace_id != original_root.context.trace_id
    [link] = root.links
    assert (link.context.trace_id, link.context.span_id) == (
        original_root.context.trace_id,
        original_root.context.span_id,
    )
    assert dict(link.attributes or {}) == {
        "agent_workbench.link.type": "replay_of",
        "agent_workbench.replay.mode": "whatif",
    }
    assert attrs(root)["agent_workbench.replay.of"] == original
    assert attrs(root)["agent_workbench.replay.verdict"] == offline_bench.run_state(replay).verdict
    assert [e.name for e in root.events] == ["replay_diffed"]
    assert not original_root.links


def test_two_exports_of_a_run_are_byte_identical(offline_bench: Workbench, sqlite_url: str) -> None:
    first_run = offline_bench.run(RunRequest(SAVE_GOAL)).run_id
    second_run = offline_bench.run(RunRequest("Summarize notes.txt")).run_id

    def export(run_id: str, *flags: str) -> str:
        out = io.StringIO()
        assert main(["export", run_id, "--format", "otlp-json", *flags, "--db", sqlite_url], out=out) == 0
        return out.getvalue()

    assert export(first_run) == export(first_run)
    assert export(first_run, "--include-content") == export(first_run, "--include-content")
    assert export(first_run) != export(second_run)
    again = Workbench.open(offline_bench.settings)  # another store connection, same log, same bytes
    assert otlp_json(run_spans(again.run_events(first_run))) + "\n" == export(first_run)
    again.close()
    assert trace_id_for(first_run) != trace_id_for(second_run)


def _recorded(run_id: str, *events: ev.DomainEvent) -> list[ev.RecordedEvent]:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    return [
        ev.RecordedEvent(seq, run_id, seq, e.type, e.schema_version, e.actor, start + timedelta(seconds=seq), "", e)
        for seq, e in enumerate(events, start=1)
    ]


def test_an_interrupted_step_and_an_unanswered_request_end_where_the_log_says() -> None:
    plan = Plan(
        steps=[PlanStep(id="step_1", objective="o", tool="read_file", input={"path": "a.txt"}, success_criteria="s")]
    )
    started = ev.RunStarted(
        goal="g",
        max_steps=2,
        budget_usd=0.5,
        policy_sha="ab" * 32,
        planner=ev.PlannerInfo(provider="offline", model="m", prompt_sha="cd" * 32),
    )
    events = _recorded(
        "run-x",
        started,
        ev.PlanRequested(provider="offline", model="m", system_prompt="p", user_message="u"),
        ev.PlanGenerated(plan=plan, raw_text="{}"),
        ev.ToolApproved(step_id="step_1", tool="read_file", rule="allowed", reason="ok"),
        ev.ToolExecuted(step_id="step_1", tool="read_file", input={"path": "a.txt"}),
        ev.StepInterrupted(step_id="step_1", tool="read_file", next_action="re-run (read-only tool)"),
        ev.ToolExecuted(step_id="step_1", tool="read_file", input={"path": "a.txt"}),
        ev.ObservationCaptured(step_id="step_1", tool="read_file", result={"success": True, "output": "x"}),
        ev.PlanRequested(provider="offline", model="m", system_prompt="p", user_message="u", attempt=2),
    )
    spans = run_spans(events)
    first_try, second_try = [s for s in spans if s.name == "execute_tool read_file"]
    assert attrs(first_try)["agent_workbench.tool.outcome"] == "interrupted"
    assert first_try.status.status_code is StatusCode.ERROR and first_try.end_time == ns(events[5].at)
    assert attrs(second_try)["agent_workbench.tool.outcome"] == "success"
    assert first_try.context.span_id != second_try.context.span_id
    assert spans[1].kind is SpanKind.INTERNAL  # the offline planner runs in-process
    unanswered = spans[-1]
    assert unanswered.name == "chat m" and attrs(unanswered)["error.type"] == "no_answer_recorded"
    assert unanswered.end_time == ns(events[-1].at) == spans[0].end_time
    assert attrs(spans[0])["agent_workbench.run.status"] == "running"
    assert [e.name for e in spans[0].events] == ["step_interrupted"]
    with pytest.raises(ValueError):
        run_spans([])
