"""One run's events -> one OpenTelemetry trace in the GenAI semantic conventions.

Every span is built after the fact from the event log: its start and end are the ``at`` of the
events that open and close it, and its trace and span ids are hashes of the run id and the
opening event's seq. So the same run always maps to the same spans, byte for byte.

The shape of a trace (see README, "OpenTelemetry"):

    invoke_agent agent-workbench                 RunStarted .. RunCompleted/RunFailed/RunCancelled
    ├─ chat {model}                              PlanRequested .. PlanGenerated/PlanRejected
    ├─ apply_guardrail                           the previous event .. ToolApproved/ToolRejected/ApprovalRequested
    ├─ await_approval {tool}                     ApprovalRequested .. ApprovalGranted/ApprovalDenied
    └─ execute_tool {tool}                       ToolExecuted .. ObservationCaptured (or StepInterrupted)
       └─ chat {model}                           the LLM call of a summarize step, when it made one

Prompt and tool content (goal, prompts, plan text, tool input and output, free-text reasons)
is left out unless asked for, and then always goes through the redactor.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import PurePath
from typing import Any

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags
from opentelemetry.util.types import AttributeValue

from agent_core import events as ev
from agent_core.planning.request import PROVIDER_FAILURE_MARKER, TRUNCATED_MARKER
from agent_core.projections import fold
from agent_core.redaction import Redactor

SEMCONV_SCHEMA_URL = "https://opentelemetry.io/schemas/gen-ai-dev/1.42.0-dev"
"""The GenAI semantic conventions these spans follow (open-telemetry/semantic-conventions-genai, registry
schema ``gen-ai-dev/1.42.0-dev`` over core semantic conventions 1.44.0); on the resource and the scope."""

AGENT_NAME = "agent-workbench"
SERVICE_NAME = "agent-workbench"
SCOPE_NAME = "agent_core.otel"
SCOPE_VERSION = "1"
"""The version of this mapping: raise it when the shape of the spans changes."""

COST_ATTRIBUTE = "agent_workbench.cost.usd"
"""Custom attribute (the conventions have none for money): USD of one LLM call, from its ``CostRecorded``."""
TOTAL_COST_ATTRIBUTE = "agent_workbench.cost.total_usd"
"""Custom attribute on the root span: the run's total spend in USD."""

CONTENT_LIMIT = 32_000
"""Characters kept of one content attribute (a file read can be 200 kB); longer values are cut and marked."""

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_STOP_REASON = re.compile(r"stop reason '([^']*)'")
_LOCAL_PROVIDERS = frozenset({"offline", "recorded"})


# --- deterministic ids -------------------------------------------------------------------------


def _digest(text: str, size: int) -> int:
    value = int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:size], "big")
    return value or 1  # an all-zero id is invalid in OpenTelemetry


def trace_id_for(run_id: str) -> int:
    """The run's 128-bit trace id: the first 16 bytes of SHA-256 over the run id."""
    return _digest(f"agent_workbench/trace/{run_id}", 16)


def span_id_for(run_id: str, seq: int, role: str) -> int:
    """A 64-bit span id from the run id, the seq of the event that opens the span, and the span's role."""
    return _digest(f"agent_workbench/span/{run_id}/{seq}/{role}", 8)


def root_span_id(run_id: str) -> int:
    """The ``invoke_agent`` span's id: what a replay's link points at."""
    return span_id_for(run_id, 0, "invoke_agent")


def _nanos(at: datetime) -> int:
    return (at - _EPOCH) // timedelta(microseconds=1) * 1_000


RESOURCE = Resource({"service.name": SERVICE_NAME}, schema_url=SEMCONV_SCHEMA_URL)
SCOPE = InstrumentationScope(SCOPE_NAME, SCOPE_VERSION, schema_url=SEMCONV_SCHEMA_URL)


# --- content ----------------------------------------------------------------------------------


