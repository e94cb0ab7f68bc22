"""fork: a new run that inherits a recorded run's prefix and continues live from one of its steps.

The fork's ``RunStarted`` carries ``forked_from {run_id, step_id, inherited, input?, replan}``;
its next ``inherited`` events are the original's events from its plan up to (not including) the
first event of the fork step, copied byte for byte, so the fold knows every earlier step's
decision and observation and the orchestrator skips them. From the fork step on the fork is an
ordinary live run: the real workspace under the same write rules (policy) as any run, never the
original's outputs (a write the original made is there only if the workspace still holds it).

- ``input``: the fork step runs with this input instead of the planned one (the fold puts it
  into the plan; the inherited ``PlanGenerated`` stays as recorded).
- ``replan``: the planner is asked for a new plan for the rest, told what the inherited steps
  observed; the new ``PlanGenerated`` holds the inherited steps, then the new ones.

When the fork stops, its verdict against the original, compared from the fork point on, is
appended as ``ReplayDiffed``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent_core import events as ev
from agent_core.config import Settings
from agent_core.orchestrator import OnAppend, RunRequest, RunWriter
from agent_core.plan import Plan, PlanStep
from agent_core.planning import PlanLimits, request_plan
from agent_core.pricing import PriceTable
from agent_core.projections import RunState, fold, load_events, load_state
from agent_core.providers import Planner, make_planner, planner_choices
from agent_core.replay.diff import DEFAULT_COST_SHARE, RunDiff, diff_runs
from agent_core.replay.driver import Overrides, ReplayError, replay_orchestrator, replay_prices
from agent_core.replay.recording import load_recording
from agent_core.store import EventStore, StoredEvent
from agent_core.transfer import RawEvent
from agent_core.workspace import list_workspace

_OUTPUT_SHOWN = 300


@dataclass(frozen=True, slots=True)
class ForkResult:
    """The fork, where it stopped, and (once it stopped) its diff against the original from the fork point on."""

    original_id: str
    fork_id: str
    step_id: str
    inherited: int
    state: RunState
    diff: RunDiff | None

    def line(self) -> str:
        """One line for the terminal."""
        verdict = f"; {self.diff.verdict.upper()}: {'; '.join(self.diff.reasons)}" if self.diff else ""
        return (
            f"fork {self.fork_id} of {self.original_id} at {self.step_id} "
            f"({self.inherited} events inherited): {self.state.status}{verdict}"
        )


def prefix_events(events: Sequence[StoredEvent], plan: Plan, step_id: str) -> list[StoredEvent]:
    """What a fork at ``step_id`` inherits: the events after ``RunStarted`` up to the first of that step or a later one.

    Also stops at the end of the run (the final response, a terminal event, the budget) and at
    annotations: a fork inherits steps, never an outcome.
    """
    ids = [s.id for s in plan.steps]
    later = set(ids[ids.index(step_id) :])
    stop = ev.TERMINAL_TYPES | ev.ANNOTATION_TYPES | {"ResponseFinalized", "BudgetExceeded"}
    kept: list[StoredEvent] = []
    for stored in events[1:]:
        if stored.type in stop or stored.payload.get("step_id") in later:
            break
        kept.append(stored)
    return kept


def fork(
    store: EventStore,
    settings: Settings,
    run_id: str,
    step_id: str,
    *,
    input: dict[str, Any] | None = None,
    replan: bool = False,
    overrides: Overrides | None = None,
    on_append: OnAppend | None = None,
    prices: PriceTable | None = None,
    planner: Planner | None = None,
) -> ForkResult:
    """Fork ``run_id`` at ``step_id`` (see the module docstring) and drive the fork live until it stops or waits.

    ``overrides`` may change the provider, model, system prompt (they matter for ``replan`` and
    the LLM tools) and the policy file; ``tools`` is ignored (a fork is live). ``ReplayError``
    when the run has no plan or no such step.
    """
    overrides = overrides or Overrides()
    recording = load_recording(store, run_id)
    started = recording.started
    original = fold(recording.events)
    if original.plan is None:
        raise ReplayError(f"run {run_id!r} has no plan (status {original.status}); there is no step to fork from")
    ids = [s.id for s in original.plan.steps]
    if step_id not in ids:
        raise ReplayError(f"run {run_id!r} has no step {step_id!r}; fork at one of {', '.join(ids)}")
    if input is not None and replan:
        raise ReplayError("give either an edited input or --replan, not both (a new plan decides its own inputs)")
    prefix = prefix_events(recording.rows, original.plan, step_id)
    before = set(ids[: ids.index(step_id)])
    carried = {k: v for k, v in (original.forked_from.inputs if original.forked_from else {}).items() if k in before}
    edits = carried | ({step_id: dict(input)} if input is not None else {})
    point = ev.ForkPoint(run_id=run_id, step_id=step_id, inherited=len(prefix), inputs=edits, replan=replan)

    policy_path = overrides.policy_path or Path(started.policy_path or settings.agent_policy)
    info = started.planner
    provider = overrides.provider or info.provider
    model = overrides.model or (info.model if provider == info.provider else None)
    planner = planner or make_planner(settings, provider=provider, model=model)
    workspace = settings.agent_workspace.resolve()
    orchestrator = replay_orchestrator(store, settings, workspace, planner, policy_path)
    chosen = planner.provider if planner.provider in planner_choices(auto=False) else "offline"
    request = RunRequest(started.goal, started.max_steps, started.budget_usd, chosen, planner.model)
    recorded_overrides: dict[str, Any] = {}
    if overrides.provider:
        recorded_overrides["provider"] = overrides.provider
    if overrides.model:
        recorded_overrides["model"] = overrides.model
    if overrides.policy_path is not None:
        recorded_overrides["policy_path"] = str(overrides.policy_path)
    system_prompt = (
        overrides.system_prompt if overrides.system_prompt is not None else started.overrides.get("system_prompt")
    )
    fork_id = orchestrator.start(
        request,
        policy_path=policy_path,
        system_prompt=system_prompt,
        overrides=recorded_overrides,
        on_append=on_append,
        forked_from=point,
        inherited=[RawEvent(e.type, e.version, e.actor, e.payload) for e in prefix],
    )
    if replan:
        state = load_state(store, fork_id)
        _replan(store, state, planner, workspace, prices or replay_prices(), on_append, system_prompt)
    state = orchestrator.advance(fork_id, planner=planner, on_append=on_append)
    return ForkResult(
        run_id, fork_id, step_id, len(prefix), *record_fork_verdict(store, fork_id, state, recording.events)
    )


def record_fork_verdict(
    store: EventStore,
    fork_id: str,
    state: RunState,
    parent_events: Sequence[ev.RecordedEvent] | None = None,
) -> tuple[RunState, RunDiff | None]:
    """Append a stopped fork's verdict (``ReplayDiffed``) against the run it forked from; none while it waits.

    ``parent_events`` are the parent's events when the caller has just read them (``fork``).
    """
    if state.forked_from is None or not state.is_terminal:
        return state, None
    parent_id = state.forked_from.run_id
    parent = parent_events if parent_events is not None else load_events(store, parent_id)
    diff = diff_runs(parent, load_events(store, fork_id), cost_share=DEFAULT_COST_SHARE)
    writer = RunWriter(store, fork_id, state.last_seq, state=state)
    writer(ev.ReplayDiffed(original_run_id=parent_id, verdict=diff.verdict, reasons=list(diff.reasons)))
    return writer.caught_up(state), diff


# --- replan ------------------------------------------------------------------------------------


def _replan(
    store: EventStore,
    state: RunState,
    planner: Planner,
    workspace: Path,
    prices: PriceTable,
    on_append: OnAppend | None,
    system_prompt: str | None,
) -> None:
    """Ask the planner for the rest of the plan given what the inherited steps observed; write it merged."""
    assert state.plan is not None and state.forked_from is not None
    ids = [s.id for s in state.plan.steps]
    kept = state.plan.steps[: ids.index(state.forked_from.step_id)]
    seq = state.last_seq

    def emit(*events: ev.DomainEvent) -> None:
        nonlocal seq
        merged = [
            e.model_copy(update={"plan": _merged(kept, e.plan)}) if isinstance(e, ev.PlanGenerated) else e
            for e in events
        ]
        seq = store.append(state.run_id, merged, seq)
        if on_append:
            on_append(state.run_id, seq)

    outcome = request_plan(
        planner,
        _replan_goal(state, kept),
        PlanLimits(max_steps=max(1, state.max_steps - len(kept))),
        workspace_files=list_workspace(workspace),
        emit=emit,
        prices=prices,
        spent_usd=state.cost_usd,
        system_prompt=system_prompt,
    )
    if outcome.plan is None:
        emit(ev.RunFailed(reason=f"the fork could not replan: {outcome.reason}"))


def _replan_goal(state: RunState, kept: Sequence[PlanStep]) -> str:
    """The goal, then what the inherited steps did and observed: what the planner plans the rest from."""
    lines = [state.goal, "", "Steps already done (do not repeat them; plan only the remaining work):"]
    for step in kept:
        done = state.step(step.id)
        result = done.result if done else None
        if result is None:
            outcome = done.outcome if done else "not run"
        elif result.get("success"):
            outcome = "succeeded: " + " ".join(str(result.get("output", "")).split())[:_OUTPUT_SHOWN]
        else:
            outcome = f"failed: {result.get('error', '')}"
        lines.append(f"- {step.id} {step.tool} {json.dumps(step.input, sort_keys=True)[:200]} — {outcome}")
    return "\n".join(lines)


def _merged(kept: Sequence[PlanStep], new: Plan) -> Plan:
    """The inherited steps, then the new ones renumbered after them (their references to each other follow)."""
    used = {s.id for s in kept}
    renamed: dict[str, str] = {}
    number = len(kept)
    for step in new.steps:
        number += 1
        while f"step_{number}" in used:
            number += 1
        renamed[step.id] = f"step_{number}"
        used.add(renamed[step.id])
    steps = [
        *kept,
        *(s.model_copy(update={"id": renamed[s.id], "input": _renamed(s.input, renamed)}) for s in new.steps),
    ]
    return Plan(steps=steps, stop_conditions=new.stop_conditions)


def _renamed(value: Any, renamed: dict[str, str]) -> Any:
    if isinstance(value, str):
        return renamed.get(value, value)
    if isinstance(value, list):
        return [_renamed(v, renamed) for v in value]
    if isinstance(value, dict):
        return {k: _renamed(v, renamed) for k, v in value.items()}
    return value
