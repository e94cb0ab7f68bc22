"""A run as a step waterfall: one row for planning, one per plan step, one for the final answer.

Each row holds spans in seconds since the run started: the planner's calls (a rejected plan and
its retry are two spans), the policy's decision, the time a person took to approve (its own
span), and each tool call from intent to outcome (an interrupted call and its retry are two
spans). A span still open is drawn up to ``now`` and says what it waits on, so a live run's
current step keeps growing. A pure function of the events: the dashboard only draws the rows.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Literal

from agent_core import events as ev

SpanKind = Literal["llm", "decision", "waiting", "tool", "answer"]
PLANNING = "planning"
ANSWER = "answer"
WAITS_ON: dict[SpanKind, str] = {
    "llm": "the LLM",
    "decision": "the policy",
    "waiting": "a person",
    "tool": "a tool",
    "answer": "the orchestrator",
}
"""What an open span of each kind is waiting on, in words for the page."""
INPUT_CHARS = 300
_TERMINAL = (ev.RunCompleted, ev.RunFailed, ev.RunCancelled)


@dataclass(frozen=True, slots=True)
class WaterfallSpan:
    """One stretch of a row: what happened from ``start_s`` to ``end_s`` and how it ended.

    ``outcome`` is a step outcome or decision word (succeeded, failed, rejected, denied, held,
    granted, approved, interrupted, running, completed, cancelled); ``open`` spans are still
    going and end at the ``now`` the waterfall was drawn for.
    """

    kind: SpanKind
    start_s: float
    end_s: float
    outcome: str
    label: str
    detail: str = ""
    open: bool = False

    @property
    def duration_s(self) -> float:
        """How long the span lasted (or has lasted so far)."""
        return max(0.0, self.end_s - self.start_s)

    @property
    def waits_on(self) -> str:
        """What an open span waits on ('' once it ended)."""
        return WAITS_ON[self.kind] if self.open else ""


@dataclass(frozen=True, slots=True)
class WaterfallRow:
    """One lane: planning, a plan step (its id, tool and outcome) or the final answer."""

    key: str
    tool: str = ""
    outcome: str = "pending"
    spans: tuple[WaterfallSpan, ...] = ()
    first_seq: int = 0

    @property
    def label(self) -> str:
        """``step_2 · write_file · succeeded`` (retries and interruptions counted)."""
        tool_calls = sum(1 for s in self.spans if s.kind == "tool")
        llm_calls = sum(1 for s in self.spans if s.kind == "llm")
        extra = f" · {tool_calls} attempts" if tool_calls > 1 else f" · {llm_calls} attempts" if llm_calls > 1 else ""
        return " · ".join(p for p in (self.key, self.tool, self.outcome) if p) + extra

    @property
    def open(self) -> bool:
        """True while one of its spans is still going."""
        return any(s.open for s in self.spans)


@dataclass(frozen=True, slots=True)
class Waterfall:
    """The rows in the order they started, and where the run stands."""

    rows: tuple[WaterfallRow, ...]
    end_s: float = 0.0
    live: bool = False
    waiting_on: str = ""
    current: str = ""
    started_at: datetime | None = None

    def page(self, number: int, size: int) -> tuple[WaterfallRow, ...]:
        """Rows of page ``number`` (1-based), for long runs drawn a page at a time."""
        start = (max(1, number) - 1) * size
        return self.rows[start : start + size]


@dataclass
class _Builder:
    t0: datetime
    rows: dict[str, WaterfallRow] = field(default_factory=dict)
    cursor_s: float = 0.0  # when the last event happened: where the next decision span starts

    def row(self, key: str, seq: int, tool: str = "") -> WaterfallRow:
        found = self.rows.get(key)
        if found is None:
            found = self.rows[key] = WaterfallRow(key, tool=tool, first_seq=seq)
        elif tool and not found.tool:
            found = self.rows[key] = replace(found, tool=tool)
        return found

    def add(self, key: str, seq: int, span: WaterfallSpan, outcome: str | None = None, tool: str = "") -> None:
        row = self.row(key, seq, tool)
        self.rows[key] = replace(row, spans=(*row.spans, span), outcome=outcome or row.outcome)

    def close(self, key: str, kind: SpanKind, end_s: float, outcome: str, detail: str = "", label: str = "") -> bool:
        """End the row's latest open span of ``kind``; False when there is none."""
        row = self.rows.get(key)
        if row is None:
            return False
        for index in range(len(row.spans) - 1, -1, -1):
            span = row.spans[index]
            if span.kind == kind and span.open:
                ended = replace(
                    span,
                    end_s=max(end_s, span.start_s),
                    outcome=outcome,
                    open=False,
                    label=label or span.label,
                    detail="\n".join(d for d in (span.detail, detail) if d),
                )
                spans = (*row.spans[:index], ended, *row.spans[index + 1 :])
                self.rows[key] = replace(row, spans=spans)
                return True
        return False