class _Content:
    """Prompt and tool content: nothing unless asked for, then redacted and capped."""

    def __init__(self, include: bool, redactor: Redactor | None) -> None:
        self.include = include
        self._redactor = (redactor or Redactor()) if include else None

    def text(self, value: str) -> str:
        assert self._redactor is not None
        clean = self._redactor.text(value)
        if len(clean) > CONTENT_LIMIT:
            return f"{clean[:CONTENT_LIMIT]}…[{len(clean) - CONTENT_LIMIT} more characters]"
        return clean

    def json(self, value: Any) -> str:
        assert self._redactor is not None
        return self.text(json.dumps(self._redactor.value(value), ensure_ascii=False, sort_keys=True, default=str))

    def put(self, attributes: dict[str, AttributeValue], key: str, value: Any) -> None:
        """Set ``key`` to the redacted text (or JSON) of ``value`` when content is included."""
        if self.include and value not in (None, ""):
            attributes[key] = self.text(value) if isinstance(value, str) else self.json(value)

    def message(self, role: str, text: str, finish_reason: str | None = None) -> list[dict[str, Any]]:
        """One message in the conventions' ``gen_ai.*.messages`` JSON shape."""
        message: dict[str, Any] = {"role": role, "parts": [{"type": "text", "content": text}]}
        if finish_reason:
            message["finish_reason"] = finish_reason
        return [message]

    def status(self, fallback: str, detail: str) -> str:
        """A status description: the detail (redacted) with content, else a fixed phrase."""
        return self.text(detail) if self.include and detail else fallback


# --- span drafts ------------------------------------------------------------------------------


@dataclass
class _Draft:
    """A span while the events are walked; frozen into a ``ReadableSpan`` at the end."""

    role: str
    seq: int
    name: str
    start: datetime
    parent: _Draft | None = None
    kind: SpanKind = SpanKind.INTERNAL
    end: datetime | None = None
    attributes: dict[str, AttributeValue] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)
    links: list[Link] = field(default_factory=list)
    status: Status = field(default_factory=lambda: Status(StatusCode.UNSET))

    def fail(self, error_type: str, description: str) -> None:
        self.attributes["error.type"] = error_type
        self.status = Status(StatusCode.ERROR, description)


def _provider_attributes(provider: str, model: str) -> dict[str, AttributeValue]:
    return {"gen_ai.operation.name": "chat", "gen_ai.provider.name": provider, "gen_ai.request.model": model}


