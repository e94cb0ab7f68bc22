"""Runs, events, plan steps and observations as pandas DataFrames (cells are text: safe for untrusted data).

``summarize`` is the one-line description of an event used by the table and the chart's hover.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import pandas as pd

from agent_core import events as ev
from agent_core.projections import RunState, RunSummary
from ui.format import colour, exact_time, human_duration, money, relative_time, short_id, status_label

SUMMARY_LIMIT = 160


def _clip(text: str, limit: int = SUMMARY_LIMIT) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "), default=str)


def _decision(e: Any) -> str:
    return f"{e.step_id} {e.tool} — rule {e.rule}: {e.reason}"


_SUMMARIES: dict[type[ev.DomainEvent], Callable[[Any], str]] = {
    ev.RunStarted: lambda e: (
        f"max {e.max_steps} steps, {money(e.budget_usd)}, {e.planner.provider}"
        + (f"/{e.planner.model}" if e.planner.model else "")
        + (f" — {e.replay_mode} replay of {short_id(e.replay_of)}" if e.replay_of else "")
    ),
    ev.PlanRequested: lambda e: f"{e.provider}/{e.model}, attempt {e.attempt}",
    ev.PlanGenerated: lambda e: f"{len(e.plan.steps)} steps: {', '.join(e.plan.tools())}",
    ev.PlanRejected: lambda e: f"attempt {e.attempt}: {e.error}",
    ev.CostRecorded: lambda e: (
        f"{e.source}: {e.input_tokens}+{e.output_tokens} tokens, {money(e.usd)} (total {money(e.total_usd)})"
    ),
    ev.ToolApproved: _decision,
    ev.ToolRejected: _decision,
    ev.ApprovalRequested: lambda e: f"{e.step_id} {e.tool} held — rule {e.rule}: {e.reason}",
    ev.ApprovalGranted: lambda e: f"{e.step_id} approved by {e.by}" + (f": {e.comment}" if e.comment else ""),
    ev.ApprovalDenied: lambda e: f"{e.step_id} denied by {e.by}" + (f": {e.comment}" if e.comment else ""),
    ev.ToolExecuted: lambda e: f"{e.step_id} {e.tool} {_compact(e.input)}",
    ev.ObservationCaptured: lambda e: (
        f"{e.step_id} {e.tool} {'ok' if e.success else 'failed'} in {human_duration(e.duration_ms / 1000)}"
        + ("" if e.success else f": {e.result.get('error', '')}")
    ),
    ev.StepInterrupted: lambda e: f"{e.step_id} {e.tool} interrupted" + (f"; {e.next_action}" if e.next_action else ""),
    ev.BudgetExceeded: lambda e: f"spent {money(e.spent_usd)} of {money(e.budget_usd)}",
    ev.ResponseFinalized: lambda e: f"{e.step_count} steps: {e.summary}",
    ev.RunCompleted: lambda e: e.status,
    ev.RunFailed: lambda e: e.reason,
    ev.RunCancelled: lambda e: f"by {e.by}" + (f": {e.reason}" if e.reason else ""),
}


def summarize(recorded: ev.RecordedEvent) -> str:
    """One line a person can scan; events this code cannot read say why."""
    if recorded.problem:
        return _clip(f"unreadable: {recorded.problem}")
    describe = _SUMMARIES.get(type(recorded.event))
    return _clip(describe(recorded.event)) if describe else recorded.type


def payload_of(recorded: ev.RecordedEvent) -> dict[str, Any]:
    """The event's payload as stored (for an unreadable event: what could be recovered, and why)."""
    return recorded.event.to_payload()


def events_frame(events: Sequence[ev.RecordedEvent]) -> pd.DataFrame:
    """seq, time since the run started, actor, event, summary: the Events tab and the live feed."""
    start = events[0].at if events else None
    rows = [
        {
            "seq": e.seq,
            "time": f"+{(e.at - start).total_seconds():.2f} s" if start else "",
            "at": exact_time(e.at),
            "actor": e.actor,
            "event": e.type + (" ⚠" if e.problem else ""),
            "summary": summarize(e),
        }
        for e in events
    ]
    return pd.DataFrame(rows, columns=["seq", "time", "at", "actor", "event", "summary"])


def coloured(frame: pd.DataFrame, column: str, statuses: Sequence[str]) -> Any:
    """The frame as a Styler whose ``column`` is written in each row's outcome colour."""
    css = [f"color: {colour(s)}; font-weight: 600" for s in statuses]
    return frame.style.apply(lambda _: css, subset=[column])


def plan_frame(state: RunState) -> pd.DataFrame:
    """Plan steps beside what became of them: tool, input, objective, decision, outcome."""
    rows = [
        {
            "step": s.step_id,
            "tool": s.tool,
            "input": _compact(s.input),
            "objective": s.objective,
            "decision": s.decision or "",
            "rule": s.rule,
            "outcome": status_label(s.outcome),
            "duration": human_duration(s.duration_ms / 1000) if s.result is not None else "",
        }
        for s in state.steps
    ]
    return pd.DataFrame(rows, columns=["step", "tool", "input", "objective", "decision", "rule", "outcome", "duration"])


def runs_frame(summaries: Sequence[RunSummary], now: datetime) -> pd.DataFrame:
    """The Runs table: newest first as given; ids shortened, times relative with the exact one beside."""
    rows = [
        {
            "run": short_id(s.run_id),
            "status": status_label(s.status),
            "goal": _clip(s.goal, 120),
            "started": relative_time(s.started_at, now),
            "duration": human_duration(s.duration_s),
            "steps": f"{s.steps_ok}/{s.steps_planned}"
            + (f" · {s.steps_rejected} rej" if s.steps_rejected else "")
            + (f" · {s.steps_failed} fail" if s.steps_failed else ""),
            "cost": s.cost_usd,
            "planner": f"{s.provider}/{s.model}" if s.model else s.provider,
            "replay of": short_id(s.replay_of),
            "started at": exact_time(s.started_at),
        }
        for s in summaries
    ]
    return pd.DataFrame(
        rows,
        columns=["run", "status", "goal", "started", "duration", "steps", "cost", "planner", "replay of", "started at"],
    )


def export_lines(events: Sequence[ev.RecordedEvent]) -> str:
    """The run as JSON lines: one envelope with its payload per event, in seq order."""
    return "".join(
        json.dumps(
            {
                "position": e.position,
                "run_id": e.run_id,
                "seq": e.seq,
                "type": e.type,
                "version": e.version,
                "actor": e.actor,
                "at": e.at.isoformat(),
                "hash": e.hash,
                "payload": payload_of(e),
            },
            ensure_ascii=False,
        )
        + "\n"
        for e in events
    )
