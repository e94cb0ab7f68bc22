"""A store with runs in every state, built from the real event models through the real store.

Used by the dashboard tests, the browser tests and bench/ui_bench.py. Times are explicit (the
store's ``times=``), so spans have visible lengths and runs sort in a known order.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from agent_core import RunRequest, Settings, Workbench
from agent_core import events as ev
from agent_core.plan import Plan, PlanStep
from agent_core.projections import open_store
from agent_core.store import EventStore

PLANNER = ev.PlannerInfo(provider="offline", model="offline-v1", prompt_sha="a" * 64)
POLICY_SHA = "b" * 64
# Untrusted text must stay text: the dashboard may never render this as Markdown or HTML.
HOSTILE_GOAL = "Summarize **notes.txt** <script>alert('x')</script> [click](http://example.invalid)"


def run_id_for(name: str) -> str:
    """Stable, realistic hex ids (``uuid5``), so screenshots and tests name the same runs."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"agent-workbench-seed/{name}").hex


@dataclass(frozen=True, slots=True)
class RawEvent:
    """An event this code's catalogue does not know (or cannot decode): written as-is."""

    type: str
    payload: dict[str, Any]
    schema_version: int = 1
    actor: str = "orchestrator"

    def to_payload(self) -> dict[str, Any]:
        return dict(self.payload)


@dataclass
class RunBuilder:
    """Appends a run's events with chosen gaps between them (seconds)."""

    store: EventStore
    run_id: str
    at: datetime
    seq: int = 0
    _events: list[Any] = field(default_factory=list)
    _times: list[datetime] = field(default_factory=list)

    def add(self, event: Any, after_s: float = 0.05) -> RunBuilder:
        self.at += timedelta(seconds=after_s)
        self._events.append(event)
        self._times.append(self.at)
        return self

    def flush(self) -> RunBuilder:
        if self._events:
            self.seq = self.store.append(self.run_id, self._events, self.seq, times=self._times)
            self._events, self._times = [], []
        return self


def plan_of(tools: Sequence[str]) -> Plan:
    inputs = {
        "web_search": {"query": "agent frameworks"},
        "read_file": {"path": "notes.txt"},
        "summarize": {"text": "$step_1"},
        "write_file": {"path": "report.md", "content": "# Report"},
    }
    return Plan(
        steps=[
            PlanStep(
                id=f"step_{i}",
                objective=f"use {tool} for part {i} of the goal",
                tool=tool,
                input=inputs.get(tool, {}),
                success_criteria="a non-empty result",
            )
            for i, tool in enumerate(tools, start=1)
        ],
        stop_conditions=["the report is written"],
    )


def start(
    b: RunBuilder, goal: str, plan: Plan, *, replay_of: str | None = None, mode: ev.ReplayMode | None = None
) -> None:
    b.add(
        ev.RunStarted(
            goal=goal,
            max_steps=max(4, len(plan.steps)),
            budget_usd=0.5,
            planner=PLANNER,
            policy_sha=POLICY_SHA,
            policy_path="policies/default.yaml",
            replay_of=replay_of,
            replay_mode=mode,
        ),
        after_s=0,
    )
    b.add(ev.PlanRequested(provider="offline", model="offline-v1", system_prompt="You plan.", user_message=goal))
    b.add(
        ev.PlanGenerated(
            plan=plan, raw_text=plan.model_dump_json(), usage=ev.Usage(input_tokens=420, output_tokens=96)
        ),
        after_s=0.4,
    )
    b.add(
        ev.CostRecorded(
            source="planner", model="offline-v1", input_tokens=420, output_tokens=96, usd=0.0012, total_usd=0.0012
        )
    )


def ok_step(b: RunBuilder, step: PlanStep, seconds: float = 0.8, result: dict[str, Any] | None = None) -> None:
    b.add(ev.ToolApproved(step_id=step.id, tool=step.tool, rule="workspace_only", reason="inside the workspace"))
    b.add(ev.ToolExecuted(step_id=step.id, tool=step.tool, input=dict(step.input)))
    b.add(
        ev.ObservationCaptured(
            step_id=step.id,
            tool=step.tool,
            result=result or {"success": True, "output": f"{step.tool} finished: 3 findings"},
            duration_ms=seconds * 1000,
        ),
        after_s=seconds,
    )


def finish(b: RunBuilder, steps: int) -> None:
    b.add(ev.ResponseFinalized(summary=f"Done in {steps} steps; report in report.md", step_count=steps))
    b.add(ev.RunCompleted())


@dataclass(frozen=True, slots=True)
class SeededRuns:
    """Ids of the seeded runs, one per state the dashboard must show."""

    completed: str
    failed: str
    waiting: str
    cancelled: str
    replay: str
    broken: str
    running: str

    def all(self) -> list[str]:
        return [
            self.completed,
            self.failed,
            self.waiting,
            self.cancelled,
            self.replay,
            self.broken,
            self.running,
        ]


def seed(url: str, now: datetime | None = None) -> SeededRuns:
    """Write one run per state into the store at ``url`` (newest: the running one)."""
    now = now or datetime.now(UTC)
    store = open_store(url)
    try:
        return _seed(store, now)
    finally:
        store.close()