@dataclass
class _Walk:
    """Walks one run's events in seq order and keeps the drafts still open."""

    run_id: str
    content: _Content
    drafts: list[_Draft] = field(default_factory=list)
    root: _Draft | None = None
    provider: str = ""
    model: str = ""
    policy_id: str = ""
    policy_version: str = ""
    chat: _Draft | None = None  # the planner call waiting for its answer
    last_chat: _Draft | None = None  # the planner call a CostRecorded belongs to
    tools: dict[str, _Draft] = field(default_factory=dict)  # step id -> execute_tool still running
    waits: dict[str, _Draft] = field(default_factory=dict)  # step id -> await_approval still open
    tool_llm: dict[str, _Draft] = field(default_factory=dict)  # tool name -> its last chat child (for cost)
    previous_at: datetime | None = None
    linked: set[str] = field(default_factory=set)

    def open(self, role: str, seq: int, name: str, start: datetime, **options: Any) -> _Draft:
        draft = _Draft(role, seq, name, start, parent=options.pop("parent", self.root), **options)
        self.drafts.append(draft)
        return draft

    def link_original(self, original_run_id: str, mode: str | None) -> None:
        """Replay lineage: a link from this run's root to the original run's root span."""
        if self.root is None or original_run_id in self.linked:
            return
        self.linked.add(original_run_id)
        context = SpanContext(
            trace_id_for(original_run_id),
            root_span_id(original_run_id),
            is_remote=True,
            trace_flags=TraceFlags(TraceFlags.SAMPLED),
        )
        attributes: dict[str, AttributeValue] = {"agent_workbench.link.type": "replay_of"}
        if mode:
            attributes["agent_workbench.replay.mode"] = mode
        self.root.links.append(Link(context, attributes))

    # --- one handler per event type -------------------------------------------------------

    def on(self, recorded: ev.RecordedEvent) -> None:
        e, at, seq = recorded.event, recorded.at, recorded.seq
        if self.root is None:
            self._start_root(recorded)
        match e:
            case ev.RunStarted():
                pass  # the root was opened from it
            case ev.PlanRequested():
                self._plan_requested(e, seq, at)
            case ev.PlanGenerated() | ev.PlanRejected():
                self._plan_answered(e, seq, at)
            case ev.CostRecorded():
                self._cost(e)
            case ev.ToolApproved() | ev.ToolRejected() | ev.ApprovalRequested():
                self._guardrail(e, seq, at)
            case ev.ApprovalGranted() | ev.ApprovalDenied():
                self._human(e, seq, at)
            case ev.ToolExecuted():
                self._tool_started(e, seq, at)
            case ev.ObservationCaptured():
                self._observed(e, seq, at)
            case ev.StepInterrupted():
                self._interrupted(e, seq, at)
            case ev.BudgetExceeded():
                self._root_event(
                    "budget_exceeded",
                    at,
                    {"agent_workbench.cost.spent_usd": e.spent_usd, "agent_workbench.cost.budget_usd": e.budget_usd},
                )
            case ev.ResponseFinalized():
                assert self.root is not None
                self.root.attributes["agent_workbench.run.step_count"] = e.step_count
                summary = self.content.message("assistant", e.summary, "stop") if self.content.include else None
                self.content.put(self.root.attributes, "gen_ai.output.messages", summary)
            case ev.ReplayDiffed():
                self._replay_diffed(e, at)
            case ev.UnknownEvent():
                self._root_event(
                    "undecodable_event",
                    at,
                    {"agent_workbench.event.type": recorded.type, "agent_workbench.event.seq": seq},
                )
            case _:
                pass  # terminal events are read from the fold at the end
        self.previous_at = at

    def _start_root(self, first: ev.RecordedEvent) -> None:
        root = _Draft("invoke_agent", 0, f"invoke_agent {AGENT_NAME}", first.at)
        self.root = root
        self.drafts.append(root)
        attributes = root.attributes
        attributes.update(
            {
                "gen_ai.operation.name": "invoke_agent",
                "gen_ai.agent.name": AGENT_NAME,
                "gen_ai.conversation.id": self.run_id,
            }
        )
        e = first.event
        if not isinstance(e, ev.RunStarted):
            return
        self.provider, self.model = e.planner.provider, e.planner.model
        self.policy_id = PurePath(e.policy_path).stem if e.policy_path else ""
        self.policy_version = e.policy_sha[:12]
        attributes.update(
            {
                "gen_ai.provider.name": self.provider,
                "gen_ai.request.model": self.model,
                "agent_workbench.run.max_steps": e.max_steps,
                "agent_workbench.run.budget_usd": e.budget_usd,
                "agent_workbench.prompt.sha256": e.planner.prompt_sha,
                "agent_workbench.policy.sha256": e.policy_sha,
            }
        )
        if e.replay_of:
            attributes["agent_workbench.replay.of"] = e.replay_of
            if e.replay_mode:
                attributes["agent_workbench.replay.mode"] = e.replay_mode
            self.link_original(e.replay_of, e.replay_mode)
        goal = self.content.message("user", e.goal) if self.content.include else None
        self.content.put(attributes, "gen_ai.input.messages", goal)

    def _root_event(self, name: str, at: datetime, attributes: dict[str, AttributeValue]) -> None:
        assert self.root is not None
        self.root.events.append(Event(name, attributes, timestamp=_nanos(at)))

    def _plan_requested(self, e: ev.PlanRequested, seq: int, at: datetime) -> None:
        if self.chat is not None:  # an attempt without its answer (the process died): it ends here
            self._close_unanswered(self.chat, at)
        kind = SpanKind.INTERNAL if e.provider in _LOCAL_PROVIDERS else SpanKind.CLIENT
        chat = self.open("chat", seq, f"chat {e.model}", at, kind=kind)
        chat.attributes.update(_provider_attributes(e.provider, e.model))
        chat.attributes["agent_workbench.plan.attempt"] = e.attempt
        if self.content.include:
            self.content.put(
                chat.attributes, "gen_ai.system_instructions", [{"type": "text", "content": e.system_prompt}]
            )
            self.content.put(chat.attributes, "gen_ai.input.messages", self.content.message("user", e.user_message))
        self.chat = chat

    def _close_unanswered(self, chat: _Draft, at: datetime) -> None:
        chat.end = at
        chat.fail("no_answer_recorded", "no answer was recorded for this request")
        self.chat = None

    def _plan_answered(self, e: ev.PlanGenerated | ev.PlanRejected, seq: int, at: datetime) -> None:
        chat = self.chat or self.open(
            "chat",
            seq,
            f"chat {self.model}",
            self.previous_at or at,
            kind=SpanKind.CLIENT,
            attributes=_provider_attributes(self.provider, self.model),
        )
        self.chat, self.last_chat = None, chat
        chat.end = at
        attributes = chat.attributes
        if isinstance(e, ev.PlanRejected) and PROVIDER_FAILURE_MARKER in e.error:
            chat.fail("provider_error", self.content.status("the provider did not answer", e.error))
            return
        attributes["gen_ai.usage.input_tokens"] = e.usage.input_tokens
        attributes["gen_ai.usage.output_tokens"] = e.usage.output_tokens
        attributes["agent_workbench.llm.latency_ms"] = e.latency_ms
        finish = "stop"
        if isinstance(e, ev.PlanRejected):
            if TRUNCATED_MARKER in e.error:
                stated = _STOP_REASON.search(e.error)
                finish = stated.group(1) if stated and stated.group(1) else "length"
            attributes["gen_ai.response.finish_reasons"] = (finish,)
            attributes["agent_workbench.plan.outcome"] = "rejected"
            chat.fail("plan_rejected", self.content.status("the answer was not a valid plan", e.error))
        else:
            attributes["gen_ai.response.finish_reasons"] = (finish,)
            attributes["agent_workbench.plan.outcome"] = "generated"
            attributes["agent_workbench.plan.steps"] = len(e.plan.steps)
        text = e.raw_text if isinstance(e, ev.PlanGenerated) else e.raw_excerpt  # a rejection keeps an excerpt
        answer = self.content.message("assistant", text, finish) if self.content.include and text else None
        self.content.put(attributes, "gen_ai.output.messages", answer)

    def _cost(self, e: ev.CostRecorded) -> None:
        target = self.last_chat if e.source == "planner" else self.tool_llm.get(e.source)
        if target is None:
            return
        target.attributes[COST_ATTRIBUTE] = e.usd
        target.attributes["agent_workbench.cost.priced"] = e.priced
        if e.model:
            target.attributes["gen_ai.response.model"] = e.model

    def _guardrail(self, e: ev.ToolApproved | ev.ToolRejected | ev.ApprovalRequested, seq: int, at: datetime) -> None:
        decision = {"ToolApproved": "approved", "ToolRejected": "rejected", "ApprovalRequested": "held"}[e.type]
        guard = self.open("apply_guardrail", seq, "apply_guardrail", self.previous_at or at, end=at)
        guard.attributes.update(
            {
                "gen_ai.operation.name": "apply_guardrail",
                "gen_ai.provider.name": AGENT_NAME,
                "gen_ai.guardrail.component.name": "policy_guard",
                "gen_ai.guardrail.source": "tool_input",
                "gen_ai.guardrail.result.type": "decision",
                "gen_ai.guardrail.result.value": decision,
                "agent_workbench.guardrail.rule": e.rule,
                "agent_workbench.guardrail.decision": decision,
                "agent_workbench.step.id": e.step_id,
                "gen_ai.tool.name": e.tool,
            }
        )
        if self.policy_id:
            guard.attributes["gen_ai.guardrail.policy.id"] = self.policy_id
        if self.policy_version:
            guard.attributes["gen_ai.guardrail.policy.version"] = self.policy_version
        self.content.put(guard.attributes, "gen_ai.guardrail.result.reason", e.reason)
        if isinstance(e, ev.ApprovalRequested):
            wait = self.open("await_approval", seq, f"await_approval {e.tool}", at)
            wait.attributes.update(
                {
                    "agent_workbench.operation.name": "await_approval",
                    "agent_workbench.step.id": e.step_id,
                    "gen_ai.tool.name": e.tool,
                    "agent_workbench.guardrail.rule": e.rule,
                }
            )
            self.content.put(wait.attributes, "gen_ai.tool.call.arguments", e.input)
            self.waits[e.step_id] = wait

    def _human(self, e: ev.ApprovalGranted | ev.ApprovalDenied, seq: int, at: datetime) -> None:
        wait = self.waits.pop(e.step_id, None)
        if wait is None:
            wait = self.open("await_approval", seq, "await_approval", self.previous_at or at)
            wait.attributes.update(
                {"agent_workbench.operation.name": "await_approval", "agent_workbench.step.id": e.step_id}
            )
        wait.end = at
        wait.attributes["agent_workbench.approval.outcome"] = (
            "granted" if isinstance(e, ev.ApprovalGranted) else "denied"
        )
        wait.attributes["agent_workbench.approval.by"] = e.by
        self.content.put(wait.attributes, "agent_workbench.approval.comment", e.comment)

    def _tool_started(self, e: ev.ToolExecuted, seq: int, at: datetime) -> None:
        if e.step_id in self.tools:  # a second intent without an outcome in between
            self._end_tool(self.tools.pop(e.step_id), at, "interrupted")
        tool = self.open("execute_tool", seq, f"execute_tool {e.tool}", at)
        tool.attributes.update(
            {
                "gen_ai.operation.name": "execute_tool",
                "gen_ai.tool.name": e.tool,
                "gen_ai.tool.call.id": e.step_id,
                "gen_ai.tool.type": "function",
                "agent_workbench.step.id": e.step_id,
            }
        )
        self.content.put(tool.attributes, "gen_ai.tool.call.arguments", e.input)
        self.tools[e.step_id] = tool

    def _end_tool(self, tool: _Draft, at: datetime, outcome: str) -> None:
        tool.end = at
        tool.attributes["agent_workbench.tool.outcome"] = outcome
        if outcome == "interrupted":
            tool.fail("interrupted", "the process stopped before the tool's outcome was recorded")

    def _observed(self, e: ev.ObservationCaptured, seq: int, at: datetime) -> None:
        tool = self.tools.pop(e.step_id, None)
        if tool is None:
            self._tool_started(ev.ToolExecuted(step_id=e.step_id, tool=e.tool, input={}), seq, self.previous_at or at)
            tool = self.tools.pop(e.step_id)
        self._end_tool(tool, at, "success" if e.success else "failure")
        tool.attributes["agent_workbench.tool.duration_ms"] = e.duration_ms
        if not e.success:
            tool.fail("tool_error", self.content.status("the tool failed", str(e.result.get("error", ""))))
        self.content.put(tool.attributes, "gen_ai.tool.call.result", e.result)
        usage = e.result.get("usage")
        if isinstance(usage, dict) and (usage.get("input_tokens") or usage.get("output_tokens")):
            self._tool_llm_call(tool, e, usage, seq)

    def _tool_llm_call(self, tool: _Draft, e: ev.ObservationCaptured, usage: dict[str, Any], seq: int) -> None:
        """The LLM call a tool made (summarize): a chat span inside the tool's span, over the same time."""
        response_model = str(e.result.get("model") or self.model)
        chat = self.open(
            "tool_chat",
            seq,
            f"chat {self.model or response_model}",
            tool.start,
            parent=tool,
            kind=SpanKind.CLIENT,
            end=tool.end,
        )
        chat.attributes.update(_provider_attributes(self.provider, self.model or response_model))
        chat.attributes.update(
            {
                "gen_ai.response.model": response_model,
                "gen_ai.usage.input_tokens": int(usage.get("input_tokens") or 0),
                "gen_ai.usage.output_tokens": int(usage.get("output_tokens") or 0),
                "gen_ai.response.finish_reasons": ("stop",),
            }
        )
        summary = e.result.get("summary") or e.result.get("output")
        if self.content.include and isinstance(summary, str):
            self.content.put(
                chat.attributes, "gen_ai.output.messages", self.content.message("assistant", summary, "stop")
            )
        self.tool_llm[e.tool] = chat

    def _interrupted(self, e: ev.StepInterrupted, seq: int, at: datetime) -> None:
        tool = self.tools.pop(e.step_id, None)
        if tool is not None:
            self._end_tool(tool, at, "interrupted")
        self._root_event(
            "step_interrupted",
            at,
            {"agent_workbench.step.id": e.step_id, "agent_workbench.step.next_action": e.next_action},
        )

    def _replay_diffed(self, e: ev.ReplayDiffed, at: datetime) -> None:
        assert self.root is not None
        self.root.attributes["agent_workbench.replay.verdict"] = e.verdict
        self.link_original(e.original_run_id, None)
        attributes: dict[str, AttributeValue] = {
            "agent_workbench.replay.verdict": e.verdict,
            "agent_workbench.replay.of": e.original_run_id,
        }
        if self.content.include and e.reasons:
            attributes["agent_workbench.replay.reasons"] = tuple(self.content.text(r) for r in e.reasons)
        self._root_event("replay_diffed", at, attributes)

    # --- the end -----------------------------------------------------------------------------

    def finish(self, events: Sequence[ev.RecordedEvent]) -> None:
        """Close what is still open at the last event, and fill the root from the run's fold."""
        assert self.root is not None
        last_at = events[-1].at
        if self.chat is not None:
            self._close_unanswered(self.chat, last_at)
        for tool in self.tools.values():
            tool.end = last_at
            tool.attributes["agent_workbench.tool.outcome"] = "running"
        for wait in self.waits.values():
            wait.end = last_at
            wait.attributes["agent_workbench.approval.outcome"] = "pending"
        state = fold(events)
        root = self.root
        root.end = last_at
        root.attributes.update(
            {
                "agent_workbench.run.status": state.status,
                "gen_ai.usage.input_tokens": state.input_tokens,
                "gen_ai.usage.output_tokens": state.output_tokens,
                TOTAL_COST_ATTRIBUTE: state.cost_usd,
            }
        )
        terminal = next((e for e in reversed(events) if e.type in ev.TERMINAL_TYPES), None)
        if terminal is not None:
            root.end = terminal.at
        if state.status == "failed":
            root.fail("run_failed", self.content.status("the run failed", state.failure_reason or ""))
        elif terminal is not None and isinstance(terminal.event, ev.RunCancelled):
            root.attributes["agent_workbench.run.cancelled_by"] = terminal.event.by


