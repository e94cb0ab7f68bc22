"""Policy counterfactual: re-decide the recorded plans of recent runs under another policy; nothing runs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from agent_core import events as ev
from agent_core import tools as tool_impl
from agent_core.config import Settings
from agent_core.orchestrator import decide, prior_results
from agent_core.policy import Policy
from agent_core.projections import RunState, apply
from agent_core.replay.recording import Recording, load_recording, mirror_write, shadow_workspace
from agent_core.store import EventStore
from agent_core.tools.sandbox import database_path_from_url


@dataclass(frozen=True, slots=True)
class DecisionChange:
    """A recorded policy decision that another policy file would have made differently."""

    run_id: str
    step_id: str
    tool: str
    recorded: str  # approve | reject | hold
    recorded_rule: str
    would: str
    would_rule: str
    reason: str

    def line(self) -> str:
        """One line for the terminal: the step, what was decided then and what the other policy would decide."""
        return (
            f"{self.run_id[:12]}  {self.step_id:<8} {self.tool:<11} {self.recorded} ({self.recorded_rule}) -> "
            f"{self.would} ({self.would_rule}): {self.reason}"
        )


@dataclass(frozen=True, slots=True)
class CounterfactualReport:
    """What another policy file would have decided on recent runs: counts and the decisions that change."""

    policy_path: str
    runs: int
    decisions: int
    changes: tuple[DecisionChange, ...]


def policy_counterfactual(
    store: EventStore, settings: Settings, policy_path: Path, last_n: int = 20
) -> CounterfactualReport:
    """What ``policy_path`` would have decided on the recorded plans of the last ``last_n`` runs; nothing runs.

    Each recorded decision is re-evaluated on the step's input as resolved then, with the run's
    state at that moment (tool calls so far, spend) and the shadow workspace as the run saw it.
    """
    policy = Policy.load(policy_path)
    changes: list[DecisionChange] = []
    decisions = 0
    summaries = store.list_runs(limit=last_n)
    for row in summaries:
        recording = load_recording(store, row.run_id)
        found, changed = _counterfactual_run(recording, policy, settings)
        decisions += found
        changes.extend(changed)
    return CounterfactualReport(str(policy_path), len(summaries), decisions, tuple(changes))


def _counterfactual_run(recording: Recording, policy: Policy, settings: Settings) -> tuple[int, list[DecisionChange]]:
    changes: list[DecisionChange] = []
    found = 0
    database_path = database_path_from_url(settings.database_url)
    with shadow_workspace(recording) as shadow:
        state: RunState | None = None
        for recorded in recording.events:
            e = recorded.event
            outcome = ev.GUARD_DECISIONS.get(recorded.type)
            if (
                isinstance(e, ev.ToolApproved | ev.ToolRejected | ev.ApprovalRequested)
                and outcome
                and state
                and state.plan
            ):
                if e.rule == "resume_target_changed":
                    step = None
                else:
                    step = next((s for s in state.plan.steps if s.id == e.step_id), None)
                if step is not None:
                    found += 1
                    resolved = tool_impl.resolve_input(step, prior_results(state))
                    decision = decide(policy, state, step, resolved, shadow, database_path)
                    if decision.outcome != outcome or decision.rule != e.rule:
                        changes.append(
                            DecisionChange(
                                recording.run_id,
                                step.id,
                                step.tool,
                                outcome,
                                e.rule,
                                decision.outcome,
                                decision.rule,
                                decision.reason,
                            )
                        )
            if isinstance(e, ev.ObservationCaptured) and e.tool == "write_file" and e.success:
                call = next((c for c in recording.calls if c.step_id == e.step_id and c.result == e.result), None)
                if call is not None:
                    mirror_write(shadow, call)
            state = apply(state or RunState(run_id=recording.run_id), recorded)
    return found, changes
