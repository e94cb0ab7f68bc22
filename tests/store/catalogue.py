"""One minimal valid payload per catalogue type: the table the catalogue tests build events from.

Minimal means the required fields only (a test drops each one and expects a validation error).
A test also checks that the table covers ``events.EVENT_CLASSES`` exactly, so a new event type
fails the suite until it has a row here.
"""

from __future__ import annotations

from typing import Any

from agent_core import events as ev

_STEP = {"step_id": "step_1", "tool": "read_file"}
_PLAN_STEP = {"id": "step_1", "objective": "read the notes", "tool": "read_file", "input": {"path": "notes.txt"}}
_PLAN = {"steps": [{**_PLAN_STEP, "success_criteria": "the text is read"}]}

MINIMAL_PAYLOADS: dict[type[ev.DomainEvent], dict[str, Any]] = {
    ev.RunStarted: {
        "goal": "Summarize notes.txt",
        "max_steps": 4,
        "budget_usd": 0.5,
        "planner": {"provider": "offline", "model": "offline", "prompt_sha": "p" * 64},
        "policy_sha": "s" * 64,
    },
    ev.PlanRequested: {"provider": "offline", "model": "offline", "system_prompt": "plan", "user_message": "goal"},
    ev.PlanGenerated: {"plan": _PLAN, "raw_text": "{}"},
    ev.PlanRejected: {"error": "not one JSON object"},
    ev.CostRecorded: {"source": "planner"},
    ev.ToolApproved: {**_STEP, "rule": "allowed", "reason": "read-only tool"},
    ev.ToolRejected: {**_STEP, "rule": "workspace_only", "reason": "outside the workspace"},
    ev.ApprovalRequested: {
        **_STEP,
        "input": {"path": "notes.txt"},
        "rule": "writes_need_approval",
        "reason": "a write",
    },
    ev.ApprovalGranted: {"step_id": "step_1", "by": "alice"},
    ev.ApprovalDenied: {"step_id": "step_1", "by": "alice"},
    ev.ToolExecuted: {**_STEP, "input": {"path": "notes.txt"}},
    ev.ObservationCaptured: {**_STEP, "result": {"success": True, "output": "text"}},
    ev.StepInterrupted: {"step_id": "step_1"},
    ev.BudgetExceeded: {"spent_usd": 0.6, "budget_usd": 0.5},
    ev.ResponseFinalized: {"summary": "done", "step_count": 1},
    ev.RunCompleted: {},
    ev.RunFailed: {"reason": "boom"},
    ev.RunCancelled: {},
    ev.ReplayDiffed: {"original_run_id": "a" * 32, "verdict": "unchanged"},
    ev.ResponseJudged: {"judge": "offline", "score": 1.0},
}


def example(cls: type[ev.DomainEvent]) -> ev.DomainEvent:
    """A valid instance of ``cls`` built from its minimal payload."""
    return cls.model_validate(MINIMAL_PAYLOADS[cls])