def _seed(store: EventStore, now: datetime) -> SeededRuns:
    names = ("completed", "failed", "waiting", "cancelled", "replay", "broken", "running")
    ids = SeededRuns(*(run_id_for(n) for n in names))

    def ago(minutes: float) -> datetime:
        return now - timedelta(minutes=minutes)

    plan = plan_of(["web_search", "summarize", "write_file"])
    b = RunBuilder(store, ids.completed, ago(50))
    start(b, "Research agent frameworks and write a short report", plan)
    for step in plan.steps:
        ok_step(b, step)
    finish(b, 3)
    b.flush()

    b = RunBuilder(store, ids.failed, ago(40))
    start(b, HOSTILE_GOAL, plan)
    ok_step(b, plan.steps[0])
    rejected = ev.ToolRejected(
        step_id="step_2", tool="summarize", rule="no_untrusted_input", reason="input from <b>the web</b>"
    )
    b.add(rejected)
    b.add(ev.ToolExecuted(step_id="step_3", tool="write_file", input=dict(plan.steps[2].input)))
    b.add(
        ev.ObservationCaptured(
            step_id="step_3", tool="write_file", result={"success": False, "error": "disk full"}, duration_ms=300
        ),
        after_s=0.3,
    )
    b.add(ev.RunFailed(reason="step_3 write_file failed: disk full; free space in the workspace and resume"))
    b.flush()

    b = RunBuilder(store, ids.waiting, ago(30))
    start(b, "Overwrite report.md with fresh findings", plan)
    ok_step(b, plan.steps[0])
    ok_step(b, plan.steps[1])
    b.add(
        ev.ApprovalRequested(
            step_id="step_3",
            tool="write_file",
            input=dict(plan.steps[2].input),
            rule="confirm_overwrite",
            reason="report.md exists and would be overwritten",
        )
    )
    b.flush()

    b = RunBuilder(store, ids.cancelled, ago(20))
    start(b, "Read notes.txt and summarize it", plan_of(["read_file", "summarize"]))
    b.add(ev.ToolApproved(step_id="step_1", tool="read_file", rule="workspace_only", reason="inside the workspace"))
    b.add(ev.ToolExecuted(step_id="step_1", tool="read_file", input={"path": "notes.txt"}))
    b.add(ev.StepInterrupted(step_id="step_1", tool="read_file", next_action="re-run the step"), after_s=2.0)
    b.add(ev.RunCancelled(by="alice", reason="stopped to change the prompt"))
    b.flush()

    b = RunBuilder(store, ids.replay, ago(10))
    start(b, "Research agent frameworks and write a short report", plan, replay_of=ids.completed, mode="whatif")
    for step in plan.steps:
        ok_step(b, step, seconds=0.6)
    finish(b, 3)
    b.flush()

    b = RunBuilder(store, ids.broken, ago(5))
    start(b, "A run written by a newer version", plan_of(["web_search"]))
    b.add(RawEvent("MysteryHappened", {"detail": "from the future"}))
    b.add(RawEvent("ToolApproved", {"step_id": "step_1"}, actor="policy_guard"))  # fields missing
    ok_step(b, plan_of(["web_search"]).steps[0])
    finish(b, 1)
    b.flush()

    b = RunBuilder(store, ids.running, ago(1))
    start(b, "Search the web for event sourcing articles", plan_of(["web_search", "summarize"]))
    b.add(ev.ToolApproved(step_id="step_1", tool="web_search", rule="workspace_only", reason="read-only tool"))
    b.add(ev.ToolExecuted(step_id="step_1", tool="web_search", input={"query": "event sourcing"}))
    b.flush()
    return ids


def continue_running(url: str, run_id: str, finish_run: bool = True) -> None:
    """Append the rest of the seeded running run: its observation and (optionally) its end."""
    store = open_store(url)
    try:
        seq = store.get_run(run_id).last_seq  # type: ignore[union-attr]
        b = RunBuilder(store, run_id, datetime.now(UTC), seq=seq)
        step = plan_of(["web_search"]).steps[0]
        b.add(
            ev.ObservationCaptured(
                step_id=step.id, tool=step.tool, result={"success": True, "output": "5 articles"}, duration_ms=900
            )
        )
        if finish_run:
            finish(b, 1)
        b.flush()
    finally:
        store.close()


def big_run(store: EventStore, run_id: str, n_events: int = 1000, start_at: datetime | None = None) -> int:
    """A completed run of about ``n_events`` events (4 per step): the Timeline benchmark's subject."""
    steps = max(1, (n_events - 6) // 4)
    plan = plan_of(["web_search", "summarize", "read_file", "write_file"] * (steps // 4 + 1))
    plan = Plan(steps=plan.steps[:steps], stop_conditions=plan.stop_conditions)
    b = RunBuilder(store, run_id, start_at or datetime.now(UTC) - timedelta(hours=1))
    start(b, "A long run for the benchmark", plan)
    for i, step in enumerate(plan.steps, start=1):
        ok_step(b, step, seconds=0.2)
        b.add(ev.CostRecorded(source="tool", usd=0.0001, total_usd=0.0012 + 0.0001 * i))
        if i % 50 == 0:
            b.flush()
    for _ in range(n_events - 6 - 4 * steps):  # pad to exactly n_events
        b.add(ev.CostRecorded(source="tool", usd=0.0, total_usd=0.0012 + 0.0001 * steps))
    finish(b, steps)
    b.flush()
    return b.seq


SUMMARY = "Summarize notes.txt and save the summary to summary.md"


def held_run() -> str:
    """A real run waiting on ``no_overwrite``: the same goal twice, the second finds summary.md written.

    Runs offline in the workspace and store the environment names (the test's ``seeded`` fixture).
    """
    workbench = Workbench(Settings())
    try:
        workbench.run(RunRequest(SUMMARY))
        state = workbench.run(RunRequest(SUMMARY))
    finally:
        workbench.close()
    assert state.status == "waiting_approval"
    return state.run_id
