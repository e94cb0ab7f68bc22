"""One-line, human summaries of events: the CLI's progress lines and the dashboard's summary column."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from agent_core import events as ev

SUMMARY_LIMIT = 160


def _money(usd: float) -> str:
    return f"${usd:.4f}"


def _duration(ms: float) -> str:
    return f"{ms:.0f} ms" if ms < 1000 else f"{ms / 1000:.1f} s"


def _compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "), default=str)


def _decision(e: Any) -> str:
    return f"{e.step_id} {e.tool} — rule {e.rule}: {e.reason}"


def _human(verb: str) -> Callable[[Any], str]:
    return lambda e: f"{e.step_id} {verb} by {e.by}" + (f": {e.comment}" if e.comment else "")


_SUMMARIES: dict[type[ev.DomainEvent], Callable[[Any], str]] = {
    ev.RunStarted: lambda e: (
        f"max {e.max_steps} steps, {_money(e.budget_usd)}, {e.planner.provider}"
        + (f"/{e.planner.model}" if e.planner.model else "")
        + (f" — {e.replay_mode} replay of {e.replay_of[:8]}" if e.replay_of else "")
        + (
            f" — fork of {e.forked_from.run_id[:8]} at {e.forked_from.step_id}"
            f" ({e.forked_from.inherited} events inherited{', replanned' if e.forked_from.replan else ''})"
            if e.forked_from
            else ""
        )
    ),
    ev.PlanRequested: lambda e: f"{e.provider}/{e.model}, attempt {e.attempt}",
    ev.PlanGenerated: lambda e: f"{len(e.plan.steps)} steps: {', '.join(e.plan.tools())}",
    ev.PlanRejected: lambda e: f"attempt {e.attempt}: {e.error}",
    ev.CostRecorded: lambda e: (
        f"{e.source}: {e.input_tokens}+{e.output_tokens} tokens, {_money(e.usd)} (total {_money(e.total_usd)})"
        + ("" if e.priced else ", model not in the price table")
    ),
    ev.ToolApproved: _decision,
    ev.ToolRejected: _decision,
    ev.ApprovalRequested: lambda e: f"{e.step_id} {e.tool} held — rule {e.rule}: {e.reason}",
    ev.ApprovalGranted: _human("approved"),
    ev.ApprovalDenied: _human("denied"),
    ev.ToolExecuted: lambda e: f"{e.step_id} {e.tool} {_compact(e.input)}",
    ev.ObservationCaptured: lambda e: (
        f"{e.step_id} {e.tool} {'ok' if e.success else 'failed'} in {_duration(e.duration_ms)}"
        + ("" if e.success else f": {e.result.get('error', '')}")
    ),
    ev.StepInterrupted: lambda e: f"{e.step_id} {e.tool} interrupted" + (f"; {e.next_action}" if e.next_action else ""),
    ev.BudgetExceeded: lambda e: f"spent {_money(e.spent_usd)} of {_money(e.budget_usd)}",
    ev.ResponseFinalized: lambda e: f"{e.step_count} steps: {e.summary}",
    ev.RunCompleted: lambda e: e.status,
    ev.RunFailed: lambda e: e.reason,
    ev.RunCancelled: lambda e: f"by {e.by}" + (f": {e.reason}" if e.reason else ""),
    ev.ReplayDiffed: lambda e: (
        f"{e.verdict} against {e.original_run_id[:8]}" + (f": {'; '.join(e.reasons)}" if e.reasons else "")
    ),
    ev.ResponseJudged: lambda e: (
        f"score {e.score:.2f} by {e.judge}"
        + (f"/{e.model}" if e.model else "")
        + f": {sum(c.met for c in e.criteria)}/{len(e.criteria)} criteria met"
        + (f"; {e.reasons[0]}" if e.reasons else "")
    ),
}


def summarize_event(recorded: ev.RecordedEvent, limit: int = SUMMARY_LIMIT) -> str:
    """What happened, in one line a person can scan; an event this code cannot read says why, and one
    whose payload had secrets redacted says how many."""
    if recorded.problem:
        text = f"unreadable: {recorded.problem}"
    else:
        describe = _SUMMARIES.get(type(recorded.event))
        text = describe(recorded.event) if describe else recorded.type
        if recorded.event.redactions:  # first, so the limit never cuts it off
            count = recorded.event.redactions
            text = f"({count} secret{'s' if count != 1 else ''} redacted) {text}"
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