def _compact(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    return text if len(text) <= INPUT_CHARS else text[: INPUT_CHARS - 1] + "…"


def _result_outcome(result: dict[str, Any]) -> str:
    return "succeeded" if result.get("success") else "failed"


def _step(b: _Builder, recorded: ev.RecordedEvent, t: float) -> None:
    """Fold one step-level event into its row."""
    e, seq = recorded.event, recorded.seq
    if isinstance(e, ev.ToolApproved | ev.ToolRejected):
        word = e.DECIDES.word if e.DECIDES else ""
        detail = f"rule {e.rule}: {e.reason}"
        b.add(e.step_id, seq, WaterfallSpan("decision", b.cursor_s, t, word, f"{word} by policy", detail), word, e.tool)
    elif isinstance(e, ev.ApprovalRequested):
        detail = f"input {_compact(e.input)}\nrule {e.rule}: {e.reason}"
        b.add(
            e.step_id, seq, WaterfallSpan("decision", b.cursor_s, t, "held", "held by policy", detail), "held", e.tool
        )
        b.add(
            e.step_id,
            seq,
            WaterfallSpan("waiting", t, t, "held", f"waiting for a person ({e.rule})", detail, open=True),
        )
    elif isinstance(e, ev.ApprovalGranted | ev.ApprovalDenied):
        word = e.DECIDES.word if e.DECIDES else ""
        said = f"{word} by {e.by}" + (f": {e.comment}" if e.comment else "")
        b.close(e.step_id, "waiting", t, word, said)
        row = b.row(e.step_id, seq)
        b.rows[e.step_id] = replace(row, outcome=word)
    elif isinstance(e, ev.ToolExecuted):
        label = f"{e.tool} running"
        b.add(
            e.step_id,
            seq,
            WaterfallSpan("tool", t, t, "running", label, f"input {_compact(e.input)}", open=True),
            "running",
            e.tool,
        )
    elif isinstance(e, ev.ObservationCaptured):
        outcome = _result_outcome(e.result)
        label, took = f"{e.tool} {outcome}", f"took {e.duration_ms:.0f} ms"
        if not b.close(e.step_id, "tool", t, outcome, took, label):  # an observation without its intent
            start = max(0.0, t - e.duration_ms / 1000)
            b.add(e.step_id, seq, WaterfallSpan("tool", start, t, outcome, label, took), tool=e.tool)
        b.rows[e.step_id] = replace(b.row(e.step_id, seq, e.tool), outcome=outcome)
    elif isinstance(e, ev.StepInterrupted):
        b.close(e.step_id, "tool", t, "interrupted", f"interrupted: {e.next_action}")
        b.rows[e.step_id] = replace(b.row(e.step_id, seq, e.tool), outcome="interrupted")


def _planning(b: _Builder, recorded: ev.RecordedEvent, t: float) -> None:
    e, seq = recorded.event, recorded.seq
    if isinstance(e, ev.PlanRequested):
        label = f"asking {e.provider}/{e.model} (attempt {e.attempt})"
        b.add(PLANNING, seq, WaterfallSpan("llm", t, t, "running", label, open=True), "running")
    elif isinstance(e, ev.PlanGenerated | ev.PlanRejected):
        ok = isinstance(e, ev.PlanGenerated)
        outcome = "succeeded" if ok else "rejected"
        tokens = f"{e.usage.input_tokens}+{e.usage.output_tokens} tok, {e.latency_ms:.0f} ms"
        detail = f"{len(e.plan.steps)} steps, {tokens}" if isinstance(e, ev.PlanGenerated) else f"{e.error} ({tokens})"
        label = ("plan" if ok else "plan rejected") + f" (attempt {e.attempt})"
        if not b.close(PLANNING, "llm", t, outcome, detail, label):
            b.add(PLANNING, seq, WaterfallSpan("llm", max(0.0, t - e.latency_ms / 1000), t, outcome, label, detail))
        b.rows[PLANNING] = replace(b.row(PLANNING, seq), outcome=outcome)
        if isinstance(e, ev.PlanGenerated):  # every planned step gets its row, pending until reached
            for step in e.plan.steps:
                b.row(step.id, seq, step.tool)


def _answer(b: _Builder, recorded: ev.RecordedEvent, t: float) -> None:
    e, seq = recorded.event, recorded.seq
    if isinstance(e, ev.ResponseFinalized):
        b.add(
            ANSWER, seq, WaterfallSpan("answer", b.cursor_s, t, "succeeded", "final response", e.summary[:INPUT_CHARS])
        )
    elif isinstance(e, ev.BudgetExceeded):
        detail = f"spent ${e.spent_usd:.4f} of ${e.budget_usd:.2f}"
        b.add(ANSWER, seq, WaterfallSpan("answer", t, t, "failed", "budget exceeded", detail), "failed")
    elif isinstance(e, ev.RunCompleted):
        b.add(ANSWER, seq, WaterfallSpan("answer", t, t, "completed", "run completed"), "completed")
    elif isinstance(e, ev.RunFailed):
        b.add(ANSWER, seq, WaterfallSpan("answer", t, t, "failed", "run failed", e.reason[:INPUT_CHARS]), "failed")
    elif isinstance(e, ev.RunCancelled):
        b.add(ANSWER, seq, WaterfallSpan("answer", t, t, "cancelled", f"cancelled by {e.by}", e.reason), "cancelled")


def _ended(span: WaterfallSpan, end_s: float, live: bool) -> WaterfallSpan:
    if live:
        return replace(span, end_s=max(end_s, span.start_s))
    return replace(span, end_s=max(end_s, span.start_s), open=False, outcome="interrupted")


def _end_open(b: _Builder, end_s: float, live: bool) -> None:
    """Open spans end at ``end_s``: still running on a live run, interrupted on an ended one."""
    for key, row in list(b.rows.items()):
        if not row.open:
            continue
        spans = tuple(
            replace(s, end_s=max(end_s, s.start_s))
            if live
            else replace(s, end_s=max(end_s, s.start_s), open=False, outcome="interrupted")
            if s.open
            else s
            for s in row.spans
        )
        outcome = row.outcome if live else ("interrupted" if row.outcome in ("running", "held") else row.outcome)
        b.rows[key] = replace(row, spans=spans, outcome=outcome)


def step_waterfall(events: Sequence[ev.RecordedEvent], now: datetime | None = None) -> Waterfall:
    """The waterfall of one run's events, in order; ``now`` (for a live run) extends open spans to it.

    Without ``now`` an open span ends at the last event. A run that ended (completed, failed,
    cancelled) has nothing open: a span it never closed is shown as interrupted.
    """
    if not events:
        return Waterfall(rows=())
    b = _Builder(events[0].at)
    ended = False
    for recorded in events:
        t = max(0.0, (recorded.at - b.t0).total_seconds())
        e = recorded.event
        if isinstance(e, ev.PlanRequested | ev.PlanGenerated | ev.PlanRejected):
            _planning(b, recorded, t)
        elif isinstance(e, ev.ResponseFinalized | ev.BudgetExceeded | ev.RunCompleted | ev.RunFailed | ev.RunCancelled):
            _answer(b, recorded, t)
        else:
            _step(b, recorded, t)
        ended = ended or isinstance(e, _TERMINAL)
        b.cursor_s = max(b.cursor_s, t)
    last_s = b.cursor_s
    live = not ended
    end_s = max(last_s, (now - b.t0).total_seconds()) if live and now is not None else last_s
    _end_open(b, end_s, live)
    rows = sorted(b.rows.values(), key=lambda r: (r.key == ANSWER, r.first_seq))
    current = next((r for r in reversed(rows) if r.open), None)
    waiting_on = next((s.waits_on for s in reversed(current.spans) if s.open), "") if current else ""
    return Waterfall(
        rows=tuple(rows),
        end_s=end_s,
        live=live,
        waiting_on=waiting_on,
        current=current.key if current else "",
        started_at=b.t0,
    )