def run_spans(
    events: Sequence[ev.RecordedEvent], *, include_content: bool = False, redactor: Redactor | None = None
) -> list[ReadableSpan]:
    """The trace of one run (its events in seq order): the root ``invoke_agent`` span first.

    ``include_content`` adds prompts, plan text, tool input and output and free-text reasons,
    each passed through ``redactor`` (default: one that knows the secrets in this environment).
    """
    if not events:
        raise ValueError("a trace needs at least one event")
    run_id = events[0].run_id
    if any(e.run_id != run_id for e in events):
        raise ValueError("run_spans takes the events of one run")
    walk = _Walk(run_id, _Content(include_content, redactor))
    for recorded in events:
        walk.on(recorded)
    walk.finish(events)
    trace_id = trace_id_for(run_id)
    flags = TraceFlags(TraceFlags.SAMPLED)

    def context(draft: _Draft) -> SpanContext:
        span_id = root_span_id(run_id) if draft.role == "invoke_agent" else span_id_for(run_id, draft.seq, draft.role)
        return SpanContext(trace_id, span_id, is_remote=False, trace_flags=flags)

    contexts = {id(d): context(d) for d in walk.drafts}
    return [
        ReadableSpan(
            name=d.name,
            context=contexts[id(d)],
            parent=contexts[id(d.parent)] if d.parent is not None else None,
            resource=RESOURCE,
            attributes=d.attributes,
            events=tuple(d.events),
            links=tuple(d.links),
            kind=d.kind,
            status=d.status,
            start_time=_nanos(d.start),
            end_time=_nanos(max(d.end or d.start, d.start)),
            instrumentation_scope=SCOPE,
        )
        for d in walk.drafts
    ]
