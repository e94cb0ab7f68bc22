"""One-line, human summaries of events: the CLI's progress lines and the dashboard's summary column."""

from __future__ import annotations

from agent_core import events as ev


def summarize_event(event: ev.DomainEvent, limit: int = 160) -> str:
    """What happened, in a few words a person can scan."""
    match event:
        case ev.RunStarted():
            text = (
                f"max {event.max_steps} steps, ${event.budget_usd:.2f}, {event.planner.provider}/{event.planner.model}"
            )
            if event.replay_of:
                text += f", {event.replay_mode} replay of {event.replay_of[:8]}"
        case ev.PlanRequested():
            text = f"attempt {event.attempt} to {event.provider}/{event.model}"
        case ev.PlanGenerated():
            text = f"{len(event.plan.steps)} steps: {', '.join(event.plan.tools())}"
        case ev.PlanRejected():
            text = f"attempt {event.attempt}: {event.error}"
        case ev.CostRecorded():
            text = f"{event.source}: ${event.usd:.4f} (total ${event.total_usd:.4f})" + (
                "" if event.priced else ", unpriced"
            )
        case ev.ToolApproved() | ev.ToolRejected():
            text = f"{event.step_id} {event.tool} — rule {event.rule}: {event.reason}"
        case ev.ApprovalRequested():
            text = f"{event.step_id} {event.tool} held — rule {event.rule}: {event.reason}"
        case ev.ApprovalGranted() | ev.ApprovalDenied():
            text = f"{event.step_id} by {event.by}" + (f": {event.comment}" if event.comment else "")
        case ev.ToolExecuted():
            target = event.input.get("path") or event.input.get("query") or ""
            text = f"{event.step_id} {event.tool} {target}".strip()
        case ev.ObservationCaptured():
            outcome = "ok" if event.success else f"failed: {event.result.get('error', '')}"
            text = f"{event.step_id} {event.tool} {outcome} ({event.duration_ms:.0f} ms)"
        case ev.StepInterrupted():
            text = f"{event.step_id} {event.tool}: {event.next_action}"
        case ev.BudgetExceeded():
            text = f"spent ${event.spent_usd:.4f} of ${event.budget_usd:.2f}"
        case ev.ResponseFinalized():
            text = f"{event.step_count} steps — {event.summary.splitlines()[0] if event.summary else ''}"
        case ev.RunCompleted():
            text = event.status
        case ev.RunFailed():
            text = event.reason
        case ev.RunCancelled():
            text = f"by {event.by}" + (f": {event.reason}" if event.reason else "")
        case ev.ReplayDiffed():
            text = f"{event.verdict} against {event.original_run_id[:8]}" + (
                f": {'; '.join(event.reasons)}" if event.reasons else ""
            )
        case ev.UnknownEvent():
            text = event.problem
        case _:
            text = ""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
